/**
 * What the integrity tag of a raw row covers, for every table whose rows carry one (`mac`), read
 * from a row as the driver returns it. Master key rotation and store copies handle rows of every
 * table generically; this is their one map from a table to its tag input.
 */
import type { RowMacInput } from '../secrets/row-mac.ts'
import { credentialRowId } from './credentials-repository.ts'
import { clientKeyMacInput, credentialMacInput, definitionMacInput } from './row-integrity.ts'
import type { ClientKeyRowContent } from './row-integrity.ts'
import type { Database } from './schema.ts'

/** A row as the driver returns it. */
export type RawRow = Record<string, unknown>

const text = (value: unknown): string | null => (typeof value === 'string' ? value : null)

/** The row id a raw credential row's secrets and tag are bound to. */
export function credentialRowIdOf(row: RawRow): string {
  return credentialRowId({
    externalCredential: String(row['external_credential']),
    principal: String(row['principal']),
    userId: String(row['user_id']),
  })
}

const definitionInput =
  (table: 'auth_providers' | 'external_credentials' | 'named_credentials') =>
  (row: RawRow): RowMacInput =>
    definitionMacInput(table, {
      name: String(row['name']),
      definition: String(row['definition']),
      secrets: text(row['secrets']),
    })

/** The tables whose rows carry an integrity tag. */
export type TaggedTable =
  'auth_providers' | 'external_credentials' | 'named_credentials' | 'credentials' | 'client_keys'

/** The tag input of a raw row, by table. */
export const TAG_INPUTS: Readonly<Record<TaggedTable, (row: RawRow) => RowMacInput>> =
  Object.freeze({
    auth_providers: definitionInput('auth_providers'),
    external_credentials: definitionInput('external_credentials'),
    named_credentials: definitionInput('named_credentials'),
    credentials: (row: RawRow) =>
      credentialMacInput(credentialRowIdOf(row), text(row['instance_url'])),
    client_keys: (row: RawRow) => clientKeyMacInput(row as unknown as ClientKeyRowContent),
  })

/** The tag input of a raw row of `table`, or undefined when its rows carry no tag. */
export function tagInputOf(table: keyof Database): ((row: RawRow) => RowMacInput) | undefined {
  return Object.hasOwn(TAG_INPUTS, table) ? TAG_INPUTS[table as TaggedTable] : undefined
}
