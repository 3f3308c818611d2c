import type { FastifyInstance } from 'fastify'
import { readFile } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import { resolve } from 'node:path'
import pino from 'pino'
import type { Broker } from '../../callout/broker.ts'
import { openBroker } from '../../callout/open-broker.ts'
import { loadServeConfig } from '../../definitions/serve-config.ts'
import { CalloutError } from '../../errors.ts'
import { resolveHome } from '../../secrets/index.ts'
import { Secret } from '../../secrets/secret.ts'
import { buildServer } from '../../server/build-server.ts'
import { buildCredentialPort } from '../../server/credential-port.ts'
import { followStore } from '../../server/follow-store.ts'
import { closeWaiting } from '../../server/waiting-server.ts'
import { LEASE_DEFAULTS } from '../../tokens/lease.ts'
import { openStoreOrWait } from '../store-wait.ts'
import { openStore } from '../../store/index.ts'
import type { CliIo } from '../io.ts'
import { checkCredentialPortNames, serveSettings, type ServeFlags } from '../serve-settings.ts'

/** Options of `callout serve` (numbers as the CLI passes them: strings). */
export interface ServeOptions extends ServeFlags {
  /** A config file whose `serve` section gives the defaults of these flags. */
  readonly file?: string
  /** A file holding the token `/metrics` requires as `Authorization: Bearer`. */
  readonly metricsTokenFile?: string
}

/** Signals the command listens to (the process, or an emitter in tests). */
export interface SignalSource {
  on(event: 'SIGTERM' | 'SIGINT' | 'SIGHUP', listener: () => void): unknown
  off(event: 'SIGTERM' | 'SIGINT' | 'SIGHUP', listener: () => void): unknown
}

/** Reads `--metrics-token-file` (trailing newlines trimmed; at least 16 characters). */
async function readMetricsToken(io: CliIo, path: string): Promise<Secret> {
  const file = resolve(io.cwd, path)
  let text: string
  try {
    text = (await readFile(file, 'utf8')).replace(/[\r\n]+$/, '')
  } catch (error) {
    throw new CalloutError(
      'INVALID_ARGUMENT',
      `--metrics-token-file ${file} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'}).`,
      { cause: error },
    )
  }
  if (text.length < 16 || /\s/.test(text)) {
    throw new CalloutError(
      'INVALID_ARGUMENT',
      `--metrics-token-file ${file} must hold one token of at least 16 characters without spaces (e.g. from \`openssl rand -hex 32\`).`,
    )
  }
  return new Secret(text)
}

/** `http://host:port` of a listening app. */
function originOf(app: FastifyInstance): string {
  const address = app.server.address() as AddressInfo
  return `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`
}

/**
 * `callout serve [-f callout.yaml] [--host 127.0.0.1] [--port 7070]`: the egress proxy. Flags
 * override the `serve` section of `-f`. Runs until SIGTERM or SIGINT (stops accepting, drains
 * in-flight requests up to `--shutdown-timeout-ms`); SIGHUP and `callout apply` against the same
 * store reload the definitions. The access log is JSON on stdout.
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
  const file =
    options.file === undefined
      ? undefined
      : await loadServeConfig(resolve(io.cwd, options.file), { env: io.env })
  const settings = serveSettings(
    options,
    file,
    options.metricsTokenFile === undefined
      ? undefined
      : await readMetricsToken(io, options.metricsTokenFile),
  )
  const { host, port, shutdownTimeoutMs, reloadIntervalMs } = settings
  const noAuth = settings.noAuthUnsafeLoopback
  const log = accessLogDestination(io)
  const logger = pino({ base: { service: 'callout' } }, log.stream)
  const home = resolveHome(io.env)
  // SIGTERM while the store is still unreachable at start ends the wait.
  let stopWaiting!: () => void
  const stopSignal = new Promise<void>((r) => (stopWaiting = r))
  signals.on('SIGTERM', stopWaiting)
  signals.on('SIGINT', stopWaiting)
  const opened = await openStoreOrWait(() => openStore({ home, env: io.env }), {
    host,
    port,
    stop: stopSignal,
    report: (message) => io.stderr.write(`${message}\n`),
  }).finally(() => {
    signals.off('SIGTERM', stopWaiting)
    signals.off('SIGINT', stopWaiting)
  })
  if (opened.kind === 'stopped') {
    io.stderr.write('callout serve: stopped\n')
    return
  }
  const store = opened.store
  let closed = false
  const portApps: FastifyInstance[] = []
  let broker: Broker | undefined
  try {
    broker = await openBroker({
      store,
      env: io.env,
      home,
      logger,
      tokens: {
        lease: {
          ttlMs: settings.leaseTtlMs,
          maxWaitMs: Math.max(LEASE_DEFAULTS.maxWaitMs, 2 * settings.leaseTtlMs),
        },
      },
    })
    checkCredentialPortNames(settings.credentialPorts, broker.definitions.namedCredentials.keys())
    // Without --public-url the console's origin is the address it listens on (known after listen).
    let listeningOrigin = `http://${host.includes(':') ? `[${host}]` : host}:${port}`
    const consoleSetting = settings.console
    const server = buildServer({
      broker,
      logger,
      ...(consoleSetting === 'off'
        ? {}
        : {
            console: {
              admin: store.admin,
              // One login budget for every instance on the database.
              rateLimits: store.rateLimits,
              ...(noAuth ? {} : { keys: store.clientKeys }),
              publicUrl: consoleSetting.publicUrl ?? (() => listeningOrigin),
            },
          }),
      ...(noAuth ? { noAuthUnsafeLoopback: true } : { keys: store.clientKeys }),
      ready: async () => {
        await store.definitionsStamp()
      },
      metrics: settings.metrics,
      maxBodyBytes: settings.maxBodyBytes,
      maxHeaderBytes: settings.maxHeaderBytes,
      clientTimeoutMs: settings.clientTimeoutMs,
      keyCacheMs: settings.keyCacheMs,
      totalTimeoutMs: settings.totalTimeoutMs,
    })
    // After a wait for the store, the real server takes the waiting one's port.
    if (opened.waiting !== undefined) await closeWaiting(opened.waiting.server)
    await server.app.listen({ host, port: opened.waiting?.port ?? port })
    portApps.push(server.app)
    const origin = originOf(server.app)
    listeningOrigin = origin
    if (consoleSetting !== 'off') {
      // Only a hint: a store that stops answering here must not stop the server.
      const admins = await store.admin.countAdminUsers().catch(() => undefined)
      io.stderr.write(
        `callout serve: setup console at ${consoleSetting.publicUrl ?? origin}/` +
          (admins === 0 ? ' (no admin yet: `callout admin create --username <name>`)' : '') +
          '\n',
      )
    }
    io.stderr.write(
      noAuth
        ? `callout serve: listening on ${origin} WITHOUT CLIENT KEYS (--no-auth-unsafe-loopback): every local process may use every credential\n`
        : `callout serve: listening on ${origin} (client keys required)\n`,
    )
    if (settings.metrics === 'off') {
      io.stderr.write(
        'callout serve: /metrics is off (a non-loopback address without a metrics token; set --metrics-token-file or serve.metricsToken)\n',
      )
    }

    for (const { name, port: portNumber } of settings.credentialPorts) {
      let portOrigin = ''
      const portApp = buildCredentialPort(server, name, () => portOrigin)
      await portApp.listen({ host, port: portNumber })
      portApps.push(portApp)
      portOrigin = originOf(portApp)
      io.stderr.write(`callout serve: ${name} as a bare origin on ${portOrigin}\n`)
    }

    const following = followStore(server, store, {
      reloadIntervalMs,
      onReload: (why, error) => {
        if (error === undefined) logger.info({ why }, 'definitions reloaded')
        else logger.error({ why, code: (error as { code?: string }).code }, 'reload failed')
      },
    })

    await new Promise<void>((resolve) => {
      const onHup = (): void => void following.reload('SIGHUP')
      const onStop = (): void => {
        signals.off('SIGTERM', onStop)
        signals.off('SIGINT', onStop)
        signals.off('SIGHUP', onHup)
        following.stop()
        io.stderr.write('callout serve: shutting down, draining in-flight requests\n')
        const deadline = setTimeout(() => {
          io.stderr.write(
            `callout serve: drain deadline (${shutdownTimeoutMs} ms) passed; closing connections\n`,
          )
          for (const a of portApps) a.server.closeAllConnections()
        }, shutdownTimeoutMs)
        void Promise.all(portApps.map((a) => a.close()))
          .finally(() => clearTimeout(deadline))
          .then(() => broker?.close())
          .finally(() => resolve())
      }
      signals.on('SIGTERM', onStop)
      signals.on('SIGINT', onStop)
      signals.on('SIGHUP', onHup)
    })
    closed = true
  } finally {
    // A failed start (a port in use, an unknown credential) closes what already listens.
    if (!closed) {
      await Promise.allSettled(portApps.map((a) => a.close()))
      await broker?.close()
    }
    log.flush()
    await store.close()
    if (closed) io.stderr.write('callout serve: stopped\n')
  }
}

/** Access-log lines are written in batches of this many bytes (one `write` for ~25 lines). */
const LOG_BATCH_BYTES = 4096
/** …or after this long, whichever comes first. */
const LOG_FLUSH_MS = 100
/** Access-log lines buffered beyond this (stdout not keeping up) are dropped. 16 MiB. */
const LOG_MAX_BUFFER_BYTES = 16 * 1024 * 1024

/**
 * Where the access log goes: the process's stdout through pino's asynchronous writer (sonic-boom),
 * so that the event loop never blocks on a slow stdout. Lines are written in batches of
 * {@link LOG_BATCH_BYTES}, or within {@link LOG_FLUSH_MS} when a batch does not fill. The buffer is
 * bounded ({@link LOG_MAX_BUFFER_BYTES}: past it, lines are dropped rather than memory growing).
 * `flush()` writes what is still buffered, synchronously (on shutdown; pino also flushes this
 * destination when the process exits). Write errors (the reader gone) silence the log, never stop
 * the proxy. Without a file descriptor (in-process tests), `io.stdout` is written directly.
 */
function accessLogDestination(io: CliIo): { stream: pino.DestinationStream; flush(): void } {
  if (io.stdoutFd === undefined) {
    return { stream: io.stdout as pino.DestinationStream, flush: () => undefined }
  }
  const destination = pino.destination({
    dest: io.stdoutFd,
    sync: false,
    minLength: LOG_BATCH_BYTES,
    maxLength: LOG_MAX_BUFFER_BYTES,
    // Lines that do not fill a batch are written within LOG_FLUSH_MS (sonic-boom's own timer).
    periodicFlush: LOG_FLUSH_MS,
  })
  const flush = (): void => {
    try {
      destination.flushSync()
    } catch {
      // Nothing was ever written (not ready yet), or stdout is gone: nothing to save.
    }
  }
  // A reader that went away (EPIPE) ends the access log, not the proxy (as for the CLI's stdout).
  destination.on('error', () => undefined)
  // process.exit() elsewhere: pino's asynchronous destination flushes itself on exit too.
  return { stream: destination, flush }
}
