/** What every grant handler receives. */
import type { OrgState } from '../../org/org-state.ts'
import type { PresentedClient } from '../client-auth.ts'

/** The inputs of one token request. */
export interface GrantContext {
  org: OrgState
  form: URLSearchParams
  client: PresentedClient
}

/** A grant handler: returns the response body or throws an `OAuthError`. */
export type GrantHandler = (
  ctx: GrantContext,
) => Promise<Record<string, string | number>> | Record<string, string | number>
