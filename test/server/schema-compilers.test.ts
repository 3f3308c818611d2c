/**
 * `callout serve` does not load Fastify's schema compilers (Ajv, ajv-formats, fast-json-stringify)
 * while no route declares a schema; a route with one still validates and serializes as Fastify's
 * defaults do, loading them then. This file runs in a process of its own, so what is loaded is
 * what this file's servers loaded.
 */
import { createRequire } from 'node:module'
import Fastify from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { lazySchemaCompilers } from '../../src/server/lazy-schema-compilers.ts'
import { Browser, consoleRig, TEST_SCRYPT_COST, type ConsoleRig } from './console-helpers.ts'

/** Fastify's compiler packages and every copy of Ajv (Fastify itself loads only a small
 * precompiled part of fast-json-stringify for its error answers). */
const COMPILERS =
  /[\\/]node_modules[\\/](?:@fastify[\\/](?:ajv-compiler|fast-json-stringify-compiler)|ajv-formats|ajv|fast-json-stringify[\\/]index\.js)(?:[\\/]|$)/

/** Files of Fastify's schema compilers in Node's CommonJS module cache. */
function loadedCompilers(): string[] {
  return Object.keys(createRequire(import.meta.url).cache).filter((file) => COMPILERS.test(file))
}

describe("Fastify's schema compilers", () => {
  let rig: ConsoleRig
  beforeAll(async () => {
    rig = await consoleRig({ scryptCost: TEST_SCRYPT_COST })
  })
  afterAll(async () => {
    await rig.close()
  })

  it('are not loaded by the proxy with its console, which serves its pages', async () => {
    const instance = await rig.start()
    const browser = new Browser(instance.origin)
    expect((await browser.login()).status).toBe(303)
    const list = await browser.get('/')
    expect(list.status).toBe(200)
    expect(list.body).toContain('External Credentials')
    const health = await fetch(`${instance.origin}/healthz`)
    expect(await health.json()).toEqual({ status: 'ok' })
    expect(loadedCompilers()).toEqual([])
  })

  it('are loaded on first use and validate and serialize as Fastify does', async () => {
    const app = Fastify({ schemaController: lazySchemaCompilers() })
    app.post(
      '/echo',
      {
        schema: {
          body: {
            type: 'object',
            required: ['n'],
            properties: { n: { type: 'integer' }, when: { type: 'string', format: 'date' } },
          },
          response: { 200: { type: 'object', properties: { n: { type: 'integer' } } } },
        },
      },
      async (request) => ({ ...(request.body as object), secret: 'not in the schema' }),
    )
    await app.listen({ host: '127.0.0.1', port: 0 })
    try {
      const { port } = app.server.address() as { port: number }
      const post = (body: unknown): Promise<Response> =>
        fetch(`http://127.0.0.1:${port}/echo`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
        })
      const good = await post({ n: 7, when: '2026-11-30' })
      expect(good.status).toBe(200)
      expect(await good.json()).toEqual({ n: 7 })
      const missing = await post({ when: '2026-11-30' })
      expect(missing.status).toBe(400)
      expect(((await missing.json()) as { code: string }).code).toBe('FST_ERR_VALIDATION')
      // ajv-formats is in force: a malformed date is refused.
      expect((await post({ n: 1, when: 'yesterday' })).status).toBe(400)
      expect(loadedCompilers()).not.toEqual([])
    } finally {
      await app.close()
    }
  })
})
