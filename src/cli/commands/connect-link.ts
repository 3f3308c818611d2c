import { parseExpiresIn } from '../../callout/connect-links.ts'
import { openBroker } from '../../callout/open-broker.ts'
import { systemClock } from '../../clock.ts'
import { CalloutError } from '../../errors.ts'
import { AdminAuth } from '../../server/admin/admin-auth.ts'
import type { KyselyStore } from '../../store/kysely-store.ts'
import { println, type CliIo } from '../io.ts'

/** Options of `callout connect-link`. */
export interface ConnectLinkOptions {
  readonly name: string
  readonly user: string
  /** A duration such as `15m`, `2h` or `1d` (default 15m, at most 24h). */
  readonly expires?: string
  /** The origin of the setup console (`callout serve --public-url`); else `CALLOUT_CONSOLE_URL`. */
  readonly consoleUrl?: string
}

/**
 * `callout connect-link <Name> --user <id> [--expires 15m] [--console-url <origin>]`: mints a
 * single-use connect link for one end user of a per-user principal (`broker.connectUrl`) and
 * prints it; only its SHA-256 is stored, and the audit log records who made it for whom.
 *
 * @example
 * // $ callout connect-link Crm --user alice --console-url https://callout.example.com
 * // https://callout.example.com/connect/cl_…
 */
export async function connectLinkCommand(io: CliIo, options: ConnectLinkOptions): Promise<void> {
  const expiresIn = parseExpiresIn(options.expires, '--expires')
  if ((options.consoleUrl ?? io.env.CALLOUT_CONSOLE_URL ?? '') === '') {
    throw new CalloutError(
      'CONSOLE_URL_MISSING',
      'A connect link opens on the console of callout serve: pass --console-url with the origin given to callout serve --public-url (e.g. https://callout.example.com), or set CALLOUT_CONSOLE_URL.',
    )
  }
  const broker = await openBroker({
    env: io.env,
    ...(options.consoleUrl === undefined ? {} : { consoleUrl: options.consoleUrl }),
  })
  try {
    const auth = new AdminAuth({ store: (broker.store as KyselyStore).admin, clock: systemClock })
    const url = await broker.connectUrl(options.name, {
      user: options.user,
      expiresIn,
      createdBy: 'cli',
      audit: (link) =>
        auth.entry({
          actor: 'cli',
          action: 'connectLink.create',
          target: `NamedCredential/${link.namedCredential}`,
          details: { user: link.user, expiresAt: new Date(link.expiresAt).toISOString() },
        }),
    })
    println(io, url)
    io.stderr.write(
      `Send this link to ${options.user.trim()} only: it works once, in one browser, and is shown only now.\n`,
    )
  } finally {
    await broker.close()
  }
}
