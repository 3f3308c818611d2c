import { writeFile } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import { stringify } from 'yaml'
import { exportDefinitions, exportSecrets } from '../../definitions/index.ts'
import { resolveHome } from '../../secrets/index.ts'
import { openStore } from '../../store/index.ts'
import { println, type CliIo } from '../io.ts'

/**
 * `callout export [-o file]`: the definitions as YAML without secrets, fields at their default left
 * out. Each secret is written as the `${env:…}`/`${file:…}` reference it was applied from, so the
 * file applies back unchanged in the same environment. A secret stored without a reference name
 * (applied by an older Callout, or inline through the library) gets a generated
 * `${env:CALLOUT_…}` name, and the command lists those variables on stderr.
 *
 * @example
 * // $ callout export -o callout.yaml
 */
export async function exportCommand(io: CliIo, options: { output?: string }): Promise<void> {
  const store = await openStore({ home: resolveHome(io.env), env: io.env })
  const path = options.output === undefined ? undefined : resolve(io.cwd, options.output)
  // `${file:…}` references are written relative to where the exported file will be read from.
  const exportOptions = { baseDir: path === undefined ? io.cwd : dirname(path) }
  let text: string
  let generated: string[]
  try {
    const defs = await store.loadDefinitions()
    text = stringify(exportDefinitions(defs, exportOptions))
    generated = exportSecrets(defs, exportOptions)
      .filter((secret) => secret.generated)
      .map((secret) => `  ${secret.env ?? secret.reference}  (${secret.path})`)
  } finally {
    await store.close()
  }
  if (path === undefined) io.stdout.write(text)
  else {
    await writeFile(path, text, { mode: 0o644 })
    println(io, `wrote ${path}`)
  }
  if (generated.length > 0) {
    io.stderr.write(
      `note: ${generated.length === 1 ? '1 secret was' : `${generated.length} secrets were`} ` +
        'stored without the name of the reference they were read from (applied by an older ' +
        'Callout, or inline through the library); the export names these variables, which must ' +
        'be set before the file applies — or re-apply your own config file once, and export ' +
        `again, to keep its names:\n${generated.join('\n')}\n`,
    )
  }
}
