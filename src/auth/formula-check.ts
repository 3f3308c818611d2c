/**
 * Apply-time validation of formula headers, so a header that cannot be evaluated is reported when
 * the configuration is applied, not at the first callout.
 */
import type { Definitions, FormulaHeader } from '../definitions/model.ts'
import { configInvalid, type ConfigIssue } from '../definitions/issues.ts'
import { isCalloutError } from '../errors.ts'
import { compileFormula } from './formula.ts'
import { checkJwtSubjects } from './jwt-subject.ts'

function looksLikeBareLiteral(formula: string): boolean {
  const f = formula.trim()
  return f !== '' && !/['"(]|\{!/.test(f)
}

function checkHeaders(
  issues: ConfigIssue[],
  path: string,
  headers: readonly FormulaHeader[],
): void {
  headers.forEach((header, index) => {
    try {
      compileFormula(header.formula)
    } catch (error) {
      if (!isCalloutError(error)) throw error
      const hint = looksLikeBareLiteral(header.formula)
        ? ` Header values are formulas: to send a fixed value, quote it, e.g. "'${header.formula.trim().replace(/'/g, "\\'")}'".`
        : ''
      issues.push({
        path: `${path}[${index}] (${header.name})`,
        message: `${error.message}${hint}`,
      })
    }
  })
}

/**
 * Compiles every formula header of the definitions (ExternalCredential `authHeaders`, Named
 * Credential `headers`) and evaluates every JWT subject (a per-user principal must give two users
 * two subjects), and throws one `CONFIG_INVALID` listing every problem.
 *
 * @example
 * checkFormulas(await loadConfigFile('callout.yaml')) // throws CONFIG_INVALID for `Accept: application/json`
 */
export function checkFormulas(defs: Definitions): void {
  const issues: ConfigIssue[] = []
  for (const ec of defs.externalCredentials.values()) {
    checkHeaders(issues, `externalCredentials.${ec.name}.authHeaders`, ec.authHeaders)
    issues.push(...checkJwtSubjects(ec))
  }
  for (const nc of defs.namedCredentials.values()) {
    checkHeaders(issues, `namedCredentials.${nc.name}.headers`, nc.headers)
  }
  if (issues.length > 0) throw configInvalid(issues)
}
