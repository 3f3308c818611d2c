#!/usr/bin/env node
// The `callout` command. Runs the compiled CLI when the package is built, the TypeScript source
// (through tsx) in a checkout.
import { existsSync } from 'node:fs'
import { fileURLToPath, pathToFileURL } from 'node:url'

const built = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url))
if (existsSync(built)) {
  const { main } = await import(pathToFileURL(built).href)
  process.exitCode = await main(process.argv.slice(2))
} else {
  const { register } = await import('tsx/esm/api')
  register()
  const { main } = await import('../src/cli/main.ts')
  process.exitCode = await main(process.argv.slice(2))
}
