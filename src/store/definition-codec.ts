/**
 * Splits a definition into a canonical JSON document (no secrets) and the list of its secret
 * fields (`[path, plaintext]`), and joins them back. The store encrypts the list as one value, so
 * a definition's secrets never reach a plaintext column.
 */
import { CalloutError } from '../errors.ts'
import { Secret } from '../secrets/secret.ts'

/** A path from the definition's root to a secret field: object keys and array indexes. */
export type SecretPath = readonly (string | number)[]

/**
 * The key of the document that lists `[path, reference]` for each secret read from a
 * configuration reference (see {@link Secret.reference}): names such as `${env:API_SECRET}`, never
 * values. Inside the document, so the row's integrity tag covers it. Documents written before it
 * existed have none; their secrets load without a reference.
 */
export const REFERENCES_KEY = '$references'

/** A definition split for storage. */
export interface SplitDefinition {
  /**
   * Canonical JSON (sorted keys, no `undefined`) of the definition without secret fields, plus
   * {@link REFERENCES_KEY} when a secret has a reference.
   */
  readonly document: string
  /** Canonical JSON of `[path, plaintext][]`, or undefined when the definition has no secrets. */
  readonly secrets: string | undefined
}

const MAX_DEPTH = 32

/**
 * Splits `definition`. Values JSON cannot represent faithfully (functions, bigints, symbols,
 * Maps, class instances other than {@link Secret}, non-finite numbers, cycles) are rejected with
 * `CONFIG_INVALID`.
 *
 * @example
 * splitDefinition({ name: 'A', consumerSecret: new Secret('x') })
 * // { document: '{"name":"A"}', secrets: '[[["consumerSecret"],"x"]]' }
 */
export function splitDefinition(definition: object, label: string): SplitDefinition {
  const secrets: [SecretPath, string][] = []
  const references: [SecretPath, string][] = []
  const seen = new Set<object>()

  function visit(value: unknown, path: (string | number)[]): unknown {
    if (value instanceof Secret) {
      secrets.push([[...path], value.reveal()])
      if (value.reference !== undefined) references.push([[...path], value.reference])
      return undefined
    }
    if (value === undefined) return undefined
    if (value === null || typeof value === 'string' || typeof value === 'boolean') return value
    if (typeof value === 'number') {
      if (!Number.isFinite(value)) throw invalid(label, path, 'is not a finite number')
      return value
    }
    if (typeof value !== 'object') throw invalid(label, path, `is a ${typeof value}`)
    if (path.length >= MAX_DEPTH) throw invalid(label, path, 'is nested too deeply')
    if (seen.has(value)) throw invalid(label, path, 'is a cycle')
    seen.add(value)
    try {
      if (Array.isArray(value)) {
        return value.map((item, index) => {
          const out = visit(item, [...path, index])
          return out === undefined ? null : out
        })
      }
      const proto = Object.getPrototypeOf(value) as unknown
      if (proto !== Object.prototype && proto !== null)
        throw invalid(label, path, 'is not a plain object')
      const out: Record<string, unknown> = {}
      for (const key of Object.keys(value).sort()) {
        const item = visit((value as Record<string, unknown>)[key], [...path, key])
        if (item !== undefined)
          Object.defineProperty(out, key, {
            value: item,
            enumerable: true,
            writable: true,
            configurable: true,
          })
      }
      return out
    } finally {
      seen.delete(value)
    }
  }

  if (Object.hasOwn(definition, REFERENCES_KEY))
    throw invalid(label, [REFERENCES_KEY], 'is a reserved key')
  const document = visit(definition, []) as Record<string, unknown>
  if (references.length > 0) document[REFERENCES_KEY] = references
  return {
    document: JSON.stringify(document),
    secrets: secrets.length === 0 ? undefined : JSON.stringify(secrets),
  }
}

/**
 * Joins a stored document and its decrypted secret list back into a definition whose secret
 * fields are {@link Secret}s. A malformed row is `STORE_ERROR`.
 */
export function joinDefinition<T>(document: string, secrets: Secret | undefined, label: string): T {
  let root: unknown
  let list: unknown = []
  try {
    root = JSON.parse(document)
  } catch (cause) {
    throw corruptRow(label, cause)
  }
  try {
    if (secrets !== undefined) list = JSON.parse(secrets.reveal())
  } catch {
    // No cause: JSON.parse quotes the input, which is secret.
    throw corruptRow(label)
  }
  if (typeof root !== 'object' || root === null || !Array.isArray(list)) throw corruptRow(label)
  const references = takeReferences(root as Record<string, unknown>, label)
  for (const entry of list) {
    if (!Array.isArray(entry) || entry.length !== 2 || typeof entry[1] !== 'string')
      throw corruptRow(label)
    const [path, value] = entry as [unknown, string]
    const reference = Array.isArray(path) ? references.get(JSON.stringify(path)) : undefined
    const secret = new Secret(value, reference === undefined ? {} : { reference })
    if (!Array.isArray(path) || path.length === 0) throw corruptRow(label)
    let parent: unknown = root
    for (let i = 0; i < path.length; i++) {
      const key: unknown = path[i]
      if (typeof key !== 'string' && typeof key !== 'number') throw corruptRow(label)
      if (typeof parent !== 'object' || parent === null) throw corruptRow(label)
      if (i === path.length - 1) {
        Object.defineProperty(parent, key, {
          value: secret,
          enumerable: true,
          writable: true,
          configurable: true,
        })
      } else {
        const next: unknown = Object.hasOwn(parent, key)
          ? (parent as Record<string | number, unknown>)[key]
          : undefined
        if (next === undefined) {
          // The parent held only secrets, so the document dropped it: recreate it.
          const created = typeof path[i + 1] === 'number' ? [] : {}
          Object.defineProperty(parent, key, {
            value: created,
            enumerable: true,
            writable: true,
            configurable: true,
          })
          parent = created
        } else {
          parent = next
        }
      }
    }
  }
  return root as T
}

/** Removes {@link REFERENCES_KEY} from a parsed document: the references by JSON path. */
function takeReferences(root: Record<string, unknown>, label: string): Map<string, string> {
  const references = new Map<string, string>()
  if (!Object.hasOwn(root, REFERENCES_KEY)) return references
  const list = root[REFERENCES_KEY]
  delete root[REFERENCES_KEY]
  if (!Array.isArray(list)) throw corruptRow(label)
  for (const entry of list) {
    if (!Array.isArray(entry) || entry.length !== 2) throw corruptRow(label)
    const [path, reference] = entry as [unknown, unknown]
    if (!Array.isArray(path) || typeof reference !== 'string') throw corruptRow(label)
    references.set(JSON.stringify(path), reference)
  }
  return references
}

function invalid(label: string, path: readonly (string | number)[], problem: string): CalloutError {
  const where = path.length === 0 ? label : `${label} at ${path.join('.')}`
  return new CalloutError(
    'CONFIG_INVALID',
    `The definition ${where} ${problem}; definitions must be plain JSON data with Secret fields.`,
    { details: { definition: label, path: path.map(String) } },
  )
}

function corruptRow(label: string, cause?: unknown): CalloutError {
  return new CalloutError(
    'STORE_ERROR',
    `The stored definition ${label} is malformed; re-apply it with \`callout apply\`.`,
    cause === undefined
      ? { details: { definition: label } }
      : { cause, details: { definition: label } },
  )
}
