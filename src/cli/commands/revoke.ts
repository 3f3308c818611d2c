import { systemClock } from '../../clock.ts'
import { openBroker } from '../../callout/open-broker.ts'
import { AdminAuth } from '../../server/admin/admin-auth.ts'
import { revokeAudited } from '../../server/console/revoke-audited.ts'
import { println, type CliIo } from '../io.ts'
import { withStore } from './keys.ts'

/** Options of `callout revoke`. */
export interface RevokeCommandOptions {
  readonly name: string
  readonly user?: string
  /** Remove the stored tokens even when the revocation request fails. */
  readonly force?: boolean
}

/**
 * `callout revoke <Name> [--user <id>] [--force]`: revokes the principal's refresh token (or its
 * access token when there is none) at the authorization server, removes the stored tokens and
 * prints what happened; audited as `namedCredential.revoke` by `cli` (a failure too). When the revocation request
 * fails the tokens are kept (exit 1) unless `--force` is given.
 *
 * @example
 * // $ callout revoke Target
 * // The refresh token of principal Default of ExternalCredential Target was revoked at the authorization server and the stored tokens were removed.
 */
export async function revokeCommand(io: CliIo, options: RevokeCommandOptions): Promise<void> {
  await withStore(io, async (store) => {
    const broker = await openBroker({ store, env: io.env })
    try {
      const auth = new AdminAuth({ store: store.admin, clock: systemClock })
      const result = await revokeAudited(
        broker,
        auth,
        options.name,
        {
          ...(options.user === undefined ? {} : { user: options.user }),
          ...(options.force === true ? { force: true } : {}),
        },
        { actor: 'cli' },
      )
      if (result.provider === 'no-endpoint' || result.provider === 'failed') {
        io.stderr.write(`warning: ${result.message}\n`)
      } else {
        println(io, result.message)
      }
    } finally {
      await broker.close()
    }
  })
}
