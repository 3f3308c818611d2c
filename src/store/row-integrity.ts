/**
 * Integrity of the rows that decide where a secret goes and who may use it (DESIGN §6): each
 * definition row is tagged over its document and its secrets ciphertext, each credential row over
 * its `instance_url`, each client key row over its rules, rights, hash, expiry and revocation, all
 * bound to their table and row. The key ring computes the tags (HMAC under a subkey of a data key,
 * which only the master key unwraps); this file says what each tag covers and how a failure reads.
 */
import { CalloutError } from '../errors.ts'
import type { CredentialKey } from '../definitions/model.ts'
import type { RowMacInput } from '../secrets/row-mac.ts'
import type { DefinitionKind } from './schema.ts'

/** The columns of a definition row that its tag covers. */
export interface DefinitionRowContent {
  readonly name: string
  readonly definition: string
  readonly secrets: string | null
}

/** What the tag of a definition row covers: its table, name, document and secrets ciphertext. */
export function definitionMacInput(table: string, row: DefinitionRowContent): RowMacInput {
  return { table, row: row.name, values: [row.definition, row.secrets] }
}

/** What the tag of a credential row covers: its key and its `instance_url`. */
export function credentialMacInput(rowId: string, instanceUrl: string | null): RowMacInput {
  return { table: 'credentials', row: rowId, values: [instanceUrl] }
}

/** The columns of a client key row that its tag covers: all of them but the tag. */
export interface ClientKeyRowContent {
  readonly id: string
  readonly name: string
  readonly rules: string
  readonly any_user: number | string | bigint
  readonly key_hash: string
  readonly created_at: number | string | bigint
  readonly expires_at: number | string | bigint | null
  readonly revoked_at: number | string | bigint | null
}

/**
 * What the tag of a client key row covers: its id, name, rules, `any_user`, key hash, and its
 * creation, expiry and revocation times (numbers in decimal, whichever type the driver returns).
 */
export function clientKeyMacInput(row: ClientKeyRowContent): RowMacInput {
  const decimal = (value: number | string | bigint | null): string | null =>
    value === null ? null : String(value)
  return {
    table: 'client_keys',
    row: row.id,
    values: [
      row.name,
      row.rules,
      decimal(row.any_user),
      row.key_hash,
      decimal(row.created_at),
      decimal(row.expires_at),
      decimal(row.revoked_at),
    ],
  }
}

/**
 * `STORE_TAMPERED` for client key rows whose tags do not verify: someone changed their rules,
 * rights, hash, expiry or revocation (or inserted them) without the master key. `callout serve`
 * refuses them and forwards nothing.
 */
export function tamperedClientKeys(ids: readonly string[]): CalloutError {
  const list = ids.join(', ')
  const one = ids.length === 1
  return new CalloutError(
    'STORE_TAMPERED',
    `The stored client key${one ? '' : 's'} ${list} failed ${one ? 'its' : 'their'} integrity ` +
      'check: changed or inserted outside Callout (without the master key), so Callout refuses ' +
      `${one ? 'it' : 'them'} and forwards nothing. Check who can write the database, revoke ` +
      `${one ? 'it' : 'each'} with \`callout keys revoke <id>\`, and create a new key with ` +
      '`callout keys create --allow <rule>`.',
    { details: { keys: [...ids] } },
  )
}

/**
 * `STORE_TAMPERED` for a definition row whose tag does not verify: someone changed it without the
 * master key (or restored it from another store). Nothing is sent with it.
 */
export function tamperedDefinition(kind: DefinitionKind, name: string): CalloutError {
  return new CalloutError(
    'STORE_TAMPERED',
    `The stored ${kind} ${name} failed its integrity check: it was changed outside Callout ` +
      '(without the master key), so Callout refuses to use it and sends nothing. Check who can ' +
      'write the database, then re-apply your definitions with `callout apply -f <config file>`.',
    { details: { kind, name } },
  )
}

/**
 * `STORE_TAMPERED` for a credential row whose `instance_url` tag does not verify. Nothing is sent
 * with its tokens.
 */
export function tamperedCredential(key: CredentialKey, version: number): CalloutError {
  const who = key.userId === '' ? '' : ` for user ${key.userId}`
  return new CalloutError(
    'STORE_TAMPERED',
    `The stored credential of principal ${key.principal} of ExternalCredential ` +
      `${key.externalCredential}${who} failed its integrity check: its instance URL was changed ` +
      'outside Callout (without the master key), so Callout refuses to use it and sends nothing. ' +
      'Check who can write the database, then re-authenticate with `callout auth <NamedCredential>`.',
    {
      details: {
        externalCredential: key.externalCredential,
        principal: key.principal,
        userId: key.userId,
        version,
      },
    },
  )
}
