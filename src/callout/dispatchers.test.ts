import { createServer, type Server } from 'node:https'
import type { AddressInfo } from 'node:net'
import type { TLSSocket } from 'node:tls'
import { Agent, type Dispatcher } from 'undici'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { ClientCertificate, NamedCredential } from '../definitions/model.ts'
import { Secret } from '../secrets/secret.ts'
import { namedCredential } from '../../test/helpers/callout-fixtures.ts'
import { createTestPki, type Pem, type TestPki } from '../../test/helpers/certificates.ts'
import { Dispatchers } from './dispatchers.ts'

// A real TLS server on port 0 that requires a client certificate from the test CA: the only
// check of the agent production uses for a Named Credential's `clientCertificate`.
let pki: TestPki
let ca: Pem
let otherCa: Pem
let client: Pem
let client2: Pem
let stranger: Pem
let encryptedKey: string
let server: Server
let origin: string
/** The CN of each client certificate the server accepted. */
const accepted: string[] = []
const dispatchers: Dispatchers[] = []

beforeAll(async () => {
  pki = await createTestPki()
  ca = await pki.ca('ca', 'Callout Test CA')
  otherCa = await pki.ca('other-ca', 'Some Other CA')
  const serverPem = await pki.leaf('server', 'localhost', 'ca', 'server')
  client = await pki.leaf('client', 'callout-client', 'ca', 'client')
  client2 = await pki.leaf('client2', 'callout-client-2', 'ca', 'client')
  stranger = await pki.leaf('stranger', 'stranger-client', 'other-ca', 'client')
  encryptedKey = await pki.encryptKey(client, 'pass-phrase-1')
  server = createServer(
    {
      key: serverPem.key,
      cert: serverPem.cert,
      ca: ca.cert,
      requestCert: true,
      rejectUnauthorized: true,
    },
    (req, res) => {
      const cn = (req.socket as TLSSocket).getPeerCertificate().subject?.CN
      accepted.push(String(cn))
      res.end(String(cn))
    },
  )
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`
})

afterEach(async () => {
  await Promise.all(dispatchers.splice(0).map((d) => d.close()))
})

afterAll(async () => {
  server?.closeAllConnections()
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()))
  await pki?.cleanup()
})

function open(options: ConstructorParameters<typeof Dispatchers>[0] = {}): Dispatchers {
  const d = new Dispatchers(options)
  dispatchers.push(d)
  return d
}

/** A Named Credential presenting `pem`, trusting the test CA unless `extra.ca` says otherwise. */
function withCertificate(
  pem: Pem,
  extra: Omit<Partial<ClientCertificate>, 'ca'> & { readonly ca?: string | 'none' } = {},
  name = 'Mutual',
): NamedCredential {
  const { ca: caPem = ca.cert, ...rest } = extra
  return namedCredential({
    name,
    url: `${origin}/api`,
    clientCertificate: {
      cert: pem.cert,
      key: new Secret(pem.key),
      ...(caPem === 'none' ? {} : { ca: caPem }),
      ...rest,
    },
  })
}

/** The CN the server saw, or the error code of the failed request. */
async function call(dispatcher: Dispatcher): Promise<string> {
  try {
    const res = await dispatcher.request({ origin, path: '/api/x', method: 'GET' })
    return `${res.statusCode} ${await res.body.text()}`
  } catch (error) {
    return String((error as { code?: unknown }).code ?? error)
  }
}

describe('Dispatchers: mutual TLS for a Named Credential', () => {
  it('presents the client certificate; the server accepts it', async () => {
    const d = open()
    expect(await call(d.for(withCertificate(client)))).toBe('200 callout-client')
  })

  it('a passphrase-protected key works with its passphrase', async () => {
    const d = open()
    const nc = withCertificate(client, {
      key: new Secret(encryptedKey),
      passphrase: new Secret('pass-phrase-1'),
    })
    expect(encryptedKey).toContain('ENCRYPTED PRIVATE KEY')
    expect(await call(d.for(nc))).toBe('200 callout-client')
  })

  it('without a client certificate the server refuses the connection', async () => {
    // The shared agent trusts the test CA, so only the missing client certificate is wrong.
    const shared = new Agent({ connect: { ca: ca.cert } })
    try {
      const d = open({ dispatcher: shared })
      const plain = namedCredential({ url: `${origin}/api` })
      expect(d.for(plain)).toBe(shared)
      const before = accepted.length
      expect(await call(d.for(plain))).toMatch(/^(UND_ERR_SOCKET|ECONNRESET|ERR_SSL_\w+)$/)
      expect(accepted.length).toBe(before)
    } finally {
      await shared.close()
    }
  })

  it('a client certificate from a CA the server does not trust is refused', async () => {
    const d = open()
    const before = accepted.length
    expect(await call(d.for(withCertificate(stranger)))).toMatch(
      /^(UND_ERR_SOCKET|ECONNRESET|ERR_SSL_\w+)$/,
    )
    expect(accepted.length).toBe(before)
  })

  it("trusts the server through the credential's CA, and without it refuses the private CA", async () => {
    const d = open()
    // Without `ca` only Node's public roots are trusted: the test CA's server is refused.
    expect(await call(d.for(withCertificate(client, { ca: 'none' }, 'NoCa')))).toBe(
      'SELF_SIGNED_CERT_IN_CHAIN',
    )
    // A CA that did not sign the server certificate does not help.
    expect(await call(d.for(withCertificate(client, { ca: otherCa.cert }, 'WrongCa')))).toBe(
      'SELF_SIGNED_CERT_IN_CHAIN',
    )
    // A bundle of several CAs in one PEM is read whole: the second one signed the server.
    expect(
      await call(d.for(withCertificate(client, { ca: `${otherCa.cert}${ca.cert}` }, 'Bundle'))),
    ).toBe('200 callout-client')
  })

  it('reuses one agent per credential, and a changed certificate gets a new one', async () => {
    const d = open()
    const first = d.for(withCertificate(client))
    expect(d.for(withCertificate(client))).toBe(first)
    expect(await call(first)).toBe('200 callout-client')
    const rotated = d.for(withCertificate(client2))
    expect(rotated).not.toBe(first)
    expect(await call(rotated)).toBe('200 callout-client-2')
    // The replaced agent is closed.
    await expect(first.request({ origin, path: '/', method: 'GET' })).rejects.toMatchObject({
      code: 'UND_ERR_DESTROYED',
    })
  })

  it('prune closes the agents of credentials that no longer exist', async () => {
    const d = open()
    const kept = d.for(withCertificate(client, {}, 'Kept'))
    const gone = d.for(withCertificate(client, {}, 'Gone'))
    d.prune(new Set(['Kept']))
    expect(await call(kept)).toBe('200 callout-client')
    await expect(gone.request({ origin, path: '/', method: 'GET' })).rejects.toMatchObject({
      code: 'UND_ERR_DESTROYED',
    })
    expect(d.for(withCertificate(client, {}, 'Gone'))).not.toBe(gone)
  })
})
