import { fork, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type {
  UpstreamCommand,
  UpstreamReady,
  UpstreamReply,
  UpstreamStats,
} from './upstream-protocol.ts'

/** The parent's handle on the upstream child process (see `upstream.ts`). */
export interface Upstream {
  readonly origin: string
  stats(): Promise<UpstreamStats>
  reset(): Promise<void>
  /** The current token stops being accepted; the next `/token` issues a new one. */
  revoke(): Promise<void>
  /** The token the upstream accepts now (`null` after a revoke). */
  current(): Promise<string | null>
  close(): Promise<void>
}

type CommandType = UpstreamCommand['type']

/**
 * Forks `upstream.ts` (with tsx, as the bench itself runs) and waits until it listens.
 *
 * @example
 * const upstream = await startUpstream()
 * console.log((await upstream.stats()).tokenRequests)
 * await upstream.close()
 */
export async function startUpstream(options: { tokenDelayMs?: number } = {}): Promise<Upstream> {
  const child: ChildProcess = fork(fileURLToPath(new URL('./upstream.ts', import.meta.url)), [], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, BENCH_TOKEN_DELAY_MS: String(options.tokenDelayMs ?? 10) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  const pending = new Map<number, (reply: UpstreamReply) => void>()
  let nextId = 1
  const port = await new Promise<number>((resolve, reject) => {
    const onExit = (code: number | null): void =>
      reject(new Error(`upstream exited early (code ${code})`))
    child.once('exit', onExit)
    child.on('message', (message: UpstreamReady | UpstreamReply) => {
      if ('type' in message && message.type === 'ready') {
        child.off('exit', onExit)
        resolve(message.port)
        return
      }
      const reply = message as UpstreamReply
      pending.get(reply.id)?.(reply)
      pending.delete(reply.id)
    })
  })
  const send = (type: CommandType): Promise<UpstreamReply> =>
    new Promise((resolve) => {
      const id = nextId++
      pending.set(id, resolve)
      child.send({ id, type } satisfies UpstreamCommand)
    })
  return {
    origin: `http://127.0.0.1:${port}`,
    async stats() {
      const reply = await send('stats')
      if (reply.stats === undefined) throw new Error('upstream sent no stats')
      return reply.stats
    },
    async reset() {
      await send('reset')
    },
    async revoke() {
      await send('revoke')
    },
    async current() {
      return (await send('current')).token ?? null
    },
    async close() {
      if (child.exitCode !== null) return
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
      child.disconnect()
      await exited
    },
  }
}
