/**
 * Revocation as the console, the admin API and `callout revoke` run it: `broker.revoke`, then one
 * audit entry whatever the outcome (tokens removed, nothing stored, or the revocation request
 * failed and the tokens were kept). Audit details name the outcome, never a token.
 */
import type { Broker, RevokeOptions, RevokeResult } from '../../callout/broker.ts'
import { isCalloutError } from '../../errors.ts'
import type { Auditor } from './definitions-service.ts'

/** Who revokes (for the audit log). */
export interface RevokeActor {
  readonly actor: string
  readonly remote?: string
}

/**
 * Revokes a Named Credential's tokens (see `Broker.revoke`) and audits it as
 * `namedCredential.revoke` (details: `provider`, `removedLocally`, `user`, `force`, and `code`
 * when it failed). Rethrows the broker's error after auditing it.
 *
 * @example
 * const result = await revokeAudited(broker, (e) => auth.audit(e), 'Target', {}, { actor: 'admin:alice' })
 */
export async function revokeAudited(
  broker: Broker,
  audit: Auditor,
  name: string,
  options: RevokeOptions,
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
    result = await broker.revoke(name, options)
  } catch (error) {
    if (isCalloutError(error) && error.code !== 'CREDENTIAL_NOT_FOUND') {
      await audit({
        ...base,
        details: { ...asked, provider: 'failed', removedLocally: false, code: error.code },
      })
    }
    throw error
  }
  await audit({
    ...base,
    details: { ...asked, provider: result.provider, removedLocally: result.removedLocally },
  })
  return result
}
