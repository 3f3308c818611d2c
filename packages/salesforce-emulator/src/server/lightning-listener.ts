/**
 * The optional "Lightning" origin of an org: every request gets `302 Found` to the same path on
 * the org's instance origin, like `https://<x>.lightning.force.com/services/data/...` does — the
 * classic Named Credential URL mistake.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { redirect } from '../http/respond.ts'
import type { OrgState } from '../org/org-state.ts'
import { splitTarget } from './org-router.ts'

/** Builds the `request` listener of an org's Lightning origin. */
export function lightningRequestListener(org: OrgState) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    const started = Date.now()
    const { path, search } = splitTarget(req.url)
    res.on('finish', () =>
      org.requestLog.record({
        org: `${org.name}:lightning`,
        method: (req.method ?? 'GET').toUpperCase(),
        path,
        status: res.statusCode,
        at: Date.now(),
        durationMs: Date.now() - started,
      }),
    )
    req.resume()
    redirect(res, `${org.origins.instanceUrl}${path}${search}`)
  }
}
