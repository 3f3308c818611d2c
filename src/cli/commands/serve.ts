import type { FastifyInstance } from 'fastify'
import type { AddressInfo } from 'node:net'
import pino from 'pino'
import { openBroker } from '../../callout/open-broker.ts'
import { isLoopbackHost } from '../../definitions/url-rules.ts'
import { CalloutError } from '../../errors.ts'
import { resolveHome } from '../../secrets/index.ts'
import { buildServer } from '../../server/build-server.ts'
import { buildCredentialPort, parseCredentialPort } from '../../server/credential-port.ts'
import { findNamedCredential } from '../../callout/callout-url.ts'
import { SERVER_DEFAULTS } from '../../server/server-options.ts'
import { openStore } from '../../store/index.ts'
import type { CliIo } from '../io.ts'

/** Options of `callout serve` (numbers as the CLI passes them: strings). */
export interface ServeOptions {
  readonly host?: string
  readonly port?: string
  /** Serve without client keys: every local process may use every credential. Loopback only. */
  readonly noAuthUnsafeLoopback?: boolean
  readonly maxBodyBytes?: string
  readonly maxHeaderBytes?: string
  readonly clientTimeoutMs?: string
  readonly totalTimeoutMs?: string
  /** How long SIGTERM waits for in-flight requests before closing their connections. */
  readonly shutdownTimeoutMs?: string
  /** How often to check whether `apply` changed the definitions (0: never). */
  readonly reloadIntervalMs?: string
  /** How long a verified client key is trusted before it is read again. */
  readonly keyCacheMs?: string
  /** `Name=port`: serve a Named Credential as a bare origin on its own port (repeatable). */
  readonly credentialPort?: readonly string[]
}

/** Signals the command listens to (the process, or an emitter in tests). */
export interface SignalSource {
  on(event: 'SIGTERM' | 'SIGINT' | 'SIGHUP', listener: () => void): unknown
  off(event: 'SIGTERM' | 'SIGINT' | 'SIGHUP', listener: () => void): unknown
}

function integer(name: string, value: string | undefined, fallback: number, min = 0): number {
  if (value === undefined) return fallback
  const n = Number(value)
  if (!Number.isSafeInteger(n) || n < min) {
    throw new CalloutError(
      'INVALID_ARGUMENT',
      `${name} must be a whole number ≥ ${min}, not ${JSON.stringify(value)}.`,
    )
  }
  return n
}

/**
 * `callout serve [--host 127.0.0.1] [--port 7070]`: the egress proxy. Runs until SIGTERM or
 * SIGINT (stops accepting, drains in-flight requests up to `--shutdown-timeout-ms`); SIGHUP and
 * `callout apply` against the same store reload the definitions. The access log is JSON on stdout.
 *
 * @example
 * // $ callout serve --port 7070
 * // callout serve: listening on http://127.0.0.1:7070 (client keys required)
 */
export async function serveCommand(
  io: CliIo,
  options: ServeOptions,
  signals: SignalSource = process,
): Promise<void> {
  const host = options.host ?? SERVER_DEFAULTS.host
  const port = integer('--port', options.port, SERVER_DEFAULTS.port)
  const noAuth = options.noAuthUnsafeLoopback === true
  if (noAuth && !isLoopbackHost(host)) {
    throw new CalloutError(
      'INVALID_ARGUMENT',
      `--no-auth-unsafe-loopback is allowed only on a loopback host (127.0.0.1, ::1, localhost), not ${host}; create client keys with \`callout keys create\` instead.`,
    )
  }
  const shutdownTimeoutMs = integer('--shutdown-timeout-ms', options.shutdownTimeoutMs, 10_000)
  const reloadIntervalMs = integer('--reload-interval-ms', options.reloadIntervalMs, 2_000)
  const ports = (options.credentialPort ?? []).map(parseCredentialPort)
  const logger = pino({ base: { service: 'callout' } }, io.stdout as pino.DestinationStream)
  const home = resolveHome(io.env)
  const store = await openStore({ home, env: io.env })
  let closed = false
  try {
    const broker = await openBroker({ store, env: io.env, home, logger })
    const server = buildServer({
      broker,
      logger,
      ...(noAuth ? { noAuthUnsafeLoopback: true } : { keys: store.clientKeys }),
      ready: async () => {
        await store.definitionsStamp()
      },
      maxBodyBytes: integer(
        '--max-body-bytes',
        options.maxBodyBytes,
        SERVER_DEFAULTS.maxBodyBytes,
        1,
      ),
      maxHeaderBytes: integer(
        '--max-header-bytes',
        options.maxHeaderBytes,
        SERVER_DEFAULTS.maxHeaderBytes,
        1024,
      ),
      clientTimeoutMs: integer(
        '--client-timeout-ms',
        options.clientTimeoutMs,
        SERVER_DEFAULTS.clientTimeoutMs,
        1,
      ),
      keyCacheMs: integer('--key-cache-ms', options.keyCacheMs, SERVER_DEFAULTS.keyCacheMs),
      totalTimeoutMs: integer(
        '--total-timeout-ms',
        options.totalTimeoutMs,
        SERVER_DEFAULTS.totalTimeoutMs,
        1,
      ),
    })
    await server.app.listen({ host, port })
    const address = server.app.server.address() as AddressInfo
    const origin = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`
    io.stderr.write(
      noAuth
        ? `callout serve: listening on ${origin} WITHOUT CLIENT KEYS (--no-auth-unsafe-loopback): every local process may use every credential\n`
        : `callout serve: listening on ${origin} (client keys required)\n`,
    )

    const portApps: FastifyInstance[] = []
    for (const { name, port: portNumber } of ports) {
      findNamedCredential(broker.definitions, name)
      const portOrigin = `http://${host.includes(':') ? `[${host}]` : host}:${portNumber}`
      const portApp = buildCredentialPort(server, name, () => portOrigin)
      await portApp.listen({ host, port: portNumber })
      portApps.push(portApp)
      io.stderr.write(`callout serve: ${name} as a bare origin on ${portOrigin}\n`)
    }

    let stamp = await store.definitionsStamp()
    const reload = async (why: string): Promise<void> => {
      try {
        await server.reload()
        stamp = await store.definitionsStamp()
        logger.info({ why }, 'definitions reloaded')
      } catch (error) {
        logger.error({ why, code: (error as { code?: string }).code }, 'reload failed')
      }
    }
    const poll =
      reloadIntervalMs === 0
        ? undefined
        : setInterval(() => {
            void store.definitionsStamp().then(
              (now) => (now !== stamp ? reload('definitions changed') : undefined),
              () => undefined,
            )
          }, reloadIntervalMs)
    poll?.unref()

    await new Promise<void>((resolve) => {
      const onHup = (): void => void reload('SIGHUP')
      const onStop = (): void => {
        signals.off('SIGTERM', onStop)
        signals.off('SIGINT', onStop)
        signals.off('SIGHUP', onHup)
        if (poll !== undefined) clearInterval(poll)
        io.stderr.write('callout serve: shutting down, draining in-flight requests\n')
        const deadline = setTimeout(() => {
          io.stderr.write(
            `callout serve: drain deadline (${shutdownTimeoutMs} ms) passed; closing connections\n`,
          )
          server.app.server.closeAllConnections()
        }, shutdownTimeoutMs)
        void Promise.all([server.app.close(), ...portApps.map((a) => a.close())])
          .finally(() => clearTimeout(deadline))
          .then(() => broker.close())
          .finally(() => resolve())
      }
      signals.on('SIGTERM', onStop)
      signals.on('SIGINT', onStop)
      signals.on('SIGHUP', onHup)
    })
    closed = true
  } finally {
    await store.close()
    if (closed) io.stderr.write('callout serve: stopped\n')
  }
}
