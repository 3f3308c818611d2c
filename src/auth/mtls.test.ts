import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:https'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fetch as undiciFetch, Agent } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Secret } from '../secrets/secret.ts'
import { clientCertificateDispatcher } from './mtls.ts'

function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

// node:crypto cannot issue X.509 certificates; the openssl CLI does it at test time.
describe.skipIf(!hasOpenssl())('clientCertificateDispatcher (openssl CLI present)', () => {
  let dir = ''
  let server: Server
  let url = ''
  const pem = (name: string) => readFileSync(join(dir, name), 'utf8')

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'callout-mtls-'))
    const run = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' })
    run(
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      'ca.key',
      '-out',
      'ca.crt',
      '-days',
      '1',
      '-subj',
      '/CN=Test CA',
    )
    for (const name of ['server', 'client']) {
      run(
        'req',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        `${name}.key`,
        '-out',
        `${name}.csr`,
        '-subj',
        `/CN=${name === 'server' ? '127.0.0.1' : 'client'}`,
      )
    }
    execFileSync('sh', ['-c', 'printf "subjectAltName=IP:127.0.0.1\\n" > server.ext'], { cwd: dir })
    run(
      'x509',
      '-req',
      '-in',
      'server.csr',
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      'server.crt',
      '-days',
      '1',
      '-extfile',
      'server.ext',
    )
    run(
      'x509',
      '-req',
      '-in',
      'client.csr',
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      'client.crt',
      '-days',
      '1',
    )
    server = createServer(
      {
        key: pem('server.key'),
        cert: pem('server.crt'),
        ca: pem('ca.crt'),
        requestCert: true,
        rejectUnauthorized: true,
      },
      (req, res) => {
        const peer = (req.socket as import('node:tls').TLSSocket).getPeerCertificate()
        res.end(JSON.stringify({ cn: peer.subject?.CN }))
      },
    )
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/`
  })
  afterAll(async () => {
    server?.closeAllConnections()
    await new Promise((r) => server?.close(r))
    rmSync(dir, { recursive: true, force: true })
  })

  it('presents the client certificate', async () => {
    const dispatcher = clientCertificateDispatcher({
      cert: pem('client.crt'),
      key: new Secret(pem('client.key')),
      ca: pem('ca.crt'),
    })
    try {
      const res = await undiciFetch(url, { dispatcher })
      expect(res.status).toBe(200)
      expect(await res.json()).toEqual({ cn: 'client' })
    } finally {
      await dispatcher.close()
    }
  })

  it('without a client certificate the server refuses the handshake', async () => {
    const plain = new Agent({ connect: { ca: pem('ca.crt') } })
    try {
      await expect(undiciFetch(url, { dispatcher: plain })).rejects.toThrow()
    } finally {
      await plain.close()
    }
  })
})
