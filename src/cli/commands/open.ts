import { openBroker } from '../../callout/open-broker.ts'
import { CalloutError } from '../../errors.ts'
import { println, type CliIo } from '../io.ts'
import { openBrowser } from '../open-browser.ts'

/** Options of `callout open`. */
export interface OpenCommandOptions {
  readonly name: string
  readonly path: string
  readonly user?: string
  /** Print the one-time link instead of opening a browser. */
  readonly print?: boolean
}

/**
 * `callout open <Name> <path>`: opens `path` in the Salesforce org of a Named Credential, logged
 * in through a single-use frontdoor URL (`broker.frontdoorUrl`). The browser is started with a
 * minimal environment, as for `callout auth`. With `--print` the URL goes to stdout and a warning
 * that it is a one-time login link to stderr; without a browser to start (not a terminal) the
 * command refuses rather than print the link unasked.
 *
 * @example
 * // $ callout open Target /lightning/r/Account/001xx0000000001AAA/view
 * // opening /lightning/r/Account/001xx0000000001AAA/view in Target's org (one-time login link)
 */
export async function openCommand(io: CliIo, options: OpenCommandOptions): Promise<void> {
  const broker = await openBroker({ env: io.env })
  try {
    const url = await broker.frontdoorUrl(options.name, {
      path: options.path,
      ...(options.user === undefined ? {} : { user: options.user }),
    })
    if (options.print === true) {
      io.stderr.write(
        `warning: this is a one-time login link to ${options.name}'s org as its principal: open it once, soon (it expires within minutes), and do not share, store or log it\n`,
      )
      println(io, url)
      return
    }
    if (!io.interactive || !openBrowser(url, io.env)) {
      throw new CalloutError(
        'INVALID_ARGUMENT',
        'No browser could be opened here (not an interactive terminal, or no opener found); run callout open again with --print to print the one-time link instead.',
      )
    }
    println(io, `opening ${options.path} in ${options.name}'s org (one-time login link)`)
  } finally {
    await broker.close()
  }
}
