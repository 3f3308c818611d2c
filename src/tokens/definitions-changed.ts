import type { ExternalCredential, PrincipalCredential } from '../definitions/model.ts'
import type { ApplyResult, Store } from '../store/types.ts'

/**
 * The ExternalCredentials an apply may have fixed: those it created or updated, and those whose
 * AuthProvider it created or updated.
 *
 * @example
 * const affected = externalCredentialsChangedBy(defs.externalCredentials.values(), result)
 */
export function externalCredentialsChangedBy(
  ecs: Iterable<ExternalCredential>,
  result: ApplyResult,
): ExternalCredential[] {
  const changed = new Set([...result.created, ...result.updated])
  return [...ecs].filter(
    (ec) =>
      changed.has(`externalCredential:${ec.name}`) ||
      (ec.authProvider !== undefined && changed.has(`authProvider:${ec.authProvider}`)),
  )
}

/**
 * Clears the stored last error (and the `error` status; `needs-reauth` too for flows that mint
 * without a user) of every credential of these ExternalCredentials, so that a fixed configuration
 * is tried at once by every process instead of failing with the old error until its cooldown
 * ends. Credentials of the browser flow that need re-authentication keep that status: only a
 * person can fix them. A credential that cannot be written is reported to `onFailure` and left.
 *
 * @example
 * await clearStoredErrors(store, affected)
 */
export async function clearStoredErrors(
  store: Pick<Store, 'listCredentials' | 'compareAndSetCredential'>,
  ecs: readonly ExternalCredential[],
  onFailure: (error: unknown, credential: PrincipalCredential) => void = () => {},
): Promise<void> {
  for (const ec of ecs) {
    for (const credential of await store.listCredentials({ externalCredential: ec.name })) {
      if (credential.lastError === undefined) continue
      if (credential.status === 'needs-reauth' && ec.flow === 'browser') continue
      const { lastError: _lastError, version, ...rest } = credential
      const status =
        credential.status === 'error' || credential.status === 'needs-reauth'
          ? credential.accessToken === undefined
            ? 'not-configured'
            : 'authenticated'
          : credential.status
      await store
        .compareAndSetCredential({ ...rest, status }, version)
        .catch((error: unknown) => onFailure(error, credential))
    }
  }
}
