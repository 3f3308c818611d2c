/**
 * An in-memory {@link Store} for unit tests of the token manager and the callout pipeline. It
 * keeps the contract's semantics that matter upstairs: compare-and-swap on `version`, leases with
 * expiry, single-use pending authorizations. Definitions are kept as given (no encryption).
 */
import type {
  AuthProvider,
  CredentialKey,
  Definitions,
  ExternalCredential,
  NamedCredential,
  PrincipalCredential,
} from '../../src/definitions/model.ts'
import { credentialKeyString } from '../../src/definitions/model.ts'
import type { ApplyResult, PendingAuthorization, Store } from '../../src/store/types.ts'

export class MemoryStore implements Store {
  readonly dialect = 'sqlite' as const
  readonly authProviders = new Map<string, AuthProvider>()
  readonly externalCredentials = new Map<string, ExternalCredential>()
  readonly namedCredentials = new Map<string, NamedCredential>()
  readonly credentials = new Map<string, PrincipalCredential>()
  readonly leases = new Map<string, { holder: string; until: number }>()
  readonly pending = new Map<string, PendingAuthorization>()
  /** Counts calls, for assertions. */
  readonly calls = { getCredential: 0, compareAndSet: 0, acquireLease: 0 }

  constructor(defs?: Definitions) {
    if (defs !== undefined) this.#apply(defs)
  }

  async migrate(): Promise<void> {}

  async loadDefinitions(): Promise<Definitions> {
    return {
      authProviders: new Map(this.authProviders),
      externalCredentials: new Map(this.externalCredentials),
      namedCredentials: new Map(this.namedCredentials),
    }
  }

  #apply(defs: Definitions): string[] {
    for (const d of defs.authProviders.values()) this.authProviders.set(d.name, d)
    for (const d of defs.externalCredentials.values()) this.externalCredentials.set(d.name, d)
    for (const d of defs.namedCredentials.values()) this.namedCredentials.set(d.name, d)
    const names = [
      ...defs.authProviders.keys(),
      ...defs.externalCredentials.keys(),
      ...defs.namedCredentials.keys(),
    ]
    return names
  }

  async applyDefinitions(defs: Definitions): Promise<ApplyResult> {
    return { created: [], updated: this.#apply(defs), unchanged: [], deleted: [] }
  }
  async putAuthProvider(def: AuthProvider): Promise<void> {
    this.authProviders.set(def.name, def)
  }
  async putExternalCredential(def: ExternalCredential): Promise<void> {
    this.externalCredentials.set(def.name, def)
  }
  async putNamedCredential(def: NamedCredential): Promise<void> {
    this.namedCredentials.set(def.name, def)
  }
  async deleteDefinition(
    kind: 'authProvider' | 'externalCredential' | 'namedCredential',
    name: string,
  ): Promise<boolean> {
    const map =
      kind === 'authProvider'
        ? this.authProviders
        : kind === 'externalCredential'
          ? this.externalCredentials
          : this.namedCredentials
    return map.delete(name)
  }

  async getCredential(key: CredentialKey): Promise<PrincipalCredential | undefined> {
    this.calls.getCredential++
    return this.credentials.get(credentialKeyString(key))
  }
  async listCredentials(filter?: { externalCredential?: string }): Promise<PrincipalCredential[]> {
    return [...this.credentials.values()].filter(
      (c) =>
        filter?.externalCredential === undefined ||
        c.externalCredential === filter.externalCredential,
    )
  }
  async compareAndSetCredential(
    next: Omit<PrincipalCredential, 'version'>,
    expectedVersion: number,
  ): Promise<PrincipalCredential | undefined> {
    this.calls.compareAndSet++
    const k = credentialKeyString(next)
    const current = this.credentials.get(k)
    if ((current?.version ?? 0) !== expectedVersion) return undefined
    const stored = { ...next, version: expectedVersion + 1 } as PrincipalCredential
    this.credentials.set(k, stored)
    return stored
  }
  async deleteCredential(key: CredentialKey): Promise<boolean> {
    return this.credentials.delete(credentialKeyString(key))
  }

  async putPendingAuthorization(pending: PendingAuthorization): Promise<void> {
    this.pending.set(pending.state, pending)
  }
  async takePendingAuthorization(
    state: string,
    now: number,
  ): Promise<PendingAuthorization | undefined> {
    const p = this.pending.get(state)
    this.pending.delete(state)
    return p !== undefined && p.expiresAt > now ? p : undefined
  }

  async acquireLease(name: string, holder: string, ttlMs: number): Promise<boolean> {
    this.calls.acquireLease++
    const lease = this.leases.get(name)
    if (lease !== undefined && lease.until > Date.now() && lease.holder !== holder) return false
    this.leases.set(name, { holder, until: Date.now() + ttlMs })
    return true
  }
  async renewLease(name: string, holder: string, ttlMs: number): Promise<boolean> {
    const lease = this.leases.get(name)
    if (lease?.holder !== holder) return false
    lease.until = Date.now() + ttlMs
    return true
  }
  async releaseLease(name: string, holder: string): Promise<void> {
    if (this.leases.get(name)?.holder === holder) this.leases.delete(name)
  }

  async close(): Promise<void> {}
}
