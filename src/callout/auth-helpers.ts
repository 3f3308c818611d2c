import { basicAuthorization } from '../auth/basic.ts'
import {
  compileFormula,
  evaluateFormula,
  mergeTemplate,
  type CompiledFormula,
  type FormulaContext,
} from '../auth/formula.ts'
import { signCallJwt } from '../auth/jwt-protocol.ts'
import { sigV4CredentialsFromPrincipal, signSigV4 } from '../auth/sigv4.ts'
import { systemClock, type Clock } from '../clock.ts'
import { CalloutError } from '../errors.ts'
import { Secret } from '../secrets/secret.ts'
import type { Authenticators, FormulaScope } from './steps/authenticate.ts'

const MAX_COMPILED = 1_000

function formulaContext(scope: FormulaScope): FormulaContext {
  return {
    externalCredential: scope.externalCredential.name,
    parameters: scope.principal.parameters,
    secrets: scope.principal.secrets,
    ...(scope.credential === undefined ? {} : { token: scope.credential.accessToken }),
  }
}

/**
 * The {@link Authenticators} over `src/auth`: HTTP Basic, the formula language (compiled once per
 * source, cached), per-call JWTs (jose) and AWS SigV4.
 *
 * @example
 * const pipeline = new CalloutPipeline({ ..., authenticators: createAuthenticators({ clock }) })
 */
export function createAuthenticators(options: { readonly clock?: Clock } = {}): Authenticators {
  const clock = options.clock ?? systemClock
  const compiled = new Map<string, CompiledFormula>()
  const compile = (source: string): CompiledFormula => {
    let f = compiled.get(source)
    if (f === undefined) {
      f = compileFormula(source)
      if (compiled.size >= MAX_COMPILED) compiled.clear()
      compiled.set(source, f)
    }
    return f
  }
  return {
    basic: (username, password) => basicAuthorization(username, password),
    formula: (source, scope) => evaluateFormula(compile(source), formulaContext(scope)),
    merge: (text, scope) => mergeTemplate(text, formulaContext(scope)),
    callJwt: async (scope) =>
      new Secret(
        await signCallJwt(scope.externalCredential, scope.principal, {
          clock,
          user: scope.userId,
        }),
      ),
    sigv4: async (request, scope) => {
      const settings = scope.externalCredential.sigv4
      if (settings === undefined) {
        throw new CalloutError(
          'CONFIG_INVALID',
          `ExternalCredential ${scope.externalCredential.name} uses aws-sigv4 but has no sigv4 { region, service }.`,
        )
      }
      const body = request.body
      if (body !== undefined && typeof body === 'object' && !(body instanceof Uint8Array)) {
        throw new CalloutError(
          'BODY_NOT_REPLAYABLE',
          'An aws-sigv4 request body must be a string or bytes (SigV4 signs the body hash); streams cannot be signed.',
        )
      }
      return signSigV4(
        {
          method: request.method,
          url: request.url,
          headers: request.headers,
          ...(body === undefined ? {} : { body }),
        },
        sigV4CredentialsFromPrincipal(scope.principal),
        settings,
        { clock },
      )
    },
  }
}
