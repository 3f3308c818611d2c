/**
 * `callout apply`'s warning about browser flows whose scope gets no refresh token, on the check
 * the CLI shares with the console ({@link refreshScopeProblem}).
 */
import type { Definitions } from '../definitions/model.ts'
import { refreshScopeProblem } from '../callout/refresh-scope.ts'

export { refreshScopeProblem, type RefreshScopeProblem } from '../callout/refresh-scope.ts'

/**
 * One warning line per browser-flow ExternalCredential whose scope gets no refresh token, naming
 * the Named Credentials that use it (for `callout apply`).
 *
 * @example
 * for (const line of refreshScopeWarnings(defs)) io.stderr.write(`warning: ${line}\n`)
 */
export function refreshScopeWarnings(defs: Definitions): string[] {
  const lines: string[] = []
  for (const ec of defs.externalCredentials.values()) {
    const users = [...defs.namedCredentials.values()]
      .filter((nc) => nc.externalCredential === ec.name)
      .map((nc) => nc.name)
      .sort()
    const provider =
      ec.authProvider === undefined ? undefined : defs.authProviders.get(ec.authProvider)
    const reauth = `run callout auth ${users[0] ?? '<NamedCredential>'}`
    const problem = refreshScopeProblem(ec, provider, reauth)
    if (problem !== undefined) {
      lines.push(`externalCredentials.${ec.name}: ${problem.what} — ${problem.todo}`)
    }
  }
  return lines
}
