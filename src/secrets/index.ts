/**
 * Secrets: the {@link Secret} wrapper, the master key, envelope encryption and the key ring.
 */
export { Secret } from './secret.ts'
export {
  KEY_BYTES,
  MASTER_KEY_FILE,
  MasterKey,
  createMasterKeyFile,
  writeMasterKeyFile,
  loadMasterKey,
  masterKeyFingerprint,
  parseMasterKey,
  resolveHome,
} from './master-key.ts'
export type { CalloutEnv } from './master-key.ts'
export {
  ENVELOPE_VERSION,
  dataKeyAadBytes,
  open as openEnvelope,
  parseEnvelope,
  seal as sealEnvelope,
  secretAadBytes,
} from './envelope.ts'
export type { Envelope, SecretAad } from './envelope.ts'
export { KeyRing, newDataKeyId, unwrapDataKey, wrapDataKey, wrongMasterKey } from './key-ring.ts'
export type { DataKeyRecord, SecretCipher } from './key-ring.ts'
