import { resolve } from 'node:path'
import { checkFormulas } from '../../auth/formula-check.ts'
import { loadConfigFile } from '../../definitions/index.ts'
import { formatOf, parseConfigText, readConfigText } from '../../definitions/config-file.ts'
import { closest } from '../../definitions/issues.ts'
import type { Definitions } from '../../definitions/model.ts'
import { loadServeConfig } from '../../definitions/serve-config.ts'
import { resolveHome } from '../../secrets/index.ts'
import { openStore } from '../../store/index.ts'
import {
  clearStoredErrors,
  externalCredentialsChangedBy,
} from '../../tokens/definitions-changed.ts'
import { println, type CliIo } from '../io.ts'
import { refreshScopeWarnings } from '../refresh-scope.ts'
import { serveSettings } from '../serve-settings.ts'

/** Options of `callout apply`. */
export interface ApplyCommandOptions {
  readonly file: string
  /** Delete definitions that are not in the file. */
  readonly prune?: boolean
  /** Validate and resolve references only (the `serve:` section too); write nothing. */
  readonly dryRun?: boolean
}

/**
 * Checks the file's `serve:` section as `callout serve -f <file>` would (keys, ranges, ports,
 * references, the loopback-only no-key switch); a credential port naming a Named Credential the
 * file does not define is a warning (the store may hold it). False when the file has no section.
 */
async function checkServeSection(io: CliIo, path: string, defs: Definitions): Promise<boolean> {
  const { file, text } = await readConfigText(path)
  const document = parseConfigText(text, formatOf(file), file)
  if (document === null || typeof document !== 'object' || !('serve' in document)) return false
  const settings = serveSettings({}, await loadServeConfig(path, { env: io.env }))
  const names = [...defs.namedCredentials.keys()]
  for (const p of settings.credentialPorts) {
    if (names.includes(p.name)) continue
    const suggestion = closest(p.name, names)
    io.stderr.write(
      `warning: ${p.from} names the Named Credential ${p.name}, which this file does not define${suggestion === undefined ? '' : ` — did you mean ${suggestion}?`}; callout serve refuses to start unless the store holds it (\`callout list\` shows the names).\n`,
    )
  }
  return true
}

/**
 * `callout apply -f <file>`: validates a config file, resolves its `${env:…}`/`${file:…}`
 * references and writes the definitions in one transaction (all or nothing). Warnings (insecure
 * switches, the password flow, a browser flow whose scope gets no refresh token) go to stderr as
 * `warning: <path>: …`.
 *
 * @example
 * // $ callout apply -f callout.yaml
 * // created namedCredential Api
 */
export async function applyCommand(io: CliIo, options: ApplyCommandOptions): Promise<void> {
  const path = resolve(io.cwd, options.file)
  const defs = await loadConfigFile(path, {
    env: io.env,
    onWarning: (w) => io.stderr.write(`warning: ${w.path}: ${w.message}\n`),
  })
  checkFormulas(defs)
  for (const line of refreshScopeWarnings(defs)) io.stderr.write(`warning: ${line}\n`)
  const count = defs.authProviders.size + defs.externalCredentials.size + defs.namedCredentials.size
  if (options.dryRun === true) {
    const serve = await checkServeSection(io, path, defs)
    println(
      io,
      `${path}: valid (${count} definitions${serve ? ' and the serve: section' : ''}); nothing written (--dry-run)`,
    )
    return
  }
  const store = await openStore({ home: resolveHome(io.env), env: io.env })
  try {
    const result = await store.applyDefinitions(defs, { prune: options.prune === true })
    // A fixed configuration is tried at once, by every process: clear the stored errors it may fix.
    await clearStoredErrors(
      store,
      externalCredentialsChangedBy(defs.externalCredentials.values(), result),
      (error, credential) =>
        io.stderr.write(
          `warning: could not clear the last error of ${credential.externalCredential}/${credential.principal}: ${error instanceof Error ? error.message : String(error)}\n`,
        ),
    )
    for (const name of result.created) println(io, `created ${name}`)
    for (const name of result.updated) println(io, `updated ${name}`)
    for (const name of result.deleted) println(io, `deleted ${name}`)
    println(
      io,
      `applied ${path}: ${result.created.length} created, ${result.updated.length} updated, ` +
        `${result.unchanged.length} unchanged, ${result.deleted.length} deleted`,
    )
  } finally {
    await store.close()
  }
}
