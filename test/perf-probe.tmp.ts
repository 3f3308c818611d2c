import { createServer } from 'node:http'
import { Agent, request, fetch as ufetch } from 'undici'
import { openBroker } from '../src/callout/open-broker.ts'
import { Secret } from '../src/secrets/secret.ts'
import { authProvider, definitions, externalCredential, namedCredential } from './helpers/callout-fixtures.ts'
import { MemoryStore } from './helpers/memory-store.ts'

const server = createServer((req, res) => { res.writeHead(200, { 'content-type': 'application/json' }); res.end('{"ok":true}') })
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
const origin = `http://127.0.0.1:${(server.address() as { port: number }).port}`
const store = new MemoryStore(definitions({ authProviders: [authProvider()], externalCredentials: [externalCredential()], namedCredentials: [namedCredential({ url: `${origin}/api` })] }))
await store.compareAndSetCredential({ externalCredential: 'Api', principal: 'Default', userId: '', status: 'authenticated', accessToken: new Secret('tok'), tokenType: 'Bearer', issuedAt: Date.now() }, 0)
const broker = await openBroker({ store })
const agent = new Agent()
const N = 20000, C = 32
async function run(name: string, fn: () => Promise<void>) {
  for (let i = 0; i < 2000; i++) await fn()
  const t = performance.now(); let done = 0
  await Promise.all(Array.from({ length: C }, async () => { while (done++ < N) await fn() }))
  const rps = N / ((performance.now() - t) / 1000)
  console.log(name, Math.round(rps))
  return rps
}
for (let round = 0; round < 2; round++) {
  const a = await run('undici.request', async () => { const r = await agent.request({ origin, path: '/api/x', method: 'GET', headers: { authorization: 'Bearer tok' } }); await r.body.json() })
  const b = await run('broker.request', async () => { const r = await broker.request('callout:Api/x'); await r.body.json() })
  const c = await run('undici.fetch', async () => { const r = await ufetch(`${origin}/api/x`, { headers: { authorization: 'Bearer tok' }, dispatcher: agent }); await r.json() })
  const d = await run('broker.fetch', async () => { const r = await broker.fetch('callout:Api/x'); await r.json() })
  console.log('request ratio', (b / a).toFixed(3), 'fetch ratio', (d / c).toFixed(3))
}
await broker.close(); await agent.close(); server.close()
