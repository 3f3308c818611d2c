import type { Dispatcher } from 'undici'
import type { AuthDeps } from '../auth/deps.ts'
import { systemClock, type Clock } from '../clock.ts'
import { checkFormulas } from '../auth/formula-check.ts'
import { loggerFromEnv } from './env-logger.ts'
import { loadConfigFile } from '../definitions/config-file.ts'
import { CalloutError, isCalloutError } from '../errors.ts'
import {
  parseMasterKey,
  resolveHome,
  type CalloutEnv,
  type MasterKey,
} from '../secrets/master-key.ts'
import { openStore } from '../store/open-store.ts'
import type { Store } from '../store/types.ts'
import { createAuthGrants } from '../tokens/auth-grants.ts'
import { TokenManager, type TokenManagerOptions } from '../tokens/token-manager.ts'
import { silentLogger, type Logger, type TokenGrants } from '../tokens/types.ts'
import { createAuthenticators } from './auth-helpers.ts'
import { Broker } from './broker.ts'
import { Dispatchers } from './dispatchers.ts'
import type { AccessPolicy } from './steps/check-access.ts'

/**
 * Options for {@link openBroker}. Every one is optional; the defaults are the CLI's.
 *
 * @example
 * const broker = await openBroker({ home: '/srv/app/.callout', config: 'callout.yaml' })
 */
export interface OpenBrokerOptions {
  /** The Callout home. Default: `CALLOUT_HOME`, else `./.callout`. */
  readonly home?: string
  /**
   * An open {@link Store} (not closed by the broker), or a store URL (`sqlite:<path>`, `:memory:`,
   * `postgres://…`). Default: `CALLOUT_STORE`, else SQLite at `<home>/callout.db`.
   */
  readonly store?: Store | string
  /** The master key (or its base64 text). Default: `CALLOUT_MASTER_KEY`, else `<home>/master.key`. */
  readonly masterKey?: MasterKey | string
  readonly clock?: Clock
  /** A pino-compatible logger. Default: pino on stderr at `CALLOUT_LOG_LEVEL`, else silent. */
  readonly logger?: Logger
  /** A config file (YAML or JSON) to apply when opening. */
  readonly config?: string
  /** Environment for defaults and `${env:…}` references. Default `process.env`. */
  readonly env?: CalloutEnv
  /**
   * The origin of the setup console (`callout serve --public-url`), where connect links open
   * (`broker.connectUrl`). Default: `CALLOUT_CONSOLE_URL`.
   */
  readonly consoleUrl?: string
  /** Decides which client may use which credential (the proxy's client keys). Default: all. */
  readonly access?: AccessPolicy
  /** Token manager tuning (refresh margin, cooldown, lease, cache lifetime). */
  readonly tokens?: Pick<
    TokenManagerOptions,
    | 'refreshMarginMs'
    | 'cooldownMs'
    | 'lease'
    | 'holderId'
    | 'commitRetryMs'
    | 'rejectionRefresh'
    | 'cacheTtlMs'
  >
  /** Advanced: a dispatcher for all callouts instead of Callout's keep-alive agent. */
  readonly dispatcher?: Dispatcher
  /** Advanced: how tokens are obtained (default: over oauth4webapi). */
  readonly grants?: TokenGrants
  /** Advanced: dependencies of authorization-server requests (`fetch`, timeout). */
  readonly auth?: Omit<AuthDeps, 'clock' | 'logger'>
}

/**
 * Opens a broker: the store (migrated), the definitions, a token manager and connection pools.
 * With `config`, applies that file first (secrets from `${env:…}`/`${file:…}` references).
 *
 * @example
 * import { openBroker } from 'callout'
 * const broker = await openBroker()
 * const res = await broker.fetch('callout:Salesforce/services/data/v61.0/')
 * console.log(await res.json())
 * await broker.close()
 */
export async function openBroker(options: OpenBrokerOptions = {}): Promise<Broker> {
  const env = options.env ?? process.env
  const clock = options.clock ?? systemClock
  const logger = options.logger ?? loggerFromEnv(env) ?? silentLogger
  let store: Store
  let ownsStore: boolean
  if (typeof options.store === 'object') {
    store = options.store
    ownsStore = false
  } else {
    const home = options.home ?? resolveHome(env)
    const masterKey =
      typeof options.masterKey === 'string'
        ? parseMasterKey(options.masterKey, 'masterKey option')
        : options.masterKey
    store = await openStore({
      home,
      env,
      clock,
      ...(options.store === undefined ? {} : { url: options.store }),
      ...(masterKey === undefined ? {} : { masterKey }),
    })
    ownsStore = true
  }
  try {
    if (options.config !== undefined) {
      const defs = await loadConfigFile(options.config, { env })
      checkFormulas(defs)
      await store.applyDefinitions(defs)
    }
    const definitions = await store.loadDefinitions()
    const consoleUrl = options.consoleUrl ?? env.CALLOUT_CONSOLE_URL
    const authDeps: AuthDeps = {
      ...options.auth,
      clock,
      logger: { warn: (obj, msg) => logger.warn(obj, msg) },
    }
    const tokens = new TokenManager({
      store,
      grants: options.grants ?? createAuthGrants(authDeps),
      clock,
      logger,
      ...options.tokens,
    })
    return new Broker({
      store,
      ownsStore,
      definitions,
      tokens,
      authenticators: createAuthenticators({ clock }),
      dispatchers: new Dispatchers(
        options.dispatcher === undefined ? {} : { dispatcher: options.dispatcher },
      ),
      clock,
      logger,
      ...(options.access === undefined ? {} : { access: options.access }),
      ...(consoleUrl === undefined || consoleUrl === '' ? {} : { consoleUrl }),
    })
  } catch (error) {
    if (ownsStore) await store.close().catch(() => {})
    if (isCalloutError(error)) throw error
    throw new CalloutError('INTERNAL', 'Opening the broker failed unexpectedly.', { cause: error })
  }
}
