/**
 * Library errors give library advice (`{ user: 'alice' }`, `{ allowPlainUrl: true }`,
 * `broker.authorizeUrl(…)`); on the command line the same failures are fixed with flags. This maps
 * an error's code and details to the advice of the CLI.
 */
import { CalloutError, isCalloutError } from '../errors.ts'

const str = (value: unknown): string | undefined =>
  typeof value === 'string' && value !== '' ? value : undefined

/** `callout auth <Name> [--user <id>]`. */
function authCommand(name: string, user: string | undefined): string {
  return `callout auth ${name}${user === undefined ? '' : ` --user ${user}`}`
}

/**
 * The message the CLI prints for `error`: the library's message with its advice rewritten for the
 * command line (`--user`, `--plain`, `callout auth <Name> --user <id>`), or the message as it is.
 *
 * @example
 * cliMessage(new CalloutError('USER_REQUIRED', "Principal P of E is per-user: pass { user: 'alice' }."))
 * // 'Principal P of E is per-user: pass the end user with --user <id>.'
 */
export function cliMessage(error: CalloutError): string {
  const details = error.details
  switch (error.code) {
    case 'USER_REQUIRED': {
      const what = error.message.split(':', 1)[0] ?? error.message
      return `${what}: pass the end user with --user <id>.`
    }
    case 'CALLOUT_URL_MALFORMED':
      if (details.rule === 'plain-url-not-allowed') {
        return 'A plain URL was given where a callout:Name URL is expected: write callout:<Name>/<path>, or pass --plain to call the URL without any credential.'
      }
      return error.message
    case 'NOT_AUTHENTICATED':
    case 'NEEDS_REAUTH': {
      const name = str(details.namedCredential)
      const at = error.message.search(/ (Send user \S+ a connect link|Run `callout auth )/)
      if (name === undefined || at < 0) return error.message
      return `${error.message.slice(0, at)} Run \`${authCommand(name, str(details.userId))}\`.`
    }
    case 'REVOCATION_FAILED': {
      const name = str(details.namedCredential)
      if (name === undefined || details.reason !== 'provider-failed') return error.message
      const user = str(details.userId)
      return `${error.message} To remove them here anyway, run \`callout revoke ${name}${user === undefined ? '' : ` --user ${user}`} --force\`.`
    }
    case 'MASTER_KEY_MISSING': {
      const path = str(details.path)
      // With a cause the file exists but cannot be read: that message is right as it is.
      if (path === undefined || error.cause !== undefined) return error.message
      return `No master key: CALLOUT_MASTER_KEY is not set and ${path} does not exist. If this project's home is elsewhere, pass --home <dir> or set CALLOUT_HOME (without either, callout uses the nearest .callout/ folder from the current folder up). To create a new home here, run \`callout init\`; to use a key you have, set CALLOUT_MASTER_KEY.`
    }
    default:
      return error.message
  }
}

/**
 * `error` as the CLI reports it: a CalloutError with the CLI's advice (same code, details and
 * cause), anything else unchanged.
 */
export function withCliAdvice(error: unknown): unknown {
  if (!isCalloutError(error)) return error
  const message = cliMessage(error)
  if (message === error.message) return error
  return new CalloutError(error.code, message, { cause: error, details: error.details })
}
