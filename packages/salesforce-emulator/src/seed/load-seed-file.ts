/** Loads and validates a seed file (`.json`, `.yaml` or `.yml`). */
import { readFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { parse as parseYaml } from 'yaml'
import { SeedError } from './seed-error.ts'
import type { EmulatorSeed } from './seed-types.ts'
import { validateSeed } from './validate-seed.ts'

/**
 * Reads a seed file; `certificateFile` entries are resolved against the file's directory.
 *
 * @throws {SeedError} when the file cannot be read or parsed, or the seed is invalid.
 */
export function loadSeedFile(path: string): EmulatorSeed {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch {
    throw new SeedError(path, 'cannot read the seed file')
  }
  let raw: unknown
  try {
    raw = /\.json$/i.test(path) ? JSON.parse(text) : parseYaml(text)
  } catch (err) {
    const reason = err instanceof Error ? err.message.split('\n')[0] : 'parse error'
    throw new SeedError(path, `not valid ${/\.json$/i.test(path) ? 'JSON' : 'YAML'}: ${reason}`)
  }
  const dir = dirname(resolve(path))
  return validateSeed(raw, (file) => readFileSync(resolve(dir, file), 'utf8'))
}
