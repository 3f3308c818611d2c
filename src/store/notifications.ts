/**
 * Store notifications: how several Callout instances on one PostgreSQL learn at once that another
 * one changed what they cache. Triggers (migration 0004) send a notification on the store's
 * channel when definitions change, when a credential is written (refreshed, re-authenticated,
 * marked `needs-reauth`), when a client key is revoked or deleted, and when a refresh lease is
 * released; every instance listens on one dedicated connection (LISTEN), which reconnects with
 * backoff when it is lost. After every (re)connection listeners receive `resync`: notifications
 * sent while nobody listened are lost, so whatever was cached must be re-read.
 *
 * SQLite has no notifications: {@link noNotifications} never delivers anything, and instances
 * fall back to their bounded cache lifetimes and polls.
 */
import pg from 'pg'
import type { CredentialKey } from '../definitions/model.ts'
import { redactStoreUrlsIn } from './postgres.ts'

/** What another writer changed, as the channel reports it. Payloads never carry secrets. */
export type StoreEvent =
  /** A definition was created, updated or deleted. */
  | { readonly kind: 'definitions' }
  /** A credential was written: its new `version` and `status` (or deleted: `version` 0). */
  | {
      readonly kind: 'credential'
      readonly key: CredentialKey
      readonly version: number
      readonly status: string
    }
  /** A client key was revoked, changed or deleted. */
  | { readonly kind: 'client-key'; readonly id: string }
  /** A lease was released (its holder finished). */
  | { readonly kind: 'lease-released'; readonly name: string }
  /** The channel (re)connected: anything may have changed meanwhile; re-read what is cached. */
  | { readonly kind: 'resync' }

/** How the channel is doing. */
export type NotificationState = 'unsupported' | 'idle' | 'connecting' | 'live' | 'closed'

/**
 * The store's change channel. Subscribing starts listening (one connection per store, however
 * many subscribers); the last unsubscribe stops it.
 *
 * @example
 * const stop = store.notifications.subscribe((event) => {
 *   if (event.kind === 'definitions' || event.kind === 'resync') void broker.reload()
 * })
 */
export interface StoreNotifications {
  readonly state: NotificationState
  /** The reason the channel is not live (the last connection error), for `/readyz` and logs. */
  readonly lastError: string | undefined
  /** Adds a listener; returns a function that removes it. */
  subscribe(listener: (event: StoreEvent) => void): () => void
  /** Stops listening for good. */
  close(): Promise<void>
}

/** The channel of a schema: PostgreSQL truncates identifiers to 63 bytes; so do the triggers. */
export const CHANNEL_SQL = `left('callout.' || current_schema(), 63)`

/** Reconnection backoff and liveness check of the listening connection. */
export const NOTIFICATION_DEFAULTS = Object.freeze({
  firstRetryMs: 100,
  maxRetryMs: 5_000,
  /** A query on the listening connection this often; a failure or a silence of `heartbeatMs` reconnects. */
  heartbeatMs: 10_000,
})

/** The no-op channel of SQLite (and of stores that cannot notify). */
export const noNotifications: StoreNotifications = Object.freeze({
  state: 'unsupported' as const,
  lastError: undefined,
  subscribe: () => () => undefined,
  close: async () => undefined,
})

/**
 * Parses one notification payload. Anything malformed (a stray `NOTIFY` by another program on the
 * channel) is `undefined` and ignored.
 *
 * @example
 * parseStoreEvent('{"t":"definitions"}') // { kind: 'definitions' }
 */
export function parseStoreEvent(payload: string | undefined): StoreEvent | undefined {
  if (payload === undefined || payload.length > 8000) return undefined
  let value: unknown
  try {
    value = JSON.parse(payload)
  } catch {
    return undefined
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined
  const v = value as Record<string, unknown>
  const text = (x: unknown): x is string => typeof x === 'string' && x.length <= 255
  switch (v.t) {
    case 'definitions':
      return { kind: 'definitions' }
    case 'credential':
      if (!text(v.ec) || !text(v.p) || !text(v.u) || !text(v.s)) return undefined
      if (typeof v.v !== 'number' || !Number.isSafeInteger(v.v) || v.v < 0) return undefined
      return {
        kind: 'credential',
        key: { externalCredential: v.ec, principal: v.p, userId: v.u },
        version: v.v,
        status: v.s,
      }
    case 'client-key':
      return text(v.id) ? { kind: 'client-key', id: v.id } : undefined
    case 'lease':
      return text(v.name) ? { kind: 'lease-released', name: v.name } : undefined
    default:
      return undefined
  }
}

/** Options for {@link PostgresNotifications}. */
export interface PostgresNotificationOptions {
  /** The store URL (password included: this is a connection). */
  readonly url: string
  readonly schema?: string
  readonly firstRetryMs?: number
  readonly maxRetryMs?: number
  readonly heartbeatMs?: number
}

/**
 * LISTEN on a dedicated `pg.Client`, reconnecting with exponential backoff (jittered) when the
 * connection is lost, and announcing `resync` after every successful LISTEN.
 *
 * @example
 * const notifications = new PostgresNotifications({ url, schema: 'callout' })
 * const stop = notifications.subscribe(console.log)
 */
export class PostgresNotifications implements StoreNotifications {
  readonly #options: Required<Omit<PostgresNotificationOptions, 'schema'>> & { schema?: string }
  readonly #listeners = new Set<(event: StoreEvent) => void>()
  #state: NotificationState = 'idle'
  #lastError: string | undefined
  #client: pg.Client | undefined
  #retryMs: number
  #timer: NodeJS.Timeout | undefined
  #heartbeat: NodeJS.Timeout | undefined
  /** Bumped on every (re)connection attempt and on stop: late callbacks of older attempts are ignored. */
  #generation = 0

  constructor(options: PostgresNotificationOptions) {
    this.#options = {
      firstRetryMs: options.firstRetryMs ?? NOTIFICATION_DEFAULTS.firstRetryMs,
      maxRetryMs: options.maxRetryMs ?? NOTIFICATION_DEFAULTS.maxRetryMs,
      heartbeatMs: options.heartbeatMs ?? NOTIFICATION_DEFAULTS.heartbeatMs,
      url: options.url,
      ...(options.schema === undefined ? {} : { schema: options.schema }),
    }
    this.#retryMs = this.#options.firstRetryMs
  }

  get state(): NotificationState {
    return this.#state
  }

  get lastError(): string | undefined {
    return this.#lastError
  }

  subscribe(listener: (event: StoreEvent) => void): () => void {
    if (this.#state === 'closed') return () => undefined
    this.#listeners.add(listener)
    if (this.#state === 'idle') this.#connect()
    return () => {
      this.#listeners.delete(listener)
      if (this.#listeners.size === 0 && this.#state !== 'closed') void this.#stop('idle')
    }
  }

  async close(): Promise<void> {
    this.#listeners.clear()
    await this.#stop('closed')
  }

  #emit(event: StoreEvent): void {
    for (const listener of [...this.#listeners]) {
      try {
        listener(event)
      } catch {
        // A listener's failure is its own; the others still hear the event.
      }
    }
  }

  #connect(): void {
    const generation = ++this.#generation
    this.#state = 'connecting'
    const client = new pg.Client({
      connectionString: this.#options.url,
      keepAlive: true,
      connectionTimeoutMillis: 5_000,
      ...(this.#options.schema === undefined
        ? {}
        : { options: `-c search_path=${this.#options.schema}` }),
    })
    this.#client = client
    const lost = (error: unknown): void => {
      if (generation !== this.#generation) return
      this.#lastError = describe(error)
      this.#drop(client)
      this.#scheduleReconnect()
    }
    client.on('error', lost)
    client.on('end', () => lost(new Error('the listening connection ended')))
    client.on('notification', (message) => {
      if (generation !== this.#generation) return
      const event = parseStoreEvent(message.payload)
      if (event !== undefined) this.#emit(event)
    })
    void (async () => {
      await client.connect()
      const row = await client.query<{ channel: string }>(`select ${CHANNEL_SQL} as channel`)
      const channel = row.rows[0]?.channel ?? 'callout.public'
      await client.query(`listen "${channel.replaceAll('"', '""')}"`)
    })().then(
      () => {
        if (generation !== this.#generation) return
        this.#state = 'live'
        this.#lastError = undefined
        this.#retryMs = this.#options.firstRetryMs
        this.#startHeartbeat(client, generation)
        this.#emit({ kind: 'resync' })
      },
      (error: unknown) => lost(error),
    )
  }

  #startHeartbeat(client: pg.Client, generation: number): void {
    clearInterval(this.#heartbeat)
    this.#heartbeat = setInterval(() => {
      const silence = setTimeout(() => {
        if (generation !== this.#generation) return
        this.#lastError = 'the listening connection stopped answering'
        this.#drop(client)
        this.#scheduleReconnect()
      }, this.#options.heartbeatMs)
      silence.unref()
      client.query('select 1').then(
        () => clearTimeout(silence),
        () => clearTimeout(silence), // 'error' or 'end' reconnects
      )
    }, this.#options.heartbeatMs)
    this.#heartbeat.unref()
  }

  #drop(client: pg.Client): void {
    clearInterval(this.#heartbeat)
    this.#heartbeat = undefined
    if (this.#client === client) this.#client = undefined
    client.removeAllListeners('notification')
    client.on('error', () => undefined)
    void client.end().catch(() => undefined)
  }

  #scheduleReconnect(): void {
    if (this.#state === 'closed' || this.#state === 'idle') return
    this.#state = 'connecting'
    const delay = Math.round(this.#retryMs * (0.5 + Math.random() / 2))
    this.#retryMs = Math.min(this.#retryMs * 2, this.#options.maxRetryMs)
    clearTimeout(this.#timer)
    this.#timer = setTimeout(() => this.#connect(), delay)
    this.#timer.unref()
  }

  async #stop(next: 'idle' | 'closed'): Promise<void> {
    this.#generation++
    this.#state = next
    clearTimeout(this.#timer)
    clearInterval(this.#heartbeat)
    const client = this.#client
    this.#client = undefined
    if (client !== undefined) {
      client.removeAllListeners('notification')
      client.on('error', () => undefined)
      await client.end().catch(() => undefined)
    }
  }
}

/** A connection error as text for `/readyz` and logs: code and message, never a URL's password. */
function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error)
  const code = (error as { code?: unknown }).code
  return redactStoreUrlsIn(`${typeof code === 'string' ? `${code}: ` : ''}${error.message}`)
}
