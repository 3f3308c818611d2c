/**
 * The settings of one `callout serve` run: the `serve` section of `-f <file>` (when given), then
 * the command-line flags over it, then the defaults. Checked once here: numbers, ports, duplicate
 * ports, credential names, the loopback-only no-key switch and who may read `/metrics`.
 */
import type { ServeConfig } from '../definitions/serve-config.ts'
import { closest } from '../definitions/issues.ts'
import { isLoopbackHost } from '../definitions/url-rules.ts'
import { CalloutError } from '../errors.ts'
import type { Secret } from '../secrets/secret.ts'
import { parseCredentialPort } from '../server/credential-port.ts'
import type { MetricsAccess } from '../server/metrics-route.ts'
import { SERVER_DEFAULTS } from '../server/server-options.ts'

/** Flags of `callout serve` as commander passes them (numbers as strings). */
export interface ServeFlags {
  readonly host?: string
  readonly port?: string
  readonly noAuthUnsafeLoopback?: boolean
  readonly maxBodyBytes?: string
  readonly maxHeaderBytes?: string
  readonly clientTimeoutMs?: string
  readonly totalTimeoutMs?: string
  readonly shutdownTimeoutMs?: string
  readonly reloadIntervalMs?: string
  readonly keyCacheMs?: string
  readonly leaseTtlMs?: string
  readonly credentialPort?: readonly string[]
  /** The origin browsers use for the console and OAuth callbacks (default `http://<host>:<port>`). */
  readonly publicUrl?: string
  /** Serve the proxy only (no console, no admin API). */
  readonly noConsole?: boolean
  /** Allow the console over plain http on a non-loopback address. Loud on purpose. */
  readonly consoleInsecureHttp?: boolean
}

/** One credential port and where it was set (for messages). */
export interface CredentialPortSetting {
  readonly name: string
  readonly port: number
  /** `--credential-port Name=7071` or `serve.credentialPorts.Name in <file>`. */
  readonly from: string
}

/** Everything `callout serve` runs with. */
export interface ServeSettings {
  readonly host: string
  readonly port: number
  readonly noAuthUnsafeLoopback: boolean
  readonly credentialPorts: readonly CredentialPortSetting[]
  readonly metrics: MetricsAccess
  readonly maxBodyBytes: number
  readonly maxHeaderBytes: number
  readonly clientTimeoutMs: number
  readonly totalTimeoutMs: number
  readonly keyCacheMs: number
  readonly shutdownTimeoutMs: number
  readonly reloadIntervalMs: number
  /**
   * The setup console: off (`--no-console`), or on with the `--public-url` origin (absent: the
   * address `callout serve` listens on).
   */
  readonly console: 'off' | { readonly publicUrl?: string }
  readonly leaseTtlMs: number
}

/** Defaults of the options only the CLI has. */
export const SERVE_CLI_DEFAULTS = Object.freeze({
  shutdownTimeoutMs: 10_000,
  reloadIntervalMs: 2_000,
  /** The token manager's lease TTL (LEASE_DEFAULTS.ttlMs). */
  leaseTtlMs: 15_000,
})

function integer(flag: string, value: string, min: number, max: number): number {
  const n = Number(value)
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new CalloutError(
      'INVALID_ARGUMENT',
      `${flag} must be a whole number from ${min} to ${max}, not ${JSON.stringify(value)}.`,
    )
  }
  return n
}

type NumberKey =
  | 'maxBodyBytes'
  | 'maxHeaderBytes'
  | 'clientTimeoutMs'
  | 'totalTimeoutMs'
  | 'keyCacheMs'
  | 'shutdownTimeoutMs'
  | 'reloadIntervalMs'
  | 'leaseTtlMs'

/** Flag name, minimum, maximum and default of each numeric option. */
const NUMBERS: Record<NumberKey, [flag: string, min: number, max: number, fallback: number]> = {
  maxBodyBytes: ['--max-body-bytes', 1, Number.MAX_SAFE_INTEGER, SERVER_DEFAULTS.maxBodyBytes],
  maxHeaderBytes: ['--max-header-bytes', 1024, 1024 * 1024, SERVER_DEFAULTS.maxHeaderBytes],
  clientTimeoutMs: ['--client-timeout-ms', 1, 86_400_000, SERVER_DEFAULTS.clientTimeoutMs],
  totalTimeoutMs: ['--total-timeout-ms', 1, 86_400_000, SERVER_DEFAULTS.totalTimeoutMs],
  keyCacheMs: ['--key-cache-ms', 0, 3_600_000, SERVER_DEFAULTS.keyCacheMs],
  shutdownTimeoutMs: ['--shutdown-timeout-ms', 0, 3_600_000, SERVE_CLI_DEFAULTS.shutdownTimeoutMs],
  reloadIntervalMs: ['--reload-interval-ms', 0, 86_400_000, SERVE_CLI_DEFAULTS.reloadIntervalMs],
  leaseTtlMs: ['--lease-ttl-ms', 1_000, 3_600_000, SERVE_CLI_DEFAULTS.leaseTtlMs],
}

/**
 * Merges the flags over the file's `serve` section over the defaults, and checks the result.
 * A `--credential-port` for a name the file also gives replaces the file's port.
 * `metricsToken` comes from `--metrics-token-file` (read by the caller) or the file.
 *
 * @throws CalloutError `INVALID_ARGUMENT` for a bad flag, two credentials on one port, a
 *   credential port on the main port, or `--no-auth-unsafe-loopback` off loopback.
 * @example
 * const settings = serveSettings({ port: '7070', credentialPort: ['Target=7071'] }, undefined)
 * settings.credentialPorts // [{ name: 'Target', port: 7071, from: '--credential-port Target=7071' }]
 */
export function serveSettings(
  flags: ServeFlags,
  file: ServeConfig | undefined,
  metricsToken?: Secret,
): ServeSettings {
  const host = flags.host ?? file?.host ?? SERVER_DEFAULTS.host
  const port =
    flags.port === undefined
      ? (file?.port ?? SERVER_DEFAULTS.port)
      : integer('--port', flags.port, 0, 65_535)
  const noAuthUnsafeLoopback =
    flags.noAuthUnsafeLoopback === true || file?.noAuthUnsafeLoopback === true
  if (noAuthUnsafeLoopback && !isLoopbackHost(host)) {
    throw new CalloutError(
      'INVALID_ARGUMENT',
      `--no-auth-unsafe-loopback (or serve.noAuthUnsafeLoopback) is allowed only on a loopback host (127.0.0.1, ::1, localhost), not ${host}; create client keys with \`callout keys create\` instead.`,
    )
  }
  const numbers = {} as Record<NumberKey, number>
  for (const key of Object.keys(NUMBERS) as NumberKey[]) {
    const [flag, min, max, fallback] = NUMBERS[key]
    const value = flags[key]
    numbers[key] = value === undefined ? (file?.[key] ?? fallback) : integer(flag, value, min, max)
  }
  const byName = new Map<string, CredentialPortSetting>()
  const where = file?.source === undefined ? '' : ` in ${file.source}`
  for (const [name, p] of file?.credentialPorts ?? []) {
    byName.set(name, { name, port: p, from: `serve.credentialPorts.${name}${where}` })
  }
  for (const text of flags.credentialPort ?? []) {
    const { name, port: p } = parseCredentialPort(text)
    byName.set(name, { name, port: p, from: `--credential-port ${name}=${p}` })
  }
  const credentialPorts = [...byName.values()]
  checkPorts(port, credentialPorts)
  const publicUrl = flags.publicUrl ?? file?.publicUrl
  const token = metricsToken ?? file?.metricsToken
  const metrics: MetricsAccess =
    token !== undefined ? { token } : isLoopbackHost(host) ? 'loopback' : 'off'
  return Object.freeze({
    host,
    port,
    noAuthUnsafeLoopback,
    console: consoleSetting(
      {
        ...(publicUrl === undefined ? {} : { publicUrl }),
        noConsole: flags.noConsole === true || file?.noConsole === true,
        consoleInsecureHttp:
          flags.consoleInsecureHttp === true || file?.consoleInsecureHttp === true,
      },
      host,
    ),
    credentialPorts,
    metrics,
    ...numbers,
  })
}

function checkPorts(main: number, ports: readonly CredentialPortSetting[]): void {
  const owner = new Map<number, CredentialPortSetting>()
  for (const p of ports) {
    const other = owner.get(p.port)
    if (other !== undefined) {
      throw new CalloutError(
        'INVALID_ARGUMENT',
        `${p.from} and ${other.from} use the same port ${p.port}; give each credential port its own port.`,
      )
    }
    if (p.port === main) {
      throw new CalloutError(
        'INVALID_ARGUMENT',
        `${p.from} uses port ${p.port}, the port callout serve itself listens on; pick another port.`,
      )
    }
    owner.set(p.port, p)
  }
}

/**
 * Checks that every credential port names a Named Credential in the store, suggesting the
 * closest name for a typo.
 *
 * @throws CalloutError `CREDENTIAL_NOT_FOUND` naming where the port was set.
 * @example
 * checkCredentialPortNames(settings.credentialPorts, broker.definitions.namedCredentials.keys())
 */
export function checkCredentialPortNames(
  ports: readonly CredentialPortSetting[],
  names: Iterable<string>,
): void {
  const known = [...names]
  for (const p of ports) {
    if (known.includes(p.name)) continue
    const suggestion = closest(p.name, known)
    throw new CalloutError(
      'CREDENTIAL_NOT_FOUND',
      `${p.from} names the Named Credential ${p.name}, which is not in the store${suggestion === undefined ? '' : ` — did you mean ${suggestion}?`} Apply its definition with \`callout apply -f <file>\` or fix the name (\`callout list\` shows the names).`,
      { details: { namedCredential: p.name } },
    )
  }
}

/**
 * Checks `--public-url` (an http(s) origin, nothing after it) and the rule that the console is
 * served off loopback only over TLS (a TLS-terminating proxy in front and an https public URL)
 * or with the explicit `--console-insecure-http`.
 */
function consoleSetting(flags: ServeFlags, host: string): ServeSettings['console'] {
  if (flags.noConsole === true) return 'off'
  let url: URL | undefined
  if (flags.publicUrl !== undefined) {
    try {
      url = new URL(flags.publicUrl)
    } catch {
      url = undefined
    }
    if (
      url === undefined ||
      (url.protocol !== 'https:' && url.protocol !== 'http:') ||
      url.username !== '' ||
      url.password !== '' ||
      url.pathname !== '/' ||
      url.search !== '' ||
      url.hash !== ''
    ) {
      throw new CalloutError(
        'INVALID_ARGUMENT',
        `--public-url must be an origin such as https://callout.example.com (scheme, host and optional port; no path, query or userinfo), not ${JSON.stringify(flags.publicUrl)}.`,
      )
    }
  }
  if (!isLoopbackHost(host) && url?.protocol !== 'https:' && flags.consoleInsecureHttp !== true) {
    throw new CalloutError(
      'INVALID_ARGUMENT',
      `The setup console would be served over plain http on ${host}, where passwords and session cookies could be read on the network. Put a TLS-terminating proxy in front and pass --public-url https://<its host>, or serve the proxy only with --no-console (or, knowingly, --console-insecure-http). In the serve section of the -f file these are publicUrl, noConsole and consoleInsecureHttp.`,
    )
  }
  return url === undefined ? {} : { publicUrl: url.origin }
}
