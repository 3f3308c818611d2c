import { sessionNotValidForApiAdvice } from '../../providers/salesforce-advice.ts'
import {
  isInvalidSessionBody,
  isSessionNotValidForApi,
  isSoapInvalidSession,
} from '../../providers/salesforce-session.ts'
import { peekBody } from '../body.ts'
import type { CalloutResponse, CredentialTarget } from '../types.ts'

/** The response header that carries Callout's advice on a response it returns untouched. */
export const ADVICE_HEADER = 'callout-advice'

/** What to do with a response before returning it. */
export interface RefreshVerdict {
  /** `refresh`: refresh the token once and retry once. `advise`: return it with advice. */
  readonly action: 'refresh' | 'advise' | 'none'
  /** The response to continue with (its body rebuilt if it was inspected). */
  readonly response: CalloutResponse
  readonly advice?: string
}

/**
 * Pipeline step 4: decides whether a response means "the token was rejected". 401 (and the
 * ExternalCredential's `additionalRefreshStatusCodes`) trigger one refresh for oauth2
 * credentials. For Salesforce providers the body is inspected (capped): a SOAP 500 with
 * `INVALID_SESSION_ID` also triggers a refresh, while "This session is not valid for use with the
 * REST API" does not — a new token has the same scope — and the response gets advice instead.
 *
 * @example
 * const verdict = await refreshVerdict(res, target)
 * if (verdict.action === 'refresh') cred = await tokens.invalidate(ctx, cred.accessToken)
 */
export async function refreshVerdict(
  response: CalloutResponse,
  target: CredentialTarget,
): Promise<RefreshVerdict> {
  return refreshVerdictNow(response, target) ?? refreshVerdictFromBody(response, target)
}

/**
 * {@link refreshVerdict} for the hot path, without a promise: the verdict when the status alone
 * decides (every non-Salesforce response, and Salesforce responses other than 401, 500 and the
 * extra refresh statuses), else `undefined` — the body must be read: call `refreshVerdict`.
 *
 * @example
 * const verdict = refreshVerdictNow(res, target) ?? (await refreshVerdict(res, target))
 */
export function refreshVerdictNow(
  response: CalloutResponse,
  target: CredentialTarget,
): RefreshVerdict | undefined {
  const ec = target.externalCredential
  if (ec.protocol !== 'oauth2') return { action: 'none', response }
  const status = response.statusCode
  const salesforce = target.provider?.type === 'salesforce'
  const trigger = status === 401 || ec.additionalRefreshStatusCodes.includes(status)
  if (!salesforce) return { action: trigger ? 'refresh' : 'none', response }
  if (!trigger && status !== 500) return { action: 'none', response }
  return undefined
}

/** The Salesforce branch: the (capped) body says whether the session was rejected. */
async function refreshVerdictFromBody(
  response: CalloutResponse,
  target: CredentialTarget,
): Promise<RefreshVerdict> {
  const peeked = await peekBody(response.body)
  const rebuilt: CalloutResponse = { ...response, body: peeked.body }
  const verdict = refreshVerdictOfText(response.statusCode, peeked.text, target)
  return verdict.advice === undefined
    ? { action: verdict.action, response: rebuilt }
    : { action: verdict.action, response: rebuilt, advice: verdict.advice }
}

/**
 * The verdict on an answer whose status and (capped, UTF-8) body text are known: what
 * {@link refreshVerdict} decides, for a caller that read the body itself (the proxy's fast path).
 *
 * @example
 * refreshVerdictOfText(401, '[{"errorCode":"INVALID_SESSION_ID","message":"Session expired or invalid"}]', target)
 * // { action: 'refresh' }
 */
export function refreshVerdictOfText(
  status: number,
  text: string,
  target: CredentialTarget,
): { readonly action: RefreshVerdict['action']; readonly advice?: string } {
  const ec = target.externalCredential
  if (ec.protocol !== 'oauth2') return { action: 'none' }
  const trigger = status === 401 || ec.additionalRefreshStatusCodes.includes(status)
  if (target.provider?.type !== 'salesforce') return { action: trigger ? 'refresh' : 'none' }
  if (isSessionNotValidForApi(text)) {
    return {
      action: 'advise',
      advice: sessionNotValidForApiAdvice(ec.name, target.namedCredential.name),
    }
  }
  if (trigger || isInvalidSessionBody(text) || isSoapInvalidSession(text))
    return { action: 'refresh' }
  return { action: 'none' }
}
