#!/usr/bin/env node
// The `salesforce-emulator` command. In a checkout (src/ present) it runs the TypeScript sources
// through tsx, a devDependency of the workspace root; the published package ships only the
// compiled dist/, built on `npm pack`.
import { existsSync } from 'node:fs'
import process from 'node:process'

const source = new URL('../src/cli.ts', import.meta.url)
let main
if (existsSync(source)) {
  const { register } = await import('tsx/esm/api')
  register()
  ;({ main } = await import('../src/cli.ts'))
} else {
  ;({ main } = await import('../dist/cli.js'))
}
await main(process.argv.slice(2))
