/**
 * Keeps one `callout serve` instance in step with the others on the same store: definitions are
 * reloaded as soon as the store's change channel says they changed (PostgreSQL LISTEN/NOTIFY), a
 * revoked client key is forgotten at once, and after the channel reconnects everything cached is
 * re-read (notifications sent meanwhile are lost). The channel's first connection reloads only
 * when the definitions changed since the instance read them: what it cached in the moment before
 * (keys it verified, tokens it read) is as fresh as anything re-read would be, and it is what the
 * instance falls back on if the store then stops answering. The poll of the definitions stamp stays as the
 * bounded fallback: it is what SQLite stores use, and it covers a notification missed anyway.
 */
import type { StoreEvent, StoreNotifications } from '../store/notifications.ts'

/** What {@link followStore} drives. */
export interface FollowTarget {
  /** Re-reads the definitions and forgets cached tokens and client keys. */
  reload(): Promise<void>
  /** Forgets one cached client key (or all). */
  forgetClientKey(id?: string): void
}

/** What {@link followStore} reads. */
export interface FollowSource {
  readonly notifications?: StoreNotifications
  definitionsStamp(): Promise<string>
}

/** Options for {@link followStore}. */
export interface FollowOptions {
  /** How often to compare the definitions stamp (0: never). */
  readonly reloadIntervalMs: number
  /** Called after each reload (or failed reload) with why it ran. */
  readonly onReload?: (why: string, error?: unknown) => void
}

/**
 * Starts following the store; returns a function that stops. Reloads never overlap: a change
 * that arrives during a reload runs one more reload after it.
 *
 * @example
 * const stop = followStore(server, store, { reloadIntervalMs: 2_000 })
 */
export function followStore(
  target: FollowTarget,
  source: FollowSource,
  options: FollowOptions,
): { stop(): void; reload(why: string): Promise<void> } {
  let stamp: string | undefined
  let running: Promise<void> | undefined
  let again: string | undefined
  let stopped = false

  const reload = (why: string): Promise<void> => {
    if (running !== undefined) {
      again = why
      return running
    }
    running = (async () => {
      let next: string | undefined = why
      while (next !== undefined && !stopped) {
        const reason: string = next
        again = undefined
        try {
          // The stamp is read first: a change landing during the reload is seen by the next poll.
          const before = await source.definitionsStamp()
          await target.reload()
          stamp = before
          options.onReload?.(reason)
        } catch (error) {
          options.onReload?.(reason, error)
        }
        next = again
      }
    })().finally(() => (running = undefined))
    return running
  }

  // A channel not yet live when following starts announces its first connection with `resync` too.
  let connected = source.notifications?.state === 'live'
  const onEvent = (event: StoreEvent): void => {
    if (event.kind === 'definitions') void reload('definitions changed (notified)')
    else if (event.kind === 'client-key') target.forgetClientKey(event.id)
    else if (event.kind === 'resync') {
      const first = !connected
      connected = true
      if (stamp === undefined) return
      if (!first) {
        void reload('store channel reconnected')
        return
      }
      const before = stamp
      void source.definitionsStamp().then(
        (now) =>
          now !== before ? reload('definitions changed (store channel connected)') : undefined,
        () => undefined,
      )
    }
  }
  const unsubscribe = source.notifications?.subscribe(onEvent) ?? (() => undefined)

  void source.definitionsStamp().then(
    (now) => (stamp ??= now),
    () => undefined,
  )
  const poll =
    options.reloadIntervalMs === 0
      ? undefined
      : setInterval(() => {
          if (running !== undefined) return
          void source.definitionsStamp().then(
            (now) => (now !== stamp ? reload('definitions changed') : undefined),
            () => undefined,
          )
        }, options.reloadIntervalMs)
  poll?.unref()

  return {
    reload,
    stop(): void {
      stopped = true
      unsubscribe()
      if (poll !== undefined) clearInterval(poll)
    },
  }
}
