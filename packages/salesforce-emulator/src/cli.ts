/**
 * The `salesforce-emulator` command: starts the orgs of a seed file and prints their URLs (and
 * consumer keys; secrets and passwords only with `--show-secrets`), then runs until SIGINT or
 * SIGTERM.
 *
 * @example salesforce-emulator --seed orgs.yaml --port 7070
 */
import { parseArgs } from 'node:util'
import { startEmulator, type Emulator } from './emulator.ts'

/** Usage text. */
export const USAGE = `Usage: salesforce-emulator [--seed <file.yaml|file.json>] [--port <n>] [--show-secrets]

  --seed <file>     orgs, users and connected apps to emulate (default: one org named "default")
  --port <n>        port of the first org (default: a free port)
  --show-secrets    also print consumer secrets and user passwords
  --help            show this help
`

/** Where the CLI writes. */
export interface CliOutput {
  out(line: string): void
  err(line: string): void
}

const consoleOutput: CliOutput = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
}

/**
 * Parses arguments, starts the emulator and prints its orgs. Returns the running emulator, or
 * undefined after printing help or an error (then `process.exitCode` is set).
 */
export async function runCli(
  argv: string[],
  output: CliOutput = consoleOutput,
): Promise<Emulator | undefined> {
  let values: {
    seed?: string | undefined
    port?: string | undefined
    'show-secrets'?: boolean | undefined
    help?: boolean | undefined
  }
  try {
    values = parseArgs({
      args: argv,
      options: {
        seed: { type: 'string' },
        port: { type: 'string' },
        'show-secrets': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }).values
  } catch (err) {
    output.err(err instanceof Error ? err.message : String(err))
    output.err(USAGE)
    process.exitCode = 2
    return undefined
  }
  if (values.help === true) {
    output.out(USAGE)
    return undefined
  }
  const port = values.port === undefined ? undefined : Number(values.port)
  if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) {
    output.err(`--port must be an integer from 0 to 65535, got ${values.port}`)
    process.exitCode = 2
    return undefined
  }
  let emulator: Emulator
  try {
    emulator = await startEmulator(values.seed, port === undefined ? {} : { port })
  } catch (err) {
    output.err(err instanceof Error ? err.message : String(err))
    process.exitCode = 1
    return undefined
  }
  const secrets = values['show-secrets'] === true
  for (const org of emulator.orgs) {
    output.out(`org ${org.name} (${org.orgId})`)
    output.out(`  instance URL:  ${org.instanceUrl}`)
    output.out(`  login URL:     ${org.loginUrl}`)
    if (org.lightningUrl !== undefined) output.out(`  Lightning URL: ${org.lightningUrl}`)
    for (const app of org.connectedApps) {
      output.out(`  connected app ${app.name}: consumer key ${app.consumerKey}`)
      if (secrets) output.out(`    consumer secret ${app.consumerSecret}`)
    }
    for (const user of org.users) {
      output.out(`  user ${user.username}${secrets ? ` password ${user.password}` : ''}`)
    }
  }
  output.out('salesforce-emulator ready; Ctrl-C to stop')
  return emulator
}

/** Runs the CLI until SIGINT/SIGTERM. */
export async function main(argv: string[]): Promise<void> {
  const emulator = await runCli(argv)
  if (emulator === undefined) return
  const stop = (): void => {
    void emulator.close().then(() => process.exit(0))
  }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
}
