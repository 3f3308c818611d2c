/**
 * Package test: what a user gets from `npm install callout`. From a clean copy of the repository
 * (the files git tracks or would track — no `dist/`, no Callout home, nothing ignored — so no
 * prior build), `npm pack` packs `callout` and `@callout/salesforce-emulator`, each building its
 * `dist/` on `prepack`. Both tarballs are installed with npm into an empty project, from the npm
 * cache (`--prefer-offline`), and the installed package is used the way a user would: `import` and
 * `require` through its exports map, its types, and `npx callout init`, `apply`, `get` (against a
 * local upstream on port 0) and `demo` (which starts the emulator, a dependency of callout).
 *
 * better-sqlite3's install script is skipped and the addon this checkout built is copied in (same
 * version, same Node): compiling SQLite takes minutes on this machine. `.ci/run` installs the
 * tarballs with native builds under Node 22 and 24.
 */
import { execFile } from 'node:child_process'
import { once } from 'node:events'
import { existsSync } from 'node:fs'
import { cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const run = promisify(execFile)
const REPO = fileURLToPath(new URL('../../', import.meta.url))
const EMULATOR_DIR = 'packages/salesforce-emulator'
const NPM_ENV: NodeJS.ProcessEnv = {
  ...process.env,
  npm_config_update_notifier: 'false',
  npm_config_fund: 'false',
  npm_config_audit: 'false',
}
delete NPM_ENV.CALLOUT_HOME
delete NPM_ENV.CALLOUT_MASTER_KEY
delete NPM_ENV.CALLOUT_STORE
delete NPM_ENV.NODE_OPTIONS

/** Everything `src/index.ts` exports at runtime (types vanish), as documented in the README. */
const PUBLIC_VALUES = [
  'ADVICE_HEADER',
  'Broker',
  'CONNECT_LINK_DEFAULTS',
  'CalloutError',
  'DEFAULTS',
  'ERROR_CATALOGUE',
  'NAME_PATTERN',
  'Secret',
  'httpStatusFor',
  'isCalloutError',
  'loadConfigFile',
  'openBroker',
  'parseCalloutUrl',
  'parseConfig',
  'systemClock',
].sort()

/** `npx` (npm, then node) and `tsc` are slow on a loaded machine. */
const SLOW_MS = 120_000

interface Packed {
  filename: string
  files: string[]
}

let work: string
let project: string
let callout: Packed
let emulator: Packed

/** Packs the package in `dir` (its `prepack` builds `dist/`) into `work`. */
async function pack(dir: string): Promise<Packed> {
  const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', work], {
    cwd: dir,
    env: NPM_ENV,
    maxBuffer: 16 * 1024 * 1024,
  })
  // Lifecycle output (the prepack build) comes before the JSON report.
  const [report] = JSON.parse(stdout.slice(stdout.indexOf('[\n'))) as [
    { filename: string; files: Array<{ path: string }> },
  ]
  return { filename: report.filename, files: report.files.map((f) => f.path).sort() }
}

// Two builds, an install and a native addon copy: about a minute on an idle two-core machine,
// several on a loaded one.
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'callout-pack-'))
  const clone = join(work, 'clone')
  const { stdout: listed } = await run(
    'git',
    ['ls-files', '-z', '--cached', '--others', '--exclude-standard'],
    { cwd: REPO, maxBuffer: 16 * 1024 * 1024 },
  )
  for (const file of listed.split('\0')) {
    if (file === '' || !existsSync(join(REPO, file))) continue
    await cp(join(REPO, file), join(clone, file), { recursive: true })
  }
  expect(existsSync(join(clone, 'dist')) || existsSync(join(clone, EMULATOR_DIR, 'dist'))).toBe(
    false,
  )
  // Files that must never be published, planted where a careless `files` list would take them.
  await mkdir(join(clone, '.callout'))
  await writeFile(join(clone, '.callout/master.key'), 'planted-master-key')
  await mkdir(join(clone, 'keys'))
  await writeFile(join(clone, 'keys/target-jwt.key'), '-----BEGIN PRIVATE KEY-----\nplanted')
  // The build tools (tsc) come from this checkout's install.
  await symlink(join(REPO, 'node_modules'), join(clone, 'node_modules'), 'dir')
  ;[callout, emulator] = await Promise.all([pack(clone), pack(join(clone, EMULATOR_DIR))])

  project = join(work, 'project')
  await mkdir(project)
  await writeFile(
    join(project, 'package.json'),
    JSON.stringify({ name: 'user-project', private: true, type: 'module' }),
  )
  await run(
    'npm',
    [
      'install',
      '--prefer-offline',
      '--ignore-scripts',
      join(work, callout.filename),
      join(work, emulator.filename),
    ],
    { cwd: project, env: NPM_ENV, maxBuffer: 16 * 1024 * 1024 },
  )
  const sqlite = 'node_modules/better-sqlite3'
  const version = async (dir: string): Promise<string> =>
    (JSON.parse(await readFile(join(dir, sqlite, 'package.json'), 'utf8')) as { version: string })
      .version
  if ((await version(project)) === (await version(REPO))) {
    await mkdir(join(project, sqlite, 'build/Release'), { recursive: true })
    await cp(
      join(REPO, sqlite, 'build/Release/better_sqlite3.node'),
      join(project, sqlite, 'build/Release/better_sqlite3.node'),
    )
  } else {
    await run('npm', ['rebuild', 'better-sqlite3'], { cwd: project, env: NPM_ENV })
  }
}, 600_000)

afterAll(async () => {
  if (work !== undefined) await rm(work, { recursive: true, force: true })
})

/** Runs a snippet with node in the user's project (`.mjs` or `.cjs`). */
async function node(code: string, ext = 'mjs'): Promise<{ stdout: string; stderr: string }> {
  const file = join(project, `snippet-${Math.random().toString(36).slice(2)}.${ext}`)
  await writeFile(file, code)
  return run(process.execPath, [file], { cwd: project, env: NPM_ENV })
}

/** `npx callout …` in the user's project, with its own Callout home. */
function npx(args: string[], env: NodeJS.ProcessEnv = {}) {
  return run('npx', ['--no-install', 'callout', ...args], {
    cwd: project,
    env: { ...NPM_ENV, CALLOUT_HOME: join(project, '.callout'), ...env },
    maxBuffer: 16 * 1024 * 1024,
  })
}

/** Paths a published package must never contain. */
function forbidden(files: string[]): string[] {
  return files.filter(
    (p) =>
      p.startsWith('src/') ||
      p.startsWith('test/') ||
      /\.test(?:-helper)?\.(?:js|ts|d\.ts)$/.test(p) ||
      p.includes('.callout') ||
      /\.(?:key|pem|db|map)$/.test(p) ||
      p.startsWith('keys/') ||
      (p.endsWith('.ts') && !p.endsWith('.d.ts')),
  )
}

describe('the packed packages', () => {
  it('callout publishes dist, bin, docs, README, CHANGELOG, LICENSE and package.json only', () => {
    const tops = new Set(callout.files.map((p) => p.split('/')[0]))
    expect([...tops].sort()).toEqual([
      'CHANGELOG.md',
      'LICENSE',
      'README.md',
      'bin',
      'dist',
      'docs',
      'package.json',
    ])
    expect(callout.files).toEqual(
      expect.arrayContaining([
        'bin/callout.js',
        'dist/index.js',
        'dist/index.d.ts',
        'dist/cli/main.js',
        'docs/errors.md',
      ]),
    )
    expect(forbidden(callout.files)).toEqual([])
  })

  it('the emulator publishes its built dist, bin, README, LICENSE and package.json only', () => {
    const tops = new Set(emulator.files.map((p) => p.split('/')[0]))
    expect([...tops].sort()).toEqual(['LICENSE', 'README.md', 'bin', 'dist', 'package.json'])
    expect(emulator.files).toEqual(
      expect.arrayContaining([
        'bin/salesforce-emulator.js',
        'dist/index.js',
        'dist/index.d.ts',
        'dist/cli.js',
      ]),
    )
    expect(forbidden(emulator.files)).toEqual([])
  })

  it('exposes exactly the documented public names through its exports map', async () => {
    const { stdout } = await node(
      `const m = await import('callout'); console.log(JSON.stringify(Object.keys(m).sort()))`,
    )
    expect(JSON.parse(stdout)).toEqual(PUBLIC_VALUES)
  })

  it('works when imported: a CalloutError is recognised and catalogued', async () => {
    const { stdout } = await node(`
      import { CalloutError, isCalloutError, ERROR_CATALOGUE, Secret, parseConfig } from 'callout'
      const e = new CalloutError('CONFIG_INVALID', 'x')
      let parsed
      try { parseConfig({ namedCredentials: { Bad: { url: 'ftp://x' } } }) } catch (err) { parsed = err }
      console.log(JSON.stringify({
        is: isCalloutError(e, 'CONFIG_INVALID'),
        catalogued: 'CONFIG_INVALID' in ERROR_CATALOGUE,
        secret: JSON.stringify(new Secret('s3cr3t')),
        configError: parsed?.code,
      }))
    `)
    expect(JSON.parse(stdout)).toEqual({
      is: true,
      catalogued: true,
      secret: expect.not.stringContaining('s3cr3t'),
      configError: 'CONFIG_INVALID',
    })
  })

  it('can be required from CommonJS (Node 20.19+ loads the ES module)', async () => {
    const { stdout } = await node(
      `const m = require('callout')
      const e = new m.CalloutError('CONFIG_INVALID', 'x')
      console.log(JSON.stringify({ names: Object.keys(m).sort(), is: m.isCalloutError(e, 'CONFIG_INVALID') }))`,
      'cjs',
    )
    expect(JSON.parse(stdout)).toEqual({ names: PUBLIC_VALUES, is: true })
  })

  it('refuses deep imports (nothing but "." and package.json is exported)', async () => {
    const { stdout } = await node(`
      const out = {}
      for (const spec of ['callout/dist/errors.js', 'callout/dist/index.js', 'callout/src/index.ts', 'callout/bin/callout.js', '@callout/salesforce-emulator/dist/emulator.js']) {
        try { await import(spec); out[spec] = 'loaded' } catch (e) { out[spec] = e.code }
      }
      const pkg = await import('callout/package.json', { with: { type: 'json' } })
      out.version = pkg.default.version
      console.log(JSON.stringify(out))
    `)
    expect(JSON.parse(stdout)).toEqual({
      'callout/dist/errors.js': 'ERR_PACKAGE_PATH_NOT_EXPORTED',
      'callout/dist/index.js': 'ERR_PACKAGE_PATH_NOT_EXPORTED',
      'callout/src/index.ts': 'ERR_PACKAGE_PATH_NOT_EXPORTED',
      'callout/bin/callout.js': 'ERR_PACKAGE_PATH_NOT_EXPORTED',
      '@callout/salesforce-emulator/dist/emulator.js': 'ERR_PACKAGE_PATH_NOT_EXPORTED',
      version: expect.stringMatching(/^\d+\.\d+\.\d+/),
    })
  })

  it('the emulator loads from its dist through its exports map', async () => {
    const { stdout } = await node(`
      import { startEmulator } from '@callout/salesforce-emulator'
      const emulator = await startEmulator()
      const res = await fetch(emulator.org().instanceUrl + '/services/data')
      console.log(JSON.stringify({ status: res.status }))
      await emulator.close()
    `)
    expect(JSON.parse(stdout)).toEqual({ status: 200 })
  })

  it(
    'type-checks a consumer against the published declarations (types resolve, not any)',
    async () => {
      await writeFile(
        join(project, 'consumer.ts'),
        [
          "import { openBroker, isCalloutError, type Broker, type StatusReport } from 'callout'",
          "import { startEmulator, type Emulator } from '@callout/salesforce-emulator'",
          "const broker: Broker = await openBroker({ home: '/nonexistent' })",
          "const res: Response = await broker.fetch('callout:Api/x', { method: 'POST', body: '{}' })",
          'const reports: StatusReport[] = await broker.status()',
          'const n: number = res.status + reports.length',
          "if (isCalloutError(n, 'NEEDS_REAUTH')) console.log(n.code)",
          '// @ts-expect-error: codes are a union type, so a typo does not compile',
          "isCalloutError(n, 'NEEDS_REAUTHH')",
          'const emulator: Emulator = await startEmulator()',
          'const url: string = emulator.org().instanceUrl',
          '// @ts-expect-error: the emulator is typed too',
          'const wrong: number = emulator.org().instanceUrl',
          'console.log(url, wrong)',
          '',
        ].join('\n'),
      )
      await symlink(join(REPO, 'node_modules/@types'), join(project, 'node_modules/@types'), 'dir')
      const tsc = await run(
        process.execPath,
        [
          join(REPO, 'node_modules/typescript/bin/tsc'),
          '--noEmit',
          '--strict',
          '--module',
          'nodenext',
          '--moduleResolution',
          'nodenext',
          '--target',
          'es2023',
          '--types',
          'node',
          '--skipLibCheck',
          'consumer.ts',
        ],
        { cwd: project },
      ).catch((error: { stdout?: string }) => ({ stdout: `FAILED\n${error.stdout ?? ''}` }))
      expect(tsc.stdout).toBe('')
    },
    SLOW_MS,
  )

  it(
    'npx callout runs the installed dist, without tsx or any dev dependency',
    async () => {
      const { stdout } = await npx(['--help'])
      expect(stdout).toContain('Usage: callout')
      expect(stdout).toMatch(/\bdemo\b/)
      const version = await npx(['--version'])
      expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/)
      // tsx is not there to fall back on: the bin really ran dist.
      const probe = await node(
        `try { await import('tsx/esm/api'); console.log('present') } catch (e) { console.log(e.code) }`,
      )
      expect(probe.stdout.trim()).toBe('ERR_MODULE_NOT_FOUND')
      // jsforce is an optional peer dependency: installed only by users of broker.jsforce().
      const jsforce = await node(
        `try { await import('jsforce'); console.log('present') } catch (e) { console.log(e.code) }`,
      )
      expect(jsforce.stdout.trim()).toBe('ERR_MODULE_NOT_FOUND')
    },
    SLOW_MS,
  )

  it(
    'npx callout init, apply and get call a local upstream with the credential',
    async () => {
      const seen: IncomingHttpHeaders[] = []
      const upstream: Server = createServer((req, res) => {
        seen.push(req.headers)
        res.setHeader('content-type', 'application/json')
        res.end(JSON.stringify({ path: req.url, ok: true }))
      })
      upstream.listen(0, '127.0.0.1')
      await once(upstream, 'listening')
      const { port } = upstream.address() as AddressInfo
      try {
        const home = join(project, 'home-get')
        const env = { CALLOUT_HOME: home, UPSTREAM_PASSWORD: 'pack-test-password' }
        await npx(['init'], env)
        await writeFile(
          join(project, 'callout.yaml'),
          [
            'externalCredentials:',
            '  UpstreamAuth:',
            '    protocol: basic',
            '    principals:',
            '      Service:',
            '        type: named',
            '        parameters: { username: svc }',
            "        secrets: { password: '${env:UPSTREAM_PASSWORD}' }",
            'namedCredentials:',
            '  Upstream:',
            `    url: http://127.0.0.1:${port}/api`,
            '    externalCredential: UpstreamAuth',
            '    allowInsecureHttp: true',
            '',
          ].join('\n'),
        )
        await npx(['apply', '-f', 'callout.yaml'], env)
        const { stdout } = await npx(['get', 'callout:Upstream/things?n=1'], env)
        expect(JSON.parse(stdout)).toEqual({ path: '/api/things?n=1', ok: true })
        expect(seen.map((h) => h.authorization)).toEqual([
          `Basic ${Buffer.from('svc:pack-test-password').toString('base64')}`,
        ])
      } finally {
        upstream.close()
      }
    },
    SLOW_MS,
  )

  it('installs the emulator as a dependency of callout (npm install callout brings it)', async () => {
    const { stdout } = await run('npm', ['ls', '--json', '--all', '@callout/salesforce-emulator'], {
      cwd: project,
      env: NPM_ENV,
    })
    const tree = JSON.parse(stdout) as {
      dependencies: { callout: { dependencies?: Record<string, { version: string }> } }
    }
    expect(tree.dependencies.callout.dependencies?.['@callout/salesforce-emulator']?.version).toBe(
      '0.1.0',
    )
  })

  it(
    'npx callout demo runs the whole story with the installed emulator',
    async () => {
      const home = join(project, 'demo-home')
      const { stdout, stderr } = await npx(['demo', '--home', home])
      expect(stderr).toBe('')
      expect(stdout.match(/^\[(\d)\/6\]/gm)).toEqual([
        '[1/6]',
        '[2/6]',
        '[3/6]',
        '[4/6]',
        '[5/6]',
        '[6/6]',
      ])
      expect(stdout).toContain('Authenticated as admin@target.example')
      expect(stdout).toMatch(/HTTP 200 \{"sobjects":/)
      expect(stdout).toContain('the emulator logged 1 refresh_token request(s) and 2 GET')
      expect(stdout).toMatch(/answered 1 × 302 Found/)
      expect(stdout).toContain('done.')
    },
    SLOW_MS,
  )
})
