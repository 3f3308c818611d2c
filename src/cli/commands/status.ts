import {
  buildStatusReports,
  type PrincipalState,
  type StatusReport,
} from '../../callout/status-report.ts'
import { resolveHome } from '../../secrets/index.ts'
import { openStore } from '../../store/index.ts'
import { EXIT, println, type CliIo } from '../io.ts'

/** Principal states that make `callout status` exit non-zero. */
const ATTENTION: ReadonlySet<PrincipalState> = new Set<PrincipalState>([
  'needs-reauth',
  'error',
  'timed-out',
])

/**
 * Formats status reports as lines: one per Named Credential, then one per principal.
 *
 * @example
 * formatStatus(reports) // ['Target  https://…  oauth2/jwt-bearer', '  Integration: Authenticated as …']
 */
export function formatStatus(reports: readonly StatusReport[], now = Date.now()): string[] {
  const lines: string[] = []
  for (const r of reports) {
    const how = r.flow === undefined ? r.protocol : `${r.protocol}/${r.flow}`
    lines.push(`${r.name}  ${r.url}  ${how}${r.enabled ? '' : '  (disabled)'}`)
    for (const p of r.principals) {
      const who = p.userId === undefined ? p.principal : `${p.principal} [${p.userId}]`
      const extra: string[] = []
      if (p.status === 'authenticated' && p.expiresAt !== undefined) {
        const minutes = Math.round((p.expiresAt - now) / 60_000)
        const noRefresh = r.flow === 'browser' && p.hasRefreshToken === false
        extra.push(
          minutes >= 0
            ? `expires in ${minutes} min${noRefresh ? ', no refresh token: re-authenticate then' : ''}`
            : `expired ${-minutes} min ago`,
        )
      }
      if (p.instanceUrl !== undefined) extra.push(`instance ${p.instanceUrl}`)
      if (p.lastError !== undefined && p.status !== 'authenticated') {
        extra.push(`last error ${p.lastError.code}: ${p.lastError.message}`)
      }
      lines.push(`  ${who}: ${p.summary}${extra.length === 0 ? '' : ` (${extra.join('; ')})`}`)
      if (p.advice !== undefined) lines.push(`    ${p.advice}`)
    }
  }
  return lines
}

/**
 * `callout status [Name] [--user <id>] [--json]`. `--user` shows only that end user's connections
 * of per-user principals (named principals are always shown). Returns 0 when every principal shown is authenticated or not
 * yet used, 1 when one needs attention (needs-reauth, error, or a timed-out browser flow), so
 * scripts can alert on it.
 *
 * @example
 * // $ callout status Target
 * // Target  https://login.salesforce.com  oauth2/jwt-bearer
 * //   Integration: Authenticated as integration@target.example (instance https://…)
 */
export async function statusCommand(
  io: CliIo,
  options: { name?: string; json?: boolean; user?: string },
): Promise<number> {
  const store = await openStore({ home: resolveHome(io.env), env: io.env })
  let reports: StatusReport[]
  try {
    reports = await buildStatusReports(
      await store.loadDefinitions(),
      store,
      options.name,
      options.user === undefined ? {} : { user: options.user },
    )
  } finally {
    await store.close()
  }
  if (options.json === true) println(io, JSON.stringify(reports, null, 2))
  else if (reports.length === 0)
    println(io, 'no named credentials yet: run `callout apply -f callout.yaml`')
  else for (const line of formatStatus(reports)) println(io, line)
  const attention = reports.some((r) => r.principals.some((p) => ATTENTION.has(p.status)))
  return attention ? EXIT.error : EXIT.ok
}
