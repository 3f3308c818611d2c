/**
 * Test certificates made with the `openssl` CLI (node:crypto cannot issue X.509 certificates):
 * CAs, a server certificate for 127.0.0.1/localhost, client certificates, and an encrypted
 * client key. Everything lives in a temp directory removed by {@link TestPki.cleanup}.
 */
import { execFileSync } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** A directory of PEM files and the means to add more. */
export interface TestPki {
  readonly dir: string
  /** A self-signed CA `<name>.crt`/`<name>.key`. */
  ca(name: string, cn: string): Promise<Pem>
  /** A leaf signed by CA `ca`: a server (`serverAuth`, SAN 127.0.0.1/localhost) or a client. */
  leaf(name: string, cn: string, ca: string, use: 'server' | 'client'): Promise<Pem>
  /** `key` (PEM) encrypted with AES-256 under `passphrase`, as PKCS#8. */
  encryptKey(key: Pem, passphrase: string): Promise<string>
  /** The path of a file in {@link dir}. */
  path(file: string): string
  cleanup(): Promise<void>
}

/** A certificate and its private key, PEM. */
export interface Pem {
  readonly cert: string
  readonly key: string
  /** The file names in the PKI directory. */
  readonly certFile: string
  readonly keyFile: string
}

/** Creates an empty PKI in a temp directory. */
export async function createTestPki(): Promise<TestPki> {
  const dir = await mkdtemp(join(tmpdir(), 'callout-pki-'))
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' })
  const read = async (name: string): Promise<Pem> => ({
    cert: await readFile(join(dir, `${name}.crt`), 'utf8'),
    key: await readFile(join(dir, `${name}.key`), 'utf8'),
    certFile: `${name}.crt`,
    keyFile: `${name}.key`,
  })
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
  return {
    dir,
    async ca(name, cn) {
      openssl(
        'req', '-x509', ...ec, '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '2',
        '-subj', `/CN=${cn}`,
        '-addext', 'basicConstraints=critical,CA:TRUE',
        '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
      ) // prettier-ignore
      return read(name)
    },
    async leaf(name, cn, ca, use) {
      const ext =
        use === 'server'
          ? 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n'
          : 'extendedKeyUsage=clientAuth\n'
      await writeFile(join(dir, `${name}.ext`), ext)
      openssl(
        'req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`,
      ) // prettier-ignore
      openssl(
        'x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`,
        '-CAcreateserial', '-out', `${name}.crt`, '-days', '2', '-extfile', `${name}.ext`,
      ) // prettier-ignore
      return read(name)
    },
    async encryptKey(key, passphrase) {
      const out = `${key.keyFile}.enc`
      openssl(
        'pkcs8', '-topk8', '-in', key.keyFile, '-out', out, '-v2', 'aes-256-cbc',
        '-passout', `pass:${passphrase}`,
      ) // prettier-ignore
      return readFile(join(dir, out), 'utf8')
    },
    path: (file) => join(dir, file),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  }
}
