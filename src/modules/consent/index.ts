// The consent module's only door.
export { registerConsentCommands } from './consent.commands.js';
export { consentError } from './consent.errors.js';
export { consentRoutes } from './consent.routes.js';
export {
  type CheckOptions,
  type Consent,
  type ConsentCheck,
  type ConsentDeps,
  type ConsentMethod,
  type ConsentRecord,
  createConsent,
  type GivenBy,
  type GrantInput,
  GrantInputSchema,
  type ImportResult,
  type ImportRowResult,
  type Separate,
  type WithdrawalListener,
  type WithdrawInput,
} from './consent.service.js';
export { METHODS as CONSENT_METHODS } from './importcsv.js';
export { type Notice, type NoticeDeclarations, type NoticeInput, NoticeInputSchema } from './notice.js';
export {
  type ConsentReceipt,
  canonicalJson,
  RECEIPT_FORMAT,
  type SignedReceipt,
  verifyReceipt,
} from './receipt.js';
