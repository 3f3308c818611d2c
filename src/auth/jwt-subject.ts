/**
 * The `sub` claim of a JWT (the `jwt` protocol and the `jwt-bearer` flow): the principal's
 * `subject` or `username` parameter, else the ExternalCredential's `jwt.subject`, in which merge
 * fields are evaluated — `{!$User.Username}` is the end user of a per-user principal (the `user`
 * option), `{!$Credential.<ExternalCredential>.<parameter>}` a principal parameter. Secrets are
 * never readable here: a subject is sent in clear inside the JWT.
 */
import type { ExternalCredential, Principal } from '../definitions/model.ts'
import { CalloutError, isCalloutError } from '../errors.ts'
import { mergeTemplate } from './formula.ts'

/**
 * The JWT subject for `principal` acting for `user` (`''` for named principals), or `undefined`
 * when none is configured.
 *
 * @throws CalloutError `USER_REQUIRED` when a per-user principal is given no user;
 *   `FORMULA_INVALID` when `jwt.subject` reads an unknown merge field, or `$User.Username` on a
 *   named principal.
 * @example
 * jwtSubject(ec, principal, 'alice') // 'alice@acme.test' for jwt.subject "{!$User.Username & '@acme.test'}"
 */
export function jwtSubject(
  ec: ExternalCredential,
  principal: Principal,
  user: string,
): string | undefined {
  const fixed = principal.parameters.subject ?? principal.parameters.username
  if (fixed !== undefined) return fixed
  const template = ec.jwt?.subject
  if (template === undefined) return undefined
  const perUser = principal.type === 'per-user'
  if (perUser && user === '') {
    throw new CalloutError(
      'USER_REQUIRED',
      `Principal ${principal.name} of ${ec.name} is per-user: its JWT subject names the end user, so pass the user (e.g. { user: 'alice' }).`,
      { details: { externalCredential: ec.name, principal: principal.name } },
    )
  }
  return mergeTemplate(template, {
    externalCredential: ec.name,
    parameters: principal.parameters,
    secrets: {},
    ...(perUser ? { user: { username: user } } : {}),
  })
}

/** One problem found by {@link checkJwtSubjects}. */
export interface JwtSubjectIssue {
  readonly path: string
  readonly message: string
}

/**
 * Apply-time check of the subjects of every `jwt` and `jwt-bearer` principal: the subject must
 * evaluate, and a per-user principal must give two users two subjects (a fixed subject would let
 * every user act as one identity).
 *
 * @example
 * checkJwtSubjects(ec) // [] when fine
 */
export function checkJwtSubjects(ec: ExternalCredential): JwtSubjectIssue[] {
  const usesJwt = ec.protocol === 'jwt' || (ec.protocol === 'oauth2' && ec.flow === 'jwt-bearer')
  if (!usesJwt) return []
  const issues: JwtSubjectIssue[] = []
  for (const principal of ec.principals) {
    const at = `externalCredentials.${ec.name}.principals.${principal.name}`
    try {
      if (principal.type === 'named') {
        jwtSubject(ec, principal, '')
        continue
      }
      const fixed = principal.parameters.subject === undefined ? 'username' : 'subject'
      if (principal.parameters[fixed] !== undefined) {
        issues.push({
          path: `${at}.parameters.${fixed}`,
          message: `is one fixed JWT subject for every user of this per-user principal — remove it and set jwt.subject to a formula such as {!$User.Username}`,
        })
        continue
      }
      const subject = jwtSubject(ec, principal, 'user-a')
      if (subject !== undefined && subject === jwtSubject(ec, principal, 'user-b')) {
        issues.push({
          path: `externalCredentials.${ec.name}.jwt.subject`,
          message: `gives every user of the per-user principal ${principal.name} the same JWT subject — use {!$User.Username} in it (the user option), e.g. {!$User.Username & '@example.com'}`,
        })
      }
    } catch (error) {
      if (!isCalloutError(error)) throw error
      issues.push({ path: `externalCredentials.${ec.name}.jwt.subject`, message: error.message })
    }
  }
  return issues
}
