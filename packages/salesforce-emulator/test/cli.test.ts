import { spawn } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { runCli } from '../src/cli.ts'

const BIN = fileURLToPath(new URL('../bin/salesforce-emulator.js', import.meta.url))

describe('salesforce-emulator CLI', () => {
  it('prints URLs and keys but no secrets unless --show-secrets', async () => {
    const lines: string[] = []
    const output = { out: (l: string) => lines.push(l), err: (l: string) => lines.push(`ERR ${l}`) }
    const emulator = await runCli([], output)
    try {
      const org = emulator?.org()
      expect(org).toBeDefined()
      const text = lines.join('\n')
      expect(text).toContain(`instance URL:  ${org?.instanceUrl}`)
      expect(text).toContain(`consumer key ${org?.connectedApp().consumerKey}`)
      expect(text).not.toContain(org?.connectedApp().consumerSecret ?? 'x')
      expect(text).not.toContain(org?.user().password ?? 'x')
    } finally {
      await emulator?.close()
    }
    const secretLines: string[] = []
    const withSecrets = await runCli(['--show-secrets'], {
      out: (l) => secretLines.push(l),
      err: () => {},
    })
    try {
      expect(secretLines.join('\n')).toContain(
        withSecrets?.org().connectedApp().consumerSecret ?? 'missing',
      )
    } finally {
      await withSecrets?.close()
    }
  })

  it('reports a bad seed with its path', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sfemu-cli-'))
    const file = join(dir, 'bad.json')
    writeFileSync(file, JSON.stringify({ orgs: [{ name: 'x', users: [{ username: 'nope' }] }] }))
    const errors: string[] = []
    const previous = process.exitCode
    const emulator = await runCli(['--seed', file], { out: () => {}, err: (l) => errors.push(l) })
    expect(emulator).toBeUndefined()
    expect(errors.join('\n')).toMatch(/seed\.orgs\[0\]\.users\[0\]\.username/)
    process.exitCode = previous
  })

  it('runs the bin until SIGTERM', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sfemu-bin-'))
    const seed = join(dir, 'seed.yaml')
    writeFileSync(seed, 'orgs:\n  - name: bin\n    lightning: true\n')
    const child = spawn(process.execPath, [BIN, '--seed', seed], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    try {
      const stdout = await new Promise<string>((resolve, reject) => {
        let buffer = ''
        const timer = setTimeout(() => reject(new Error(`bin did not start: ${buffer}`)), 20_000)
        child.stdout.on('data', (chunk: Buffer) => {
          buffer += chunk.toString()
          if (buffer.includes('ready')) {
            clearTimeout(timer)
            resolve(buffer)
          }
        })
        child.once('exit', (code) => reject(new Error(`bin exited with ${code}: ${buffer}`)))
      })
      const instanceUrl = /instance URL:\s+(\S+)/.exec(stdout)?.[1] ?? ''
      expect(stdout).toMatch(/Lightning URL:\s+http:\/\/127\.0\.0\.1:\d+/)
      const res = await fetch(`${instanceUrl}/services/data`)
      expect(res.status).toBe(200)
    } finally {
      const exited = new Promise<number | null>((resolve) =>
        child.once('exit', (code) => resolve(code)),
      )
      child.kill('SIGTERM')
      expect(await exited).toBe(0)
    }
  })
})
