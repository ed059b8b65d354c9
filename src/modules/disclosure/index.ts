// The disclosure module's only door: recipients, consent-gated disclosures, canaries, deletion notices.
export {
  type Canaries,
  type Canary,
  type CanaryConfig,
  type CanaryDeps,
  type CanaryVault,
  createCanaries,
  type TripChannel,
  type TripInput,
  type TripResult,
} from './canary.service.js';
export { normaliseContact, normaliseEmail, normaliseMobile } from './contact.js';
export { fileSender, verifyDeletionNotice, webhookSender } from './deletion.js';
export { readSubjectsFile, registerDisclosureCommands } from './disclosure.commands.js';
export { canaryError, disclosureError } from './disclosure.errors.js';
export { type DisclosureRoutesDeps, disclosureRoutes } from './disclosure.routes.js';
export {
  createDisclosure,
  type Delivery,
  type Disclosure,
  type DisclosureDeps,
  type DisclosureReader,
  type DisclosureRequest,
  DisclosureRequestSchema,
  type DisclosureResult,
  type DisclosureService,
  MAX_DISCLOSURE_SUBJECTS,
  type Releaser,
} from './disclosure.service.js';
export { type ExportFormat, placeCanaries } from './exportfile.js';
export {
  DELETION_FORMAT,
  type DeletionNotice,
  type DeletionNoticeSender,
  type OutgoingDeletionNotice,
} from './notices.service.js';
export {
  DEFAULT_TRANSFER_CAPS,
  type Recipient,
  type RecipientInput,
  type RecipientPatch,
  TRANSFER_MECHANISMS,
  type TransferMechanism,
} from './recipients.js';
export { recipientsActingAs } from './recipients.service.js';
