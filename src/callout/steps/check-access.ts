import { CalloutError } from '../../errors.ts'
import type { CalloutTarget } from '../types.ts'

/**
 * Decides whether a caller may use a target. The proxy installs one backed by client keys
 * (`ck_…`); the library's default allows everything its own process asks for.
 *
 * @example
 * const policy: AccessPolicy = ({ client, target }) =>
 *   target.kind === 'plain' || allowed(client, target.namedCredential.name)
 */
export type AccessPolicy = (request: {
  readonly client?: string
  readonly target: CalloutTarget
}) => boolean | Promise<boolean>

/** The library default: the process that opened the broker may use every credential. */
export const allowAll: AccessPolicy = () => true

/**
 * Pipeline step: the access check. Per-user principals need a user (also enforced when the
 * principal is chosen); the policy decides the rest. Throws `ACCESS_DENIED` or `USER_REQUIRED`.
 *
 * @example
 * await checkAccess(target, allowAll)
 */
export async function checkAccess(
  target: CalloutTarget,
  policy: AccessPolicy,
  client?: string,
): Promise<void> {
  await checkAccessNow(target, policy, client)
}

/**
 * {@link checkAccess} for the hot path: decides at once (returns `undefined` or throws) when the
 * policy answers synchronously — always for {@link allowAll} — and returns a promise only when the
 * policy does. Same checks, same errors.
 *
 * @example
 * const pending = checkAccessNow(target, policy, client)
 * if (pending !== undefined) await pending
 */
export function checkAccessNow(
  target: CalloutTarget,
  policy: AccessPolicy,
  client?: string,
): Promise<void> | undefined {
  if (
    target.kind === 'credential' &&
    target.principal.type === 'per-user' &&
    target.userId === ''
  ) {
    throw new CalloutError(
      'USER_REQUIRED',
      `Named Credential ${target.namedCredential.name} uses a per-user principal: pass { user: '<end user>' }.`,
      { details: { namedCredential: target.namedCredential.name } },
    )
  }
  if (policy === allowAll) return undefined
  const allowed = policy(client === undefined ? { target } : { client, target })
  if (typeof allowed === 'boolean') {
    if (!allowed) throw denied(target, client)
    return undefined
  }
  return Promise.resolve(allowed).then((ok) => {
    if (!ok) throw denied(target, client)
  })
}

function denied(target: CalloutTarget, client: string | undefined): CalloutError {
  const name = target.kind === 'credential' ? target.namedCredential.name : target.url.origin
  return new CalloutError(
    'ACCESS_DENIED',
    `This client may not call ${name}; ask an administrator to grant it access.`,
    { details: { target: name, ...(client === undefined ? {} : { client }) } },
  )
}
