/**
 * The definitions repository: AuthProviders, ExternalCredentials and NamedCredentials, one table
 * per kind, each row holding the canonical JSON document, the encrypted secret fields (AAD: table,
 * `secrets`, name) and an integrity tag over both. Loaded rows are verified, decrypted and checked
 * against the URL rules again before anything uses them.
 */
import type { Kysely, Selectable } from 'kysely'
import { CalloutError } from '../errors.ts'
import { NAME_PATTERN } from '../definitions/model.ts'
import type {
  AuthProvider,
  Definitions,
  ExternalCredential,
  NamedCredential,
} from '../definitions/model.ts'
import { Secret } from '../secrets/secret.ts'
import { joinDefinition, splitDefinition } from './definition-codec.ts'
import type { RepositoryContext } from './repository-context.ts'
import { definitionMacInput, tamperedDefinition } from './row-integrity.ts'
import { DEFINITION_TABLES } from './schema.ts'
import type { Database, DefinitionKind, DefinitionTable } from './schema.ts'
import { MAX_KEY_LENGTH } from './store-validation.ts'
import { checkStoredDefinition } from './stored-definition-rules.ts'
import { insertAudit, type AuditRecord } from './admin.ts'
import type { ApplyResult } from './types.ts'

/** The name of a definition table (`auth_providers`, `external_credentials`, `named_credentials`). */
export type DefinitionTableName = (typeof DEFINITION_TABLES)[DefinitionKind]

type AnyDefinition = AuthProvider | ExternalCredential | NamedCredential
type DefinitionRow = Selectable<DefinitionTable>
type SplitDefinition = { readonly document: string; readonly secrets: string | undefined }

/** Every definition kind, in the order `apply` writes them (providers before their users). */
export const DEFINITION_KINDS: readonly DefinitionKind[] = Object.freeze([
  'authProvider',
  'externalCredential',
  'namedCredential',
])

const MAP_OF: Readonly<Record<DefinitionKind, keyof Definitions>> = {
  authProvider: 'authProviders',
  externalCredential: 'externalCredentials',
  namedCredential: 'namedCredentials',
}

/**
 * Reads and writes the three definition tables.
 *
 * @example
 * const definitions = new DefinitionsRepository(context)
 * const defs = await definitions.load()
 */
export class DefinitionsRepository {
  readonly #context: RepositoryContext

  constructor(context: RepositoryContext) {
    this.#context = context
  }

  /** Every definition, verified and decrypted (`STORE_TAMPERED` for a row changed without the key). */
  async load(): Promise<Definitions> {
    const { database, ensureKeys } = this.#context
    return this.#context.run('load definitions', async () => {
      const db = database.db
      const rows = await Promise.all(
        DEFINITION_KINDS.map((kind) =>
          db.selectFrom(DEFINITION_TABLES[kind]).selectAll().orderBy('name').execute(),
        ),
      )
      await ensureKeys(
        db,
        rows.flat().flatMap((row) => [row.secrets, row.mac]),
      )
      const [authProviders, externalCredentials, namedCredentials] = DEFINITION_KINDS.map(
        (kind, index) =>
          new Map((rows[index] ?? []).map((row) => [row.name, this.#decode(kind, row)])),
      ) as [
        Map<string, AuthProvider>,
        Map<string, ExternalCredential>,
        Map<string, NamedCredential>,
      ]
      return { authProviders, externalCredentials, namedCredentials }
    })
  }

  /**
   * Writes the given definitions in one transaction (all or nothing); unchanged rows are left
   * alone, a row failing its integrity check is rewritten. With `prune`, the rest is deleted.
   */
  async apply(
    defs: Definitions,
    options: { prune?: boolean; audit?: AuditRecord } = {},
  ): Promise<ApplyResult> {
    assertDefinitionMaps(defs)
    const prune = options.prune === true
    const { database, ensureKeys, clock } = this.#context
    return this.#context.run('apply definitions', () =>
      database.writeTransaction('callout.definitions', async (trx) => {
        const created: string[] = []
        const updated: string[] = []
        const unchanged: string[] = []
        const deleted: string[] = []
        const now = clock.now()
        for (const kind of DEFINITION_KINDS) {
          const table = DEFINITION_TABLES[kind]
          const existing = new Map(
            (await trx.selectFrom(table).selectAll().execute()).map((row) => [row.name, row]),
          )
          await ensureKeys(
            trx,
            [...existing.values()].flatMap((row) => [row.secrets, row.mac]),
          )
          const wanted = defs[MAP_OF[kind]] as ReadonlyMap<string, AnyDefinition>
          for (const [key, def] of wanted) {
            assertDefinition(kind, key, def)
            const split = splitDefinition(def, `${kind} ${def.name}`)
            const previous = existing.get(def.name)
            const label = `${kind}:${def.name}`
            if (previous !== undefined && this.#same(kind, previous, split)) {
              unchanged.push(label)
              continue
            }
            const values = this.#values(kind, def.name, split, now)
            if (previous === undefined) {
              await trx
                .insertInto(table)
                .values({ name: def.name, ...values })
                .execute()
              created.push(label)
            } else {
              await trx.updateTable(table).set(values).where('name', '=', def.name).execute()
              updated.push(label)
            }
          }
          if (prune) {
            for (const name of existing.keys()) {
              if (wanted.has(name)) continue
              await trx.deleteFrom(table).where('name', '=', name).execute()
              deleted.push(`${kind}:${name}`)
            }
          }
        }
        // The change's audit entry commits with it, or neither does.
        if (options.audit !== undefined) await insertAudit(trx, options.audit)
        return { created, updated, unchanged, deleted }
      }),
    )
  }

  /** Inserts or replaces one definition. */
  async put(kind: DefinitionKind, def: AnyDefinition): Promise<void> {
    assertDefinition(kind, undefined, def)
    const split = splitDefinition(def, `${kind} ${def.name}`)
    const { database, clock } = this.#context
    await this.#context.run(`store ${kind} ${def.name}`, async () => {
      const values = this.#values(kind, def.name, split, clock.now())
      await database.write((db) =>
        db
          .insertInto(DEFINITION_TABLES[kind])
          .values({ name: def.name, ...values })
          .onConflict((oc) => oc.column('name').doUpdateSet(values))
          .execute(),
      )
    })
  }

  /** Deletes one definition; false when there was none. */
  async delete(kind: DefinitionKind, name: string): Promise<boolean> {
    if (!Object.hasOwn(DEFINITION_TABLES, kind)) {
      throw new CalloutError(
        'INVALID_ARGUMENT',
        'The definition kind must be authProvider, externalCredential or namedCredential.',
      )
    }
    if (typeof name !== 'string')
      throw new CalloutError('INVALID_ARGUMENT', 'A definition name must be a string.')
    return this.#context.run('delete a definition', async () => {
      const result = await this.#context.database.write((db) =>
        db.deleteFrom(DEFINITION_TABLES[kind]).where('name', '=', name).executeTakeFirst(),
      )
      return result.numDeletedRows > 0n
    })
  }

  /** A cheap stamp that changes whenever definitions change (see {@link definitionsStamp}). */
  stamp(): Promise<string> {
    return this.#context.run('read the definitions stamp', () =>
      definitionsStamp(this.#context.database.db),
    )
  }

  /**
   * Tags every definition row, in the caller's transaction: for rows written before integrity
   * tags existed (migration 0002).
   */
  async signAll(trx: Kysely<Database>): Promise<void> {
    for (const kind of DEFINITION_KINDS) {
      const table = DEFINITION_TABLES[kind]
      const rows = await trx.selectFrom(table).select(['name', 'definition', 'secrets']).execute()
      for (const row of rows) {
        const mac = this.#context.ring.sign(definitionMacInput(table, row))
        await trx.updateTable(table).set({ mac }).where('name', '=', row.name).execute()
      }
    }
  }

  #decryptSecrets(kind: DefinitionKind, row: DefinitionRow): Secret | undefined {
    if (row.secrets === null) return undefined
    return this.#context.ring.decrypt(row.secrets, {
      table: DEFINITION_TABLES[kind],
      column: 'secrets',
      row: row.name,
    })
  }

  /** The stored columns of a definition: document, encrypted secrets and their integrity tag. */
  #values(
    kind: DefinitionKind,
    name: string,
    split: SplitDefinition,
    now: number,
  ): { definition: string; secrets: string | null; mac: string; updated_at: number } {
    const { ring } = this.#context
    const table = DEFINITION_TABLES[kind]
    const secrets =
      split.secrets === undefined
        ? null
        : ring.encrypt(split.secrets, { table, column: 'secrets', row: name })
    const mac = ring.sign(definitionMacInput(table, { name, definition: split.document, secrets }))
    return { definition: split.document, secrets, mac, updated_at: now }
  }

  #same(kind: DefinitionKind, previous: DefinitionRow, split: SplitDefinition): boolean {
    if (previous.definition !== split.document) return false
    // A row that fails its integrity check is rewritten (re-applying heals it).
    const input = definitionMacInput(DEFINITION_TABLES[kind], previous)
    if (!this.#context.ring.verify(previous.mac, input)) return false
    const stored = this.#decryptSecrets(kind, previous)
    if (stored === undefined || split.secrets === undefined) return stored === split.secrets
    return stored.equals(new Secret(split.secrets))
  }

  #decode(kind: DefinitionKind, row: DefinitionRow): AnyDefinition {
    if (!this.#context.ring.verify(row.mac, definitionMacInput(DEFINITION_TABLES[kind], row))) {
      throw tamperedDefinition(kind, row.name)
    }
    const def = joinDefinition<AnyDefinition>(
      row.definition,
      this.#decryptSecrets(kind, row),
      `${kind} ${row.name}`,
    )
    if (def.name !== row.name) {
      throw new CalloutError(
        'STORE_ERROR',
        `The stored ${kind} ${row.name} is malformed (its name does not match its row); re-apply it.`,
      )
    }
    checkStoredDefinition(kind, def)
    return def
  }
}

/**
 * A cheap stamp of the definitions: row count and latest `updated_at` of each definition table.
 * It changes whenever `apply` (from any process) writes or deletes a definition, so a long-running
 * `callout serve` can poll it and reload.
 *
 * @example
 * const before = await definitionsStamp(db)
 */
export async function definitionsStamp(db: Kysely<Database>): Promise<string> {
  const parts: string[] = []
  for (const kind of DEFINITION_KINDS) {
    const row = await db
      .selectFrom(DEFINITION_TABLES[kind])
      .select((eb) => [eb.fn.countAll().as('n'), eb.fn.max('updated_at').as('latest')])
      .executeTakeFirst()
    parts.push(`${String(row?.n ?? 0)}@${String(row?.latest ?? 0)}`)
  }
  return parts.join(',')
}

function assertDefinitionMaps(defs: Definitions): void {
  for (const kind of DEFINITION_KINDS) {
    const map: unknown = (defs as unknown as Record<string, unknown> | null)?.[MAP_OF[kind]]
    if (!(map instanceof Map)) {
      throw new CalloutError('CONFIG_INVALID', `Definitions must have a ${MAP_OF[kind]} Map.`)
    }
  }
}

function assertDefinition(
  kind: DefinitionKind,
  key: string | undefined,
  def: unknown,
): asserts def is AnyDefinition {
  const name =
    typeof def === 'object' && def !== null ? (def as { name?: unknown }).name : undefined
  if (typeof name !== 'string' || !NAME_PATTERN.test(name) || name.length > MAX_KEY_LENGTH) {
    throw new CalloutError(
      'CONFIG_INVALID',
      `A ${kind} has an invalid name: names match [A-Za-z][A-Za-z0-9_]* (at most ${MAX_KEY_LENGTH} characters).`,
      { details: { kind } },
    )
  }
  if (key !== undefined && key !== name) {
    throw new CalloutError(
      'CONFIG_INVALID',
      `The ${kind} ${name} is filed under another name; key the map by name.`,
      {
        details: { kind, name },
      },
    )
  }
}
