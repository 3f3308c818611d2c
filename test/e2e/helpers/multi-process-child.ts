/**
 * One OS process of the multi-process end-to-end tests (`test/e2e/multi-process.test.ts`), run as
 * `node --import tsx test/e2e/helpers/multi-process-child.ts` with an IPC channel. It opens its own
 * store (`CALLOUT_STORE`, `CALLOUT_HOME`, `CALLOUT_MASTER_KEY`; PostgreSQL schema in
 * `CALLOUT_TEST_SCHEMA`) and its own broker on it (lease tuning in `CALLOUT_TEST_LEASE`, JSON),
 * reports `ready`, then runs the parent's commands: on `go` it fires `count` concurrent callouts
 * and answers `result` with every outcome (HTTP status, or the error code). Each token request its
 * broker sends is announced (`token-request`) before it leaves the process, so the parent can
 * count them per process and kill a process while its token request hangs.
 */
import { openBroker, type Broker } from '../../../src/index.ts'
import { openStore } from '../../../src/store/open-store.ts'
import type { Store } from '../../../src/store/types.ts'

/** A command from the parent. */
export type ChildCommand =
  | {
      readonly type: 'go'
      /** Correlates the `result`. */
      readonly id: number
      /** The Named Credential to call. */
      readonly name: string
      /** How many callouts to fire at once. */
      readonly count: number
    }
  | { readonly type: 'exit' }

/** One callout's outcome: its HTTP status, or the CalloutError code it failed with. */
export type Outcome = number | string

/** A message to the parent. */
export type ChildMessage =
  | { readonly type: 'ready'; readonly pid: number }
  | {
      readonly type: 'token-request'
      readonly pid: number
      /** `grant_type` of the request (never a token). */
      readonly grantType: string
      /** `Date.now()` when it was sent. */
      readonly at: number
    }
  | { readonly type: 'result'; readonly id: number; readonly outcomes: readonly Outcome[] }
  | { readonly type: 'error'; readonly message: string }

/** The API version the callouts use. */
const V = 'v61.0'

function send(message: ChildMessage): void {
  process.send?.(message)
}

function required(name: string): string {
  const value = process.env[name]
  if (value === undefined || value === '') throw new Error(`${name} is not set`)
  return value
}

/** The `grant_type` of a form-encoded token request body (read without consuming it). */
function grantTypeOf(init: RequestInit | undefined): string {
  const body = init?.body
  if (body instanceof URLSearchParams) return body.get('grant_type') ?? 'unknown'
  if (typeof body === 'string') return new URLSearchParams(body).get('grant_type') ?? 'unknown'
  return 'unknown'
}

/** `fetch` for authorization-server requests that announces every token request first. */
function announcingFetch(input: string | URL, init?: RequestInit): Promise<Response> {
  const url = new URL(String(input))
  if (url.pathname.endsWith('/oauth2/token')) {
    send({ type: 'token-request', pid: process.pid, grantType: grantTypeOf(init), at: Date.now() })
  }
  return fetch(input, init)
}

async function callout(broker: Broker, name: string, i: number): Promise<Outcome> {
  try {
    const res = await broker.fetch(`callout:${name}/services/data/${V}/limits?i=${i}`)
    await res.arrayBuffer()
    return res.status
  } catch (error) {
    const code = (error as { code?: unknown }).code
    return typeof code === 'string' ? code : String(error)
  }
}

async function main(): Promise<void> {
  const home = required('CALLOUT_HOME')
  const schema = process.env.CALLOUT_TEST_SCHEMA
  const lease = JSON.parse(process.env.CALLOUT_TEST_LEASE ?? '{}') as Record<string, number>
  const store: Store = await openStore({
    url: required('CALLOUT_STORE'),
    home,
    ...(schema === undefined || schema === '' ? {} : { schema }),
  })
  const broker = await openBroker({
    home,
    store,
    tokens: { lease },
    auth: { fetch: announcingFetch },
  })
  const shutdown = async (): Promise<void> => {
    await broker.close()
    await store.close()
    process.disconnect?.()
  }
  process.on('message', (command: ChildCommand) => {
    if (command.type === 'exit') {
      void shutdown()
      return
    }
    Promise.all(Array.from({ length: command.count }, (_, i) => callout(broker, command.name, i)))
      .then((outcomes) => send({ type: 'result', id: command.id, outcomes }))
      .catch((error: unknown) => send({ type: 'error', message: String(error) }))
  })
  send({ type: 'ready', pid: process.pid })
}

// The parent going away (or closing the channel) ends this process.
process.on('disconnect', () => process.exit(0))
main().catch((error: unknown) => {
  const code = (error as { code?: string }).code ?? ''
  send({
    type: 'error',
    message: `${code} ${error instanceof Error ? error.message : String(error)}`.trim(),
  })
  process.exitCode = 1
  process.disconnect?.()
})
