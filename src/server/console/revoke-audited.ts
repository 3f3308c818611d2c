/**
 * Revocation as the console, the admin API and `callout revoke` run it: `broker.revoke`, and one
 * audit entry whatever the outcome (tokens removed, nothing stored, or the revocation request
 * failed and the tokens were kept). When tokens are removed, their removal and the entry are one
 * transaction: a removal is never stored without its entry. Audit details name the outcome,
 * never a token.
 */
import type { Broker, RevokeOptions, RevokeResult } from '../../callout/broker.ts'
import { isCalloutError } from '../../errors.ts'
import type { AdminAuth } from '../admin/admin-auth.ts'

/** Who revokes (for the audit log). */
export interface RevokeActor {
  readonly actor: string
  readonly remote?: string
}

/**
 * Revokes a Named Credential's tokens (see `Broker.revoke`) and audits it as
 * `namedCredential.revoke` (details: `provider`, `removedLocally`, `user`, `force`, and `code`
 * when it failed). The entry of a removal is written in the removal's transaction; an outcome
 * that changed nothing here (nothing stored, a refused revocation) is audited on its own. Rethrows
 * the broker's error after auditing it.
 *
 * When the server revoked the tokens but their removal and its entry could not be stored, the
 * tokens stay stored (they no longer work) and the store's error is thrown (`details.reason`
 * `removal-failed`): an attempt is made to record that outcome on its own, and its failure does
 * not hide the original error.
 *
 * @example
 * const result = await revokeAudited(broker, auth, 'Target', {}, { actor: 'admin:alice' })
 */
export async function revokeAudited(
  broker: Broker,
  auth: Pick<AdminAuth, 'audit' | 'entry'>,
  name: string,
  options: Omit<RevokeOptions, 'audit'>,
  who: RevokeActor,
): Promise<RevokeResult> {
  const base = {
    actor: who.actor,
    action: 'namedCredential.revoke',
    target: `NamedCredential/${name}`,
    ...(who.remote === undefined ? {} : { remote: who.remote }),
  }
  const asked = {
    ...(options.user === undefined ? {} : { user: options.user }),
    ...(options.force === true ? { force: true } : {}),
  }
  let result: RevokeResult
  try {
    result = await broker.revoke(name, {
      ...options,
      // Asked for only when tokens are removed, inside the removal's transaction.
      audit: ({ provider }) =>
        auth.entry({ ...base, details: { ...asked, provider, removedLocally: true } }),
    })
  } catch (error) {
    if (isCalloutError(error) && error.code !== 'CREDENTIAL_NOT_FOUND') {
      const removalFailed = error.details.reason === 'removal-failed'
      const provider = removalFailed ? String(error.details.provider) : 'failed'
      const failure = auth.audit({
        ...base,
        details: { ...asked, provider, removedLocally: false, code: error.code },
      })
      // The store just refused the removal's entry: the thrown error says what happened.
      if (removalFailed) await failure.catch(() => undefined)
      else await failure
    }
    throw error
  }
  const { audited, ...outcome } = result
  if (audited !== true) {
    // Nothing was removed here (nothing stored, or removed meanwhile): no change to go with.
    await auth.audit({
      ...base,
      details: { ...asked, provider: outcome.provider, removedLocally: outcome.removedLocally },
    })
  }
  return outcome
}
