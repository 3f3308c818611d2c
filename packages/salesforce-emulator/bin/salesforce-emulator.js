#!/usr/bin/env node
// Runs the TypeScript sources through tsx (a devDependency of the workspace root).
import process from 'node:process'
import { register } from 'tsx/esm/api'

register()
const { main } = await import('../src/cli.ts')
await main(process.argv.slice(2))
