/**
 * The real store for tests of the token manager and the callout pipeline: SQLite on `:memory:`,
 * migrated, encrypted under a fresh master key, on the test's clock. Closed when the test ends.
 */
import { onTestFinished } from 'vitest'
import type { Clock } from '../../src/clock.ts'
import type {
  CredentialKey,
  Definitions,
  PrincipalCredential,
} from '../../src/definitions/model.ts'
import { MasterKey } from '../../src/secrets/master-key.ts'
import type { KyselyStore } from '../../src/store/kysely-store.ts'
import { openStore } from '../../src/store/open-store.ts'

/** Options for {@link openMemoryStore}. */
export interface MemoryStoreOptions {
  /** Definitions applied after opening. */
  readonly definitions?: Definitions
  /** The store's clock (default: the system clock). */
  readonly clock?: Clock
}

/**
 * Opens SQLite `:memory:` through `openStore`, applies `definitions`, and closes it when the
 * current test finishes. Call it inside a test (or a helper a test calls).
 */
export async function openMemoryStore(options: MemoryStoreOptions = {}): Promise<KyselyStore> {
  const store = await openStore({
    url: ':memory:',
    home: '/nonexistent-callout-home',
    masterKey: MasterKey.generate(),
    env: {},
    ...(options.clock === undefined ? {} : { clock: options.clock }),
  })
  onTestFinished(() => store.close())
  if (options.definitions !== undefined) await store.applyDefinitions(options.definitions)
  return store
}

/** The default key of the fixtures' single principal (`Api/Default`, no user). */
export const DEFAULT_KEY: CredentialKey = {
  externalCredential: 'Api',
  principal: 'Default',
  userId: '',
}

/** The stored credential for `key` (default {@link DEFAULT_KEY}); fails the test when absent. */
export async function storedCredential(
  store: KyselyStore,
  key: CredentialKey = DEFAULT_KEY,
): Promise<PrincipalCredential> {
  const credential = await store.getCredential(key)
  if (credential === undefined) throw new Error(`no credential stored for ${JSON.stringify(key)}`)
  return credential
}
