/**
 * Small builders shared by the definition kinds (AuthProvider, ExternalCredential,
 * NamedCredential): formula headers, the PEM check, optional fields and deep freezing.
 */
import type { Secret } from '../secrets/secret.ts'
import { issue } from './issues.ts'
import type { ConfigIssue, ConfigPath } from './issues.ts'
import type { FormulaHeader } from './model.ts'

/** Builds formula headers in `sequence` order; a repeated name (any case) is an issue. */
export function buildHeaders(
  entries: readonly { name: string; formula: string; sequence?: number | undefined }[],
  path: ConfigPath,
  issues: ConfigIssue[],
): FormulaHeader[] {
  const seen = new Set<string>()
  const headers = entries.map((h, index) => {
    const lower = h.name.toLowerCase()
    if (seen.has(lower))
      issues.push(
        issue([...path, index, 'name'], `repeats the header ${h.name} — give each header once`),
      )
    seen.add(lower)
    return { name: h.name, formula: h.formula, sequence: h.sequence ?? index + 1 }
  })
  return headers.sort((a, b) => a.sequence - b.sequence)
}

/** True when the secret holds a PEM private key (`-----BEGIN … PRIVATE KEY-----`). */
export function isPemPrivateKey(secret: Secret): boolean {
  const value = secret.reveal()
  return /-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(value)
}

/** `{ [key]: value }` when value is defined, else `{}` (for exactOptionalPropertyTypes). */
export function opt<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return value === undefined ? {} : ({ [key]: value } as { [P in K]: V })
}

/** Freezes a model object and its nested plain objects and arrays (not Secrets). */
export function freeze<T>(value: T): T {
  if (value === null || typeof value !== 'object' || Object.isFrozen(value)) return value
  if (Array.isArray(value) || Object.getPrototypeOf(value) === Object.prototype) {
    for (const item of Object.values(value)) freeze(item)
    return Object.freeze(value)
  }
  return value
}
