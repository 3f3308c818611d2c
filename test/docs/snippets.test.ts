/**
 * The configuration snippets in the README and the recipes are real configurations: each YAML
 * block that declares definitions parses, validates and compiles its formula headers, and its
 * `serve` section (if any) is a valid one.
 */
import { generateKeyPairSync } from 'node:crypto'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { checkFormulas } from '../../src/auth/formula-check.ts'
import { parseConfig, parseServeConfig } from '../../src/definitions/index.ts'

const DOCS = [
  'README.md',
  'docs/recipes.md',
  'docs/configuration.md',
  'packages/salesforce-emulator/README.md',
]
const DEFINITION_KEYS = /^(authProviders|externalCredentials|namedCredentials):/m

async function yamlBlocks(file: string): Promise<{ file: string; index: number; text: string }[]> {
  const text = await readFile(file, 'utf8')
  const blocks = [...text.matchAll(/```ya?ml\n([\s\S]*?)```/g)].map((m) => m[1] ?? '')
  return blocks
    .map((block, index) => ({ file, index, text: block }))
    .filter((b) => DEFINITION_KEYS.test(b.text))
}

const dirs: string[] = []
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true })
})

const pem = generateKeyPairSync('rsa', { modulusLength: 2048 })
  .privateKey.export({ type: 'pkcs8', format: 'pem' })
  .toString()

describe('documentation snippets', async () => {
  const blocks = (await Promise.all(DOCS.map(yamlBlocks))).flat()

  it('finds the snippets', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(3)
  })

  it.each(blocks.map((b) => [`${b.file} block ${b.index}`, b] as const))(
    '%s is a valid configuration',
    async (_name, block) => {
      const baseDir = await mkdtemp(join(tmpdir(), 'callout-doc-'))
      dirs.push(baseDir)
      const env: Record<string, string> = {}
      for (const m of block.text.matchAll(/\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}/g))
        env[m[1]!] = 'x'.repeat(40)
      for (const m of block.text.matchAll(/\$\{file:([^}]+)\}/g)) {
        const path = join(baseDir, m[1]!)
        await mkdir(dirname(path), { recursive: true })
        const content = /key/.test(path)
          ? pem
          : /\.(pem|crt)$/.test(path)
            ? '-----BEGIN CERTIFICATE-----\nMIIBdocs\n-----END CERTIFICATE-----\n'
            : 'x'.repeat(40)
        await writeFile(path, content)
      }
      const defs = parseConfig(block.text, { format: 'yaml', baseDir, env })
      expect(
        defs.namedCredentials.size + defs.externalCredentials.size + defs.authProviders.size,
      ).toBeGreaterThan(0)
      checkFormulas(defs)
      if (/^serve:/m.test(block.text)) {
        expect(parseServeConfig(block.text, { baseDir, env }).credentialPorts).toBeDefined()
      }
    },
  )
})
