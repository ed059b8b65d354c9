// The only door to cryptographic primitives (DESIGN: only src/lib/crypto touches them).
export { open, seal } from './aead.js';
export { API_KEY_PREFIX, apiKeyId, apiKeyMatches, hashApiKey, type NewApiKey, newApiKey } from './apikey.js';
export {
  blindIndexer,
  bulkRandomBytes,
  DATA_KEY_VERSION,
  deriveKey,
  newDataKey,
  openField,
  sealField,
  sealNewSubject,
  unwrapDataKey,
  type WrappedKey,
  wrapDataKey,
} from './envelope.js';
export {
  addKekVersion,
  generateKeyFile,
  KEY_FILE_MODE_OVERRIDE_ENV,
  type KeyFile,
  KeyFileError,
  type Keyring,
  keyFileExists,
  keyFileMode,
  keyringFromFile,
  loadKeyring,
  readKeyFile,
  writeKeyFile,
} from './keyring.js';
export { hmacSha256, randomDigits, safeEqual } from './otp.js';
export { secureFloat, secureInt } from './random.js';
export {
  createSha256,
  ed25519PublicKeyFromRaw,
  ed25519Sign,
  ed25519Verify,
  sha256,
  sha256Digest,
} from './sign.js';
export { hashToken, type NewToken, newToken, randomToken, tokenMatches } from './token.js';
