import { createHash } from 'node:crypto'
import { rootCertificates } from 'node:tls'
import { Agent, buildConnector, Client, type Dispatcher } from 'undici'
import type { NamedCredential } from '../definitions/model.ts'
import { registerFreshConnections, watchReuse } from './steps/reset-retry.ts'

/** Options for the shared keep-alive agent. */
export interface DispatcherOptions {
  /** Idle keep-alive sockets close after this long. Default 4 s (undici's default). */
  readonly keepAliveTimeoutMs?: number
  /** Connect timeout. Default 10 s. */
  readonly connectTimeoutMs?: number
  /** A dispatcher to use instead of the shared agent (tests, proxies). Not closed by us. */
  readonly dispatcher?: Dispatcher
}

/**
 * The undici dispatchers callouts go through: one shared keep-alive `Agent` (it pools per
 * origin), and one `Agent` per Named Credential with a client certificate (mTLS), cached by the
 * certificate's fingerprint so that a changed certificate gets a new pool.
 *
 * @example
 * const dispatchers = new Dispatchers()
 * await dispatchers.for(nc).request({ origin, path: '/', method: 'GET' })
 * await dispatchers.close()
 */
export class Dispatchers {
  readonly #shared: Dispatcher
  readonly #ownsShared: boolean
  readonly #mtls = new Map<string, { fingerprint: string; agent: Agent }>()
  readonly #options: DispatcherOptions

  constructor(options: DispatcherOptions = {}) {
    this.#options = options
    this.#ownsShared = options.dispatcher === undefined
    this.#shared = options.dispatcher ?? this.#agent()
  }

  /**
   * An agent whose connector marks failures of reused connections (`watchReuse`, once per
   * connection) and that can open a one-off fresh connection for the retry after such a failure.
   */
  #agent(tls: buildConnector.BuildOptions = {}): Agent {
    const base = buildConnector({ timeout: this.#options.connectTimeoutMs ?? 10_000, ...tls })
    const connect: buildConnector.connector = (options, done) =>
      base(options, (error, socket) => {
        // On failure the connector calls back with the error alone (no socket argument).
        if (socket !== null && socket !== undefined) watchReuse(socket)
        done(error as Error, socket as never)
      })
    const agent = new Agent({
      keepAliveTimeout: this.#options.keepAliveTimeoutMs ?? 4_000,
      connect,
    })
    registerFreshConnections(agent, (origin) => new Client(origin, { connect, pipelining: 1 }))
    return agent
  }

  /** The dispatcher for a callout through `nc` (or the shared one for plain URLs). */
  for(nc: NamedCredential | undefined): Dispatcher {
    const cert = nc?.clientCertificate
    if (nc === undefined || cert === undefined) return this.#shared
    const fingerprint = createHash('sha256')
      .update(cert.cert)
      .update('\0')
      .update(cert.key.reveal())
      .update('\0')
      .update(cert.ca ?? '')
      .digest('hex')
    const cached = this.#mtls.get(nc.name)
    if (cached?.fingerprint === fingerprint) return cached.agent
    if (cached !== undefined) void cached.agent.close().catch(() => {})
    const agent = this.#agent({
      cert: cert.cert,
      key: cert.key.reveal(),
      ...(cert.passphrase === undefined ? {} : { passphrase: cert.passphrase.reveal() }),
      ...(cert.ca === undefined ? {} : { ca: [...rootCertificates, cert.ca] }),
    })
    this.#mtls.set(nc.name, { fingerprint, agent })
    return agent
  }

  /** Closes mTLS agents of credentials that no longer exist (after definitions change). */
  prune(existing: ReadonlySet<string>): void {
    for (const [name, entry] of this.#mtls) {
      if (!existing.has(name)) {
        this.#mtls.delete(name)
        void entry.agent.close().catch(() => {})
      }
    }
  }

  /** Closes every agent this instance created. */
  async close(): Promise<void> {
    const agents = [...this.#mtls.values()].map((e) => e.agent.close())
    this.#mtls.clear()
    if (this.#ownsShared) agents.push(this.#shared.close())
    await Promise.allSettled(agents)
  }
}
