import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const SRC = fileURLToPath(new URL('../src', import.meta.url))

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? sourceFiles(join(dir, e.name))
      : e.name.endsWith('.ts') && !/\.test(-helper)?\.ts$/.test(e.name)
        ? [join(dir, e.name)]
        : [],
  )
}

describe('package boundary', () => {
  it('never imports the broker or anything outside the package but node built-ins, jose and yaml', () => {
    const allowed = /^(node:|jose$|yaml$|\.\.?\/)/
    for (const file of sourceFiles(SRC)) {
      const text = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '')
      for (const match of text.matchAll(/(?:from|import\()\s*'([^']+)'/g)) {
        const specifier = match[1] ?? ''
        expect(allowed.test(specifier), `${file} imports ${specifier}`).toBe(true)
        if (specifier.startsWith('.')) {
          const resolved = join(file, '..', specifier)
          expect(resolved.startsWith(SRC), `${file} imports ${specifier} outside src`).toBe(true)
        }
      }
    }
  })
})
