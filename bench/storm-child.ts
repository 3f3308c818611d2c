/**
 * One process of the multi-process refresh storm (forked by `multi-process-storm.ts`): opens a
 * broker on the shared store, makes one callout (which reads the stored token: no token
 * request), reports `ready`, and on `go` fires its share of the storm at once.
 */
import { openBenchBroker, CALLOUT_URL, type BenchHome, type BenchStore } from './setup.ts'
import { burst, type BurstResult } from './storm.ts'

/** Messages between the parent and a storm child. */
export type StormChildMessage =
  | { readonly type: 'ready' }
  | { readonly type: 'done'; readonly result: BurstResult }
  | { readonly type: 'error'; readonly message: string }

/** The parent's command to start. */
export interface StormGo {
  readonly type: 'go'
  readonly callouts: number
}

function send(message: StormChildMessage): void {
  process.send?.(message)
}

async function main(): Promise<void> {
  const home = JSON.parse(process.env.BENCH_HOME_JSON ?? '{}') as Pick<
    BenchHome,
    'home' | 'configPath' | 'masterKey' | 'env'
  >
  const where = JSON.parse(process.env.BENCH_STORE_JSON ?? '{}') as BenchStore
  const { broker, close } = await openBenchBroker(home, where, { applyConfig: false })
  const op = async (): Promise<number> => {
    const res = await broker.request(CALLOUT_URL)
    await res.body.json()
    return res.statusCode
  }
  const warm = await op()
  if (warm !== 200) throw new Error(`warm-up callout answered HTTP ${warm}`)
  process.on('message', (message: StormGo) => {
    if (message.type !== 'go') return
    burst(op, message.callouts).then(
      async (result) => {
        send({ type: 'done', result })
        await close()
        process.disconnect()
      },
      (error: unknown) => send({ type: 'error', message: String(error) }),
    )
  })
  send({ type: 'ready' })
}

process.on('disconnect', () => process.exit(0))
main().catch((error: unknown) => {
  const code = (error as { code?: string }).code
  send({
    type: 'error',
    message: `${code ?? ''} ${error instanceof Error ? error.message : String(error)}`,
  })
  process.exitCode = 1
  process.disconnect()
})
