import { writeFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import { stringify } from 'yaml'
import { exportDefinitions } from '../../definitions/index.ts'
import { resolveHome } from '../../secrets/index.ts'
import { openStore } from '../../store/index.ts'
import { println, type CliIo } from '../io.ts'

/**
 * `callout export [-o file]`: the definitions as YAML without secrets; each secret becomes a
 * `${env:…}` reference so the file moves between environments.
 *
 * @example
 * // $ callout export -o callout.yaml
 */
export async function exportCommand(io: CliIo, options: { output?: string }): Promise<void> {
  const store = await openStore({ home: resolveHome(io.env), env: io.env })
  let text: string
  try {
    text = stringify(exportDefinitions(await store.loadDefinitions()))
  } finally {
    await store.close()
  }
  if (options.output === undefined) {
    io.stdout.write(text)
    return
  }
  const path = resolve(io.cwd, options.output)
  await writeFile(path, text, { mode: 0o644 })
  println(io, `wrote ${path}`)
}
