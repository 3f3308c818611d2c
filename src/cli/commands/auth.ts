import { openBroker } from '../../callout/open-broker.ts'
import { CalloutError } from '../../errors.ts'
import { startCallbackServer } from '../callback-server.ts'
import { println, type CliIo } from '../io.ts'
import { openBrowser } from '../open-browser.ts'
import { refreshScopeProblem } from '../../callout/refresh-scope.ts'

/** Options of `callout auth`. */
export interface AuthCommandOptions {
  readonly name: string
  readonly user?: string
  /** Loopback redirect URI registered as the app's callback URL. */
  readonly redirectUri: string
  /** Try to open a browser (only when interactive). */
  readonly open: boolean
  readonly prompt?: string
  /** Seconds to wait for the callback. */
  readonly timeout: string
}

const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)

const page = (title: string, text: string): string =>
  `<!doctype html><meta charset="utf-8"><title>${escapeHtml(title)}</title>` +
  `<body style="font-family:system-ui;margin:3rem"><h1>${escapeHtml(title)}</h1><p>${escapeHtml(text)}</p></body>`

/**
 * `callout auth <Name>`: authenticates a credential. For the browser flow it listens on the
 * loopback redirect URI, prints the authorization URL (and opens a browser when it can), waits for
 * the callback, exchanges the code and prints "Authenticated as <username>". For the other OAuth
 * flows it obtains a token now, so configuration problems show up before the first callout.
 *
 * @example
 * // $ callout auth Target
 * // open this URL to authenticate Target: https://login.salesforce.com/services/oauth2/authorize?…
 * // Authenticated as integration@target.example
 */
export async function authCommand(io: CliIo, options: AuthCommandOptions): Promise<void> {
  const timeoutSeconds = Number(options.timeout)
  if (!Number.isFinite(timeoutSeconds) || timeoutSeconds <= 0 || timeoutSeconds > 3600) {
    throw new CalloutError(
      'INVALID_ARGUMENT',
      '--timeout must be a number of seconds between 1 and 3600.',
    )
  }
  const broker = await openBroker({ env: io.env })
  try {
    const user = options.user === undefined ? {} : { user: options.user }
    const [current] = await broker.status(options.name)
    if (current !== undefined && current.protocol !== 'oauth2') {
      throw new CalloutError(
        'INVALID_ARGUMENT',
        `${options.name} uses ${current.protocol} credentials: there is nothing to authenticate; callouts use the stored credentials as they are.`,
        { details: { namedCredential: options.name } },
      )
    }
    if (current?.flow !== 'browser') {
      const report = await broker.authenticate(options.name, user)
      for (const p of report.principals) println(io, `${report.name} ${p.principal}: ${p.summary}`)
      return
    }
    const ec = broker.definitions.externalCredentials.get(current.externalCredential)
    const provider =
      ec?.authProvider === undefined
        ? undefined
        : broker.definitions.authProviders.get(ec.authProvider)
    const scopeProblem =
      ec === undefined
        ? undefined
        : refreshScopeProblem(ec, provider, `run callout auth ${options.name}`)
    if (scopeProblem !== undefined) {
      io.stderr.write(`warning: ${scopeProblem.what} — ${scopeProblem.todo}\n`)
    }
    const server = await startCallbackServer(options.redirectUri)
    try {
      const { url, state } = await broker.authorizeUrl(options.name, {
        redirectUri: server.redirectUri,
        ...user,
        ...(options.prompt === undefined ? {} : { prompt: options.prompt }),
      })
      println(io, `open this URL to authenticate ${options.name}:`)
      println(io, `  ${url}`)
      if (options.open && io.interactive && openBrowser(url, io.env))
        println(io, '(opening your browser)')
      println(io, `waiting for the callback on ${server.redirectUri} …`)
      const callback = await server.next(timeoutSeconds * 1000, {
        state,
        onStray: () =>
          io.stderr.write(
            'note: ignored a request to the callback URL whose state does not match this login (another page or an old login); still waiting\n',
          ),
      })
      try {
        const report = await broker.completeAuthorization(callback.url.href, user)
        const summary = report.principals.map((p) => p.summary).join('; ')
        callback.respond(
          200,
          page('Callout: authenticated', `${options.name}: ${summary}. You can close this window.`),
        )
        println(io, `${options.name}: ${summary}`)
        if (
          scopeProblem === undefined &&
          report.principals.some((p) => p.hasRefreshToken === false)
        ) {
          io.stderr.write(
            `warning: no refresh token was issued: the credential stops working when the access token expires — add ${provider?.type === 'salesforce' ? 'refresh_token' : 'offline_access'} to the scope (and allow it on the app), then run callout auth ${options.name}\n`,
          )
        }
      } catch (error) {
        const code = error instanceof CalloutError ? error.code : 'INTERNAL'
        callback.respond(
          400,
          page('Callout: authentication failed', `${code}. See the terminal for what to do next.`),
        )
        throw error
      }
    } finally {
      await server.close()
    }
  } finally {
    await broker.close()
  }
}
