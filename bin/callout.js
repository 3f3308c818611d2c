#!/usr/bin/env node
// The `callout` command. The published package runs the compiled dist/ (built on `npm pack`); a
// checkout (src/ present) runs the TypeScript sources through tsx, a devDependency, with the
// `callout-source` export condition so that workspace packages (the Salesforce emulator that
// `callout demo` starts) resolve to their sources too. A checkout never runs a stale dist/.
import { existsSync } from 'node:fs'
import { register as registerHooks } from 'node:module'

const source = new URL('../src/cli/main.ts', import.meta.url)
let main
if (existsSync(source)) {
  const { register } = await import('tsx/esm/api')
  register()
  registerHooks(
    'data:text/javascript,export function resolve(specifier, context, next) {' +
      ' return next(specifier, { ...context, conditions: [...context.conditions, "callout-source"] }) }',
  )
  ;({ main } = await import('../src/cli/main.ts'))
} else {
  ;({ main } = await import('../dist/cli/main.js'))
}
process.exitCode = await main(process.argv.slice(2))
