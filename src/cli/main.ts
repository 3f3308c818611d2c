/**
 * The `callout` command line: the only place that listens on a port or exits the process.
 */
import { Command, CommanderError, Option } from 'commander'
import { homeIo } from './home.ts'
import { EXIT, processIo, reportError, type CliIo } from './io.ts'
import { tuneHeapForServe } from './serve-heap.ts'

const HOME_HELP =
  'the Callout home (default: CALLOUT_HOME, else the nearest .callout/ folder from here up)'

const ENVIRONMENT_HELP = `
Environment:
  CALLOUT_HOME        the Callout home (master.key, callout.db); --home overrides it. Without
                      either, callout uses the nearest .callout/ folder from the current folder
                      up (as git finds .git/), else ./.callout, where \`callout init\` makes one.
  CALLOUT_MASTER_KEY  the master key (base64), instead of <home>/master.key
  CALLOUT_STORE       postgres://… to use PostgreSQL instead of <home>/callout.db
  CALLOUT_LOG_LEVEL   pino log level on stderr (secrets redacted)
`

const collect = (value: string, previous: string[] | undefined): string[] => [
  ...(previous ?? []),
  value,
]

/**
 * Builds the `callout` program for one run. Actions store their exit status in `result.code`.
 * Each command's module is imported when that command runs, so `--help`, `--version` and usage
 * errors answer without loading the broker.
 *
 * @example
 * const result = { code: 0 }
 * await buildProgram(processIo(), result).parseAsync(['list'], { from: 'user' })
 */
export function buildProgram(io: CliIo, result: { code: number }): Command {
  const program = new Command('callout')
    .description('Named Credentials for TypeScript and any language')
    .version('0.1.0')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
    })
    .showHelpAfterError('(run `callout --help` for usage)')
    .addHelpText('after', ENVIRONMENT_HELP)
  // Every command but demo (which makes its own home) runs in the home --home, CALLOUT_HOME or
  // the nearest .callout/ names; the hook resolves it before the action runs.
  let commandIo = io
  program.hook('preAction', (_program, action) => {
    const home = (action.opts() as { home?: unknown }).home
    commandIo =
      action.name() === 'demo' ? io : homeIo(io, typeof home === 'string' ? home : undefined)
  })

  program
    .command('init')
    .description('create the Callout home, a master key (0600) and the store')
    .option('--admin <username>', 'also create the first console admin (asks for a password)')
    .option('--password-stdin', "read the admin's password from standard input")
    .action(async (opts: { admin?: string; passwordStdin?: boolean }) =>
      (await import('./commands/init.ts')).initCommand(commandIo, opts),
    )

  program
    .command('apply')
    .description('validate a config file and write its definitions (all or nothing)')
    .requiredOption('-f, --file <path>', 'the config file (YAML or JSON)')
    .option('--prune', 'delete definitions that are not in the file')
    .option('--dry-run', 'validate and resolve references only (the serve: section too)')
    .action(async (opts: { file: string; prune?: boolean; dryRun?: boolean }) =>
      (await import('./commands/apply.ts')).applyCommand(commandIo, opts),
    )

  program
    .command('export')
    .description('write the definitions as YAML without secrets (${env:…} references instead)')
    .option('-o, --output <path>', 'write to a file instead of stdout')
    .action(async (opts: { output?: string }) =>
      (await import('./commands/export.ts')).exportCommand(commandIo, opts),
    )

  program
    .command('list')
    .description('list the Named Credentials')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) =>
      (await import('./commands/list.ts')).listCommand(commandIo, opts),
    )

  program
    .command('status')
    .description('show each credential\'s principals: "Authenticated as …", expiry, last error')
    .argument('[name]', 'a Named Credential')
    .option('--user <id>', "only this end user's connections of per-user principals")
    .option('--json', 'print JSON')
    .action(async (name: string | undefined, opts: { json?: boolean; user?: string }) => {
      const { statusCommand } = await import('./commands/status.ts')
      result.code = await statusCommand(commandIo, {
        ...(name === undefined ? {} : { name }),
        ...opts,
      })
    })

  program
    .command('doctor')
    .description('check the key, the store and each credential; say what is wrong and what to do')
    .argument('[name]', 'a Named Credential')
    .option(
      '--online',
      'also make a real token request, then GET a path that needs it (Salesforce: /services/data/v61.0/, others: checkPath)',
    )
    .option('--json', 'print the findings as JSON')
    .action(async (name: string | undefined, opts: { online?: boolean; json?: boolean }) => {
      const { doctorCommand } = await import('./commands/doctor.ts')
      result.code = await doctorCommand(commandIo, {
        ...(name === undefined ? {} : { name }),
        ...opts,
      })
    })

  program
    .command('auth')
    .description(
      'authenticate a credential (browser flow: prints a URL and waits for the callback)',
    )
    .argument('<name>', 'the Named Credential')
    .option('--user <id>', 'the end user, for per-user principals')
    .option(
      '--redirect-uri <uri>',
      'loopback redirect URI registered with the app',
      'http://localhost:7171/oauth/callback',
    )
    .option('--no-open', 'do not try to open a browser')
    .addOption(
      new Option('--prompt <prompt>', 'OpenID prompt').choices([
        'login',
        'consent',
        'login consent',
      ]),
    )
    .option('--timeout <seconds>', 'how long to wait for the callback', '300')
    .action(
      async (
        name: string,
        opts: {
          user?: string
          redirectUri: string
          open: boolean
          prompt?: string
          timeout: string
        },
      ) => {
        const { authCommand } = await import('./commands/auth.ts')
        await authCommand(commandIo, { name, ...opts })
      },
    )

  program
    .command('revoke')
    .description(
      "revoke a credential's tokens at the authorization server and remove them (it then needs re-authentication)",
    )
    .argument('<name>', 'the Named Credential')
    .option('--user <id>', 'the end user, for per-user principals')
    .option('--force', 'remove the stored tokens even when the revocation request fails')
    .action(async (name: string, opts: { user?: string; force?: boolean }) => {
      const { revokeCommand } = await import('./commands/revoke.ts')
      await revokeCommand(commandIo, { name, ...opts })
    })

  program
    .command('open')
    .description(
      "open a page of a Salesforce credential's org in the browser, logged in by a one-time frontdoor link",
    )
    .argument('<name>', 'the Named Credential (Salesforce)')
    .argument('<path>', 'the page, relative to the org, e.g. /lightning/r/Account/<id>/view')
    .option('--user <id>', 'the end user, for per-user principals')
    .option('--print', 'print the one-time link instead of opening a browser')
    .action(async (name: string, path: string, opts: { user?: string; print?: boolean }) => {
      const { openCommand } = await import('./commands/open.ts')
      await openCommand(commandIo, { name, path, ...opts })
    })

  program
    .command('connect-link')
    .description(
      'print a single-use link that connects one end user of a per-user credential (opened on the console)',
    )
    .argument('<name>', 'the Named Credential (oauth2 browser flow, per-user principal)')
    .requiredOption('--user <id>', 'the end user the link connects')
    .option('--expires <duration>', 'how long the link stays valid: 90s, 15m, 2h, 1d', '15m')
    .option(
      '--console-url <origin>',
      'the origin of the console (callout serve --public-url); default CALLOUT_CONSOLE_URL',
    )
    .action(async (name: string, opts: { user: string; expires?: string; consoleUrl?: string }) => {
      const { connectLinkCommand } = await import('./commands/connect-link.ts')
      await connectLinkCommand(commandIo, { name, ...opts })
    })

  program
    .command('get')
    .description('GET a callout: URL and print the body (exit 0 on 2xx)')
    .argument('<url>', 'callout:Name/path?query')
    .option('-i, --include', 'print the status line and headers first')
    .option('-H, --header <header>', "request header 'Name: value' (repeatable)", collect)
    .option('--user <id>', 'the end user, for per-user principals')
    .option('--plain', 'allow a plain https:// URL (no credential)')
    .option('--deadline <seconds>', 'give up after this long in total, body included')
    .action(
      async (
        url: string,
        opts: {
          include?: boolean
          header?: string[]
          user?: string
          plain?: boolean
          deadline?: string
        },
      ) => {
        const { requestCommand } = await import('./commands/request.ts')
        result.code = await requestCommand(commandIo, {
          url,
          method: 'GET',
          headers: opts.header ?? [],
          ...strip(opts),
        })
      },
    )

  program
    .command('request')
    .description('make a callout, curl-style, and print the body (exit 0 on 2xx)')
    .argument('<url>', 'callout:Name/path?query')
    .option('-X, --request <method>', 'HTTP method (default GET, or POST with -d)')
    .option('-H, --header <header>', "request header 'Name: value' (repeatable)", collect)
    .option('-d, --data <data>', 'request body: text, @file, or @- for stdin')
    .option('-i, --include', 'print the status line and headers first')
    .option('--user <id>', 'the end user, for per-user principals')
    .option('--plain', 'allow a plain https:// URL (no credential)')
    .option('--deadline <seconds>', 'give up after this long in total, body included')
    .action(
      async (
        url: string,
        opts: {
          deadline?: string
          request?: string
          header?: string[]
          data?: string
          include?: boolean
          user?: string
          plain?: boolean
        },
      ) => {
        const { requestCommand } = await import('./commands/request.ts')
        result.code = await requestCommand(commandIo, {
          url,
          headers: opts.header ?? [],
          ...(opts.request === undefined ? {} : { method: opts.request }),
          ...(opts.data === undefined ? {} : { data: opts.data }),
          ...strip(opts),
        })
      },
    )

  program
    .command('migrate')
    .description(
      "bring the store's schema up to date; with --from and --to, copy one store into another",
    )
    .option('--from <store>', 'copy from this store (sqlite:<path> or postgres://…)')
    .option('--to <store>', 'copy into this store (sqlite:<path> or postgres://…), empty')
    .option('--overwrite', 'with --from/--to: replace everything the --to store holds')
    .action(async (opts: { from?: string; to?: string; overwrite?: boolean }) =>
      (await import('./commands/migrate.ts')).migrateCommand(commandIo, opts),
    )

  program
    .command('rotate-key')
    .description(
      'rotate the master key: re-wrap data keys and re-encrypt every secret, with progress',
    )
    .option(
      '-o, --output <file>',
      'where to write the new key when CALLOUT_MASTER_KEY holds the current one',
    )
    .option('--batch-size <n>', 'rows per transaction', '100')
    .option(
      '--resume',
      'finish an interrupted rotation (the new key in master.key.next, or CALLOUT_MASTER_KEY)',
    )
    .action(async (opts: { output?: string; batchSize: string; resume?: boolean }) =>
      (await import('./commands/rotate-key.ts')).rotateKeyCommand(commandIo, opts),
    )

  program
    .command('serve')
    .description(
      'run the egress proxy (/callout/<Name>/<path>) and the setup console (/, admin login)',
    )
    .option(
      '-f, --file <path>',
      'a config file whose serve: section sets these options (flags override it)',
    )
    .option('--host <host>', 'the address to listen on (default: 127.0.0.1)')
    .option('--port <port>', 'the port to listen on (default: 7070)')
    .option(
      '--public-url <url>',
      'the origin browsers use for the console and OAuth callbacks (default http://<host>:<port>)',
    )
    .option('--no-console', 'serve the proxy only: no console and no admin API')
    .option(
      '--console-insecure-http',
      'UNSAFE: allow the console over plain http on a non-loopback address',
    )
    .option('--no-auth-unsafe-loopback', 'UNSAFE: serve every local process without client keys')
    .option('--max-body-bytes <n>', 'refuse larger request bodies (413)')
    .option('--max-header-bytes <n>', 'refuse larger request headers (431)')
    .option('--client-timeout-ms <n>', 'the client must send its whole request within this')
    .option('--total-timeout-ms <n>', 'each exchange must finish within this (504)')
    .option('--shutdown-timeout-ms <n>', 'on SIGTERM, wait this long for in-flight requests')
    .option('--reload-interval-ms <n>', 'check for applied definitions this often (0: never)')
    .option('--key-cache-ms <n>', 'trust a verified client key this long (revocation delay)')
    .option(
      '--lease-ttl-ms <n>',
      'a refresh lease lives this long unless renewed (a killed instance blocks refreshes this long)',
    )
    .option(
      '--credential-port <name=port>',
      'serve a Named Credential as a bare origin on its own port, for SDKs (repeatable)',
      collect,
    )
    .option(
      '--metrics-token-file <path>',
      'require the token in this file as Authorization: Bearer on /metrics',
    )
    .action(async (opts: Record<string, string | boolean | undefined>) => {
      const { serveCommand } = await import('./commands/serve.ts')
      tuneHeapForServe()
      // commander turns --no-auth-unsafe-loopback into `authUnsafeLoopback: false`, and
      // --no-console into `console: false`
      const { authUnsafeLoopback, console: consoleOn, consoleInsecureHttp, ...rest } = opts
      await serveCommand(commandIo, {
        ...(rest as Record<string, string> & { credentialPort?: string[] }),
        noAuthUnsafeLoopback: authUnsafeLoopback === false,
        noConsole: consoleOn === false,
        consoleInsecureHttp: consoleInsecureHttp === true,
      })
    })

  const keys = program.command('keys').description('client keys of callout serve')
  keys
    .command('create')
    .description('create a client key and print it once')
    .requiredOption('--allow <rules>', 'Name[:METHODS[:/path/prefix*]], comma-separated')
    .option('--any-user', 'may act for end users (Callout-User header)')
    .option('--expires <duration>', 'e.g. 90m, 12h, 30d, 2w')
    .option('--name <name>', 'a label, e.g. ci-bot')
    .action(async (opts: { allow: string; anyUser?: boolean; expires?: string; name?: string }) =>
      (await import('./commands/keys.ts')).keysCreateCommand(commandIo, opts),
    )
  keys
    .command('list')
    .description('list client keys (never the keys themselves)')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) =>
      (await import('./commands/keys.ts')).keysListCommand(commandIo, opts),
    )
  keys
    .command('revoke')
    .description('revoke a client key')
    .argument('<id>', 'the key id shown by `callout keys list`')
    .action(async (id: string) =>
      (await import('./commands/keys.ts')).keysRevokeCommand(commandIo, id),
    )

  const admin = program.command('admin').description('console admins and admin API tokens')
  admin
    .command('create')
    .description('create a console admin (asks for a password, or reads it with --password-stdin)')
    .requiredOption('--username <name>', 'the admin to create')
    .option('--password-stdin', 'read the password from standard input')
    .action(async (opts: { username: string; passwordStdin?: boolean }) =>
      (await import('./commands/admin.ts')).adminCreateCommand(commandIo, opts),
    )
  admin
    .command('password')
    .description("set an admin's password (clears a lockout, ends its sessions)")
    .requiredOption('--username <name>', 'the admin')
    .option('--password-stdin', 'read the password from standard input')
    .action(async (opts: { username: string; passwordStdin?: boolean }) =>
      (await import('./commands/admin.ts')).adminPasswordCommand(commandIo, opts),
    )
  const adminToken = admin.command('token').description('admin API tokens (/admin/api)')
  adminToken
    .command('create')
    .description('create an admin API token and print it once')
    .requiredOption('--name <name>', 'a label, e.g. deploy-bot')
    .option('--expires <duration>', 'e.g. 90m, 12h, 30d, 2w')
    .action(async (opts: { name: string; expires?: string }) =>
      (await import('./commands/admin.ts')).adminTokenCreateCommand(commandIo, opts),
    )
  adminToken
    .command('list')
    .description('list admin API tokens (never the tokens themselves)')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) =>
      (await import('./commands/admin.ts')).adminTokenListCommand(commandIo, opts),
    )
  adminToken
    .command('revoke')
    .description('revoke an admin API token')
    .argument('<id>', 'the token id shown by `callout admin token list`')
    .action(async (id: string) =>
      (await import('./commands/admin.ts')).adminTokenRevokeCommand(commandIo, id),
    )

  program
    .command('demo')
    .description('run the org-to-org demo against a local Salesforce emulator')
    .option('--home <dir>', 'the demo home (recreated)', '.callout-demo')
    .option('--keep', 'leave the orgs, the proxy and the console running until Ctrl-C')
    .action(async (opts: { home: string; keep?: boolean }) => {
      const stop = new Promise<void>((done) => {
        process.once('SIGINT', () => done())
        process.once('SIGTERM', () => done())
      })
      await (
        await import('./commands/demo.ts')
      ).demoCommand(io, {
        home: opts.home,
        keep: opts.keep === true,
        stop,
      })
    })

  const leaves = (command: Command): Command[] =>
    command.commands.length === 0 ? [command] : command.commands.flatMap(leaves)
  for (const command of program.commands.flatMap(leaves)) {
    if (command.name() !== 'demo') command.option('--home <dir>', HOME_HELP)
  }
  return program
}

function strip(opts: { include?: boolean; user?: string; plain?: boolean; deadline?: string }): {
  include?: boolean
  user?: string
  plain?: boolean
  deadline?: string
} {
  return {
    ...(opts.include === undefined ? {} : { include: opts.include }),
    ...(opts.user === undefined ? {} : { user: opts.user }),
    ...(opts.plain === undefined ? {} : { plain: opts.plain }),
    ...(opts.deadline === undefined ? {} : { deadline: opts.deadline }),
  }
}

/**
 * Runs the `callout` command with `argv` (without `node` and the script) and returns the exit
 * status: 0 success, 1 a Callout error (`error <CODE>: …` on stderr), 2 usage, 22 an upstream
 * status outside 2xx.
 *
 * @example
 * process.exitCode = await main(process.argv.slice(2))
 */
export async function main(argv: readonly string[], io: CliIo = processIo()): Promise<number> {
  const result = { code: EXIT.ok as number }
  const program = buildProgram(io, result)
  try {
    await program.parseAsync([...argv], { from: 'user' })
    return result.code
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.exitCode === 0 ? EXIT.ok : EXIT.usage
    }
    return reportError(io, error)
  }
}
