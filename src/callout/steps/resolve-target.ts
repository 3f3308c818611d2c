import type { Definitions, ExternalCredential, Principal } from '../../definitions/model.ts'
import { CalloutError } from '../../errors.ts'
import { findNamedCredential, joinCalloutUrl, parseCalloutUrl } from '../callout-url.ts'
import type { GrantContext } from '../../tokens/types.ts'
import type { CalloutOptions, CalloutTarget, CredentialTarget } from '../types.ts'

/**
 * Pipeline step 1: resolves a callout URL against the definitions — the Named Credential, its
 * ExternalCredential, the principal (per-user when a user is named and one exists, else the
 * named principal with the lowest sequence) and the AuthProvider.
 *
 * @example
 * const target = resolveTarget(defs, 'callout:Api/users', { user: 'alice' })
 */
export function resolveTarget(
  defs: Definitions,
  input: string | URL,
  options: CalloutOptions = {},
): CalloutTarget {
  const parsed = parseCalloutUrl(
    input,
    options.allowPlainUrl === true ? { allowPlainUrl: true } : {},
  )
  if (parsed.kind === 'plain') return parsed
  const namedCredential = findNamedCredential(defs, parsed.name)
  const url = joinCalloutUrl(namedCredential.url, parsed)
  const externalCredential = defs.externalCredentials.get(namedCredential.externalCredential)
  if (externalCredential === undefined) {
    throw new CalloutError(
      'CONFIG_INVALID',
      `Named Credential ${namedCredential.name} refers to ExternalCredential ${namedCredential.externalCredential}, which does not exist; define it and apply the configuration again.`,
      { details: { namedCredential: namedCredential.name } },
    )
  }
  const principal = choosePrincipal(externalCredential, options)
  const userId = principal.type === 'per-user' ? (options.user ?? '') : ''
  const providerName = externalCredential.authProvider
  const provider = providerName === undefined ? undefined : defs.authProviders.get(providerName)
  if (externalCredential.protocol === 'oauth2' && provider === undefined) {
    throw new CalloutError(
      'CONFIG_INVALID',
      `ExternalCredential ${externalCredential.name} uses oauth2 but its AuthProvider "${providerName ?? ''}" does not exist.`,
      { details: { externalCredential: externalCredential.name } },
    )
  }
  return {
    kind: 'credential',
    namedCredential,
    externalCredential,
    principal,
    userId,
    url,
    ...(provider === undefined ? {} : { provider }),
  }
}

const sortedPrincipals = new WeakMap<ExternalCredential, readonly Principal[]>()

function principalsOf(ec: ExternalCredential): readonly Principal[] {
  let sorted = sortedPrincipals.get(ec)
  if (sorted === undefined) {
    sorted = [...ec.principals].sort((a, b) => a.sequence - b.sequence)
    sortedPrincipals.set(ec, sorted)
  }
  return sorted
}

function choosePrincipal(ec: ExternalCredential, options: CalloutOptions): Principal {
  const sorted = principalsOf(ec)
  if (options.principal !== undefined) {
    const named = sorted.find((p) => p.name === options.principal)
    if (named === undefined) {
      throw new CalloutError(
        'INVALID_ARGUMENT',
        `ExternalCredential ${ec.name} has no principal "${options.principal}".`,
        { details: { externalCredential: ec.name } },
      )
    }
    if (named.type === 'per-user' && (options.user ?? '') === '') throw userRequired(ec, named)
    return named
  }
  const hasUser = options.user !== undefined && options.user !== ''
  const perUser = sorted.find((p) => p.type === 'per-user')
  if (hasUser && perUser !== undefined) return perUser
  const named = sorted.find((p) => p.type === 'named')
  if (named !== undefined) return named
  if (perUser !== undefined) throw userRequired(ec, perUser)
  if (ec.protocol === 'none')
    return { name: '', type: 'named', sequence: 0, parameters: {}, secrets: {} }
  throw new CalloutError(
    'CONFIG_INVALID',
    `ExternalCredential ${ec.name} has no principal; add one (named or per-user).`,
    { details: { externalCredential: ec.name } },
  )
}

function userRequired(ec: ExternalCredential, principal: Principal): CalloutError {
  return new CalloutError(
    'USER_REQUIRED',
    `Principal ${principal.name} of ExternalCredential ${ec.name} is per-user: name the end user, e.g. broker.fetch(url, { user: 'alice' }).`,
    { details: { externalCredential: ec.name, principal: principal.name } },
  )
}

/** Limits of a {@link ResolvedTargets} cache, in one frozen object. */
export const RESOLVED_TARGETS_DEFAULTS = Object.freeze({
  /** Entries per definitions snapshot (per map); the map is cleared when it is full. */
  maxEntries: 1024,
  /** Longer inputs are resolved on every call and never cached. */
  maxInputLength: 2048,
})

interface SnapshotEntries<T> {
  /** Calls with no user, no principal and no allowPlainUrl: keyed by the input string alone. */
  readonly bare: Map<string, T>
  /** Every other call: keyed by the input and every option that affects resolution. */
  readonly keyed: Map<string, T>
}

/**
 * Memoises {@link resolveTarget} (and whatever the caller derives from a target, `prepare`) per
 * definitions snapshot. Resolution is a pure function of the snapshot, the whole input string and
 * the options `user`, `principal` and `allowPlainUrl` (`client` only matters to the access check,
 * which is not cached); the snapshot is immutable and replaced by a new object on apply/reload, so
 * a `WeakMap` keyed by it drops every entry of an old snapshot. Inputs that fail to resolve are
 * never cached (the error is thrown on every call). Cached values are shared between calls:
 * treat them, and the `URL` in a target, as immutable.
 *
 * @example
 * const targets = new ResolvedTargets((target) => target)
 * targets.get(defs, 'callout:Api/users', { user: 'alice' }) // the same object on every call
 */
export class ResolvedTargets<T> {
  readonly #snapshots = new WeakMap<Definitions, SnapshotEntries<T>>()
  readonly #prepare: (target: CalloutTarget) => T
  readonly #maxEntries: number
  readonly #maxInputLength: number

  constructor(
    prepare: (target: CalloutTarget) => T,
    limits: { readonly maxEntries?: number; readonly maxInputLength?: number } = {},
  ) {
    this.#prepare = prepare
    this.#maxEntries = limits.maxEntries ?? RESOLVED_TARGETS_DEFAULTS.maxEntries
    this.#maxInputLength = limits.maxInputLength ?? RESOLVED_TARGETS_DEFAULTS.maxInputLength
  }

  /** `prepare(resolveTarget(defs, input, options))`, from the cache when possible. */
  get(defs: Definitions, input: string | URL, options: CalloutOptions = {}): T {
    const text = typeof input === 'string' ? input : input instanceof URL ? input.href : undefined
    const { user, principal } = options
    if (
      text === undefined ||
      text.length > this.#maxInputLength ||
      (user !== undefined && typeof user !== 'string') ||
      (principal !== undefined && typeof principal !== 'string')
    ) {
      return this.#prepare(resolveTarget(defs, input, options))
    }
    let entries = this.#snapshots.get(defs)
    if (entries === undefined) {
      entries = { bare: new Map(), keyed: new Map() }
      this.#snapshots.set(defs, entries)
    }
    const plain = options.allowPlainUrl === true
    const bare = user === undefined && principal === undefined && !plain
    const map = bare ? entries.bare : entries.keyed
    // JSON keeps `undefined` (null) apart from '' and cannot be forged by a value containing a separator.
    const key = bare ? text : JSON.stringify([text, user ?? null, principal ?? null, plain])
    let value = map.get(key)
    if (value === undefined) {
      value = this.#prepare(resolveTarget(defs, text, options))
      if (map.size >= this.#maxEntries) map.clear()
      map.set(key, value)
    }
    return value
  }
}

/**
 * The token manager's context for a credential target: its ExternalCredential, principal, user,
 * AuthProvider and Named Credential name.
 *
 * @example
 * const active = await tokens.getToken(grantContextFor(target))
 */
export function grantContextFor(target: CredentialTarget): GrantContext {
  return {
    ec: target.externalCredential,
    principal: target.principal,
    userId: target.userId,
    namedCredential: target.namedCredential.name,
    ...(target.provider === undefined ? {} : { provider: target.provider }),
  }
}
