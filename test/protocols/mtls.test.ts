/**
 * End to end: mutual TLS through `broker.fetch`. `openssl` makes a CA, a server certificate for
 * 127.0.0.1/localhost and a client certificate in a temp directory; an
 * `https.createServer({ requestCert: true, rejectUnauthorized: true })` upstream on port 0 only
 * answers clients presenting a certificate from that CA. The Named Credential's
 * `clientCertificate` supplies the chain, the key (a `${file:…}` reference, stored encrypted) and
 * the CA that the upstream's certificate is checked against.
 */
import { createServer, type Server } from 'node:https'
import type { AddressInfo } from 'node:net'
import type { TLSSocket } from 'node:tls'
import { Agent } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { isCalloutError, type Broker, type CalloutError } from '../../src/index.ts'
import { createTestPki, type TestPki } from '../helpers/certificates.ts'
import { makeHome, openTestBroker, type TestHome } from '../e2e/helpers/e2e.ts'

let pki: TestPki
let pem: Record<'ca' | 'otherCa' | 'serverCert' | 'serverKey' | 'clientCert' | 'clientKey', string>
let server: Server
let origin: string
const seen: Array<{ cn: string | undefined; authorized: boolean; authorization?: string }> = []
let home: TestHome
let broker: Broker

beforeAll(async () => {
  pki = await createTestPki()
  const ca = await pki.ca('ca', 'Callout Test CA')
  const otherCa = await pki.ca('other-ca', 'Some Other CA')
  const serverPem = await pki.leaf('server', 'localhost', 'ca', 'server')
  const client = await pki.leaf('client', 'callout-client', 'ca', 'client')
  await pki.leaf('stranger', 'stranger-client', 'other-ca', 'client')
  pem = {
    ca: ca.cert,
    otherCa: otherCa.cert,
    serverCert: serverPem.cert,
    serverKey: serverPem.key,
    clientCert: client.cert,
    clientKey: client.key,
  }

  server = createServer(
    {
      key: pem.serverKey,
      cert: pem.serverCert,
      ca: pem.ca,
      requestCert: true,
      rejectUnauthorized: true,
    },
    (req, res) => {
      const socket = req.socket as TLSSocket
      const peer = socket.getPeerCertificate()
      seen.push({
        cn: typeof peer.subject?.CN === 'string' ? peer.subject.CN : undefined,
        authorized: socket.authorized,
        ...(req.headers.authorization === undefined
          ? {}
          : { authorization: req.headers.authorization }),
      })
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ path: req.url }))
    },
  )
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`

  home = await makeHome()
  const clientCertificate = (ca: string) => ({
    cert: `\${file:${pki.path('client.crt')}}`,
    key: `\${file:${pki.path('client.key')}}`,
    ca: `\${file:${pki.path(ca)}}`,
  })
  broker = await openTestBroker(home, {
    externalCredentials: { Anon: { protocol: 'none' } },
    namedCredentials: {
      Mutual: {
        url: `${origin}/api`,
        externalCredential: 'Anon',
        clientCertificate: clientCertificate('ca.crt'),
      },
      NoCert: { url: `${origin}/api`, externalCredential: 'Anon' },
      WrongCa: {
        url: `${origin}/api`,
        externalCredential: 'Anon',
        clientCertificate: clientCertificate('other-ca.crt'),
      },
      Stranger: {
        url: `${origin}/api`,
        externalCredential: 'Anon',
        clientCertificate: {
          cert: `\${file:${pki.path('stranger.crt')}}`,
          key: `\${file:${pki.path('stranger.key')}}`,
          ca: `\${file:${pki.path('ca.crt')}}`,
        },
      },
    },
  })
})

afterAll(async () => {
  await broker?.close()
  server?.closeAllConnections()
  await new Promise<void>((resolve) =>
    server === undefined ? resolve() : server.close(() => resolve()),
  )
  await home?.cleanup()
  await pki?.cleanup()
})

async function failure(promise: Promise<Response>): Promise<CalloutError> {
  const error = await promise.then(
    async (res) => {
      await res.arrayBuffer()
      throw new Error(`expected a failure, got HTTP ${res.status}`)
    },
    (e: unknown) => e,
  )
  expect(isCalloutError(error), String(error)).toBe(true)
  const e = error as CalloutError
  // Never a secret in what the caller sees.
  for (const text of [e.message, JSON.stringify(e.details)]) {
    expect(text).not.toContain('PRIVATE KEY')
    expect(text).not.toContain(pem.clientKey.split('\n')[1])
  }
  return e
}

describe('mutual TLS', () => {
  it('presents the client certificate; the server sees its CN', async () => {
    const before = seen.length
    const res = await broker.fetch('callout:Mutual/hello?x=1')
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ path: '/api/hello?x=1' })
    expect(seen.slice(before)).toEqual([{ cn: 'callout-client', authorized: true }])
  })

  it('keeps the key encrypted in the store (the stored definition round-trips)', async () => {
    const nc = broker.definitions.namedCredentials.get('Mutual')
    // `${file:…}` values are read with surrounding whitespace trimmed.
    expect(nc?.clientCertificate?.cert).toBe(pem.clientCert.trim())
    expect(nc?.clientCertificate?.key.reveal()).toBe(pem.clientKey.trim())
    expect(JSON.stringify(nc)).not.toContain('PRIVATE KEY')
  })

  it('without a client certificate (server certificate trusted) the server hangs up: UPSTREAM_UNREACHABLE naming mTLS', async () => {
    // A broker whose shared dispatcher trusts the test CA, so only the missing client
    // certificate is wrong. Under TLS 1.3 the client's handshake completes before the server
    // checks the client certificate; the server then closes the socket, which undici reports as
    // UND_ERR_SOCKET "other side closed" — no TLS error code reaches the client.
    const dispatcher = new Agent({ connect: { ca: pem.ca } })
    const other = await openTestBroker(
      home,
      {
        externalCredentials: { Anon: { protocol: 'none' } },
        namedCredentials: { NoCert: { url: `${origin}/api`, externalCredential: 'Anon' } },
      },
      { dispatcher },
    )
    try {
      const before = seen.length
      const e = await failure(other.fetch('callout:NoCert/hello'))
      expect(e.code).toBe('UPSTREAM_UNREACHABLE')
      // FIN ("other side closed") here; a reset would be ECONNRESET — the same advice either way.
      expect(e.details).toMatchObject({ target: 'NoCert', origin })
      expect(['UND_ERR_SOCKET', 'ECONNRESET']).toContain(e.details.cause)
      expect(e.message).toContain('check the clientCertificate of NoCert')
      expect(seen.length).toBe(before)
    } finally {
      await other.close()
      await dispatcher.close()
    }
  })

  it('without a client certificate or the CA, the untrusted server certificate fails first: UPSTREAM_TLS_ERROR', async () => {
    const e = await failure(broker.fetch('callout:NoCert/hello'))
    expect(e.code).toBe('UPSTREAM_TLS_ERROR')
    expect(e.details).toEqual({ target: 'NoCert', origin, cause: 'SELF_SIGNED_CERT_IN_CHAIN' })
  })

  it('a CA that did not sign the server certificate: UPSTREAM_TLS_ERROR', async () => {
    const before = seen.length
    const e = await failure(broker.fetch('callout:WrongCa/hello'))
    expect(e.code).toBe('UPSTREAM_TLS_ERROR')
    expect(e.details).toEqual({ target: 'WrongCa', origin, cause: 'SELF_SIGNED_CERT_IN_CHAIN' })
    expect(e.message).toContain('client certificate of WrongCa')
    expect(seen.length).toBe(before)
  })

  it('a client certificate from a CA the server does not trust: the server hangs up (UPSTREAM_UNREACHABLE naming mTLS)', async () => {
    const before = seen.length
    const e = await failure(broker.fetch('callout:Stranger/hello'))
    expect(e.code).toBe('UPSTREAM_UNREACHABLE')
    expect(e.message).toContain('check the clientCertificate of Stranger')
    expect(seen.length).toBe(before)
  })

  it('after a failure the right certificate still works (pools are per credential)', async () => {
    const res = await broker.fetch('callout:Mutual/again')
    expect(res.status).toBe(200)
    await res.arrayBuffer()
    expect(seen.at(-1)?.cn).toBe('callout-client')
  })
})
