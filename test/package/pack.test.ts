/**
 * Package smoke test: build the package the way `npm run build` does (tsc -p tsconfig.build.json,
 * into a temp outDir so that no `./dist` appears in the checkout — bin/callout.js prefers `dist`
 * when it exists, and a stale one would shadow `src` in other tests running in parallel), stage a
 * copy of the package, check what `npm pack` would publish, pack it, and load the packed package
 * from a temp project the way a user would: `import('callout')` through its `exports` map and the
 * `callout` bin, with only the production dependencies available (no tsx, no dev dependencies).
 */
import { execFile } from 'node:child_process'
import { cp, mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join, relative, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const run = promisify(execFile)
const REPO = fileURLToPath(new URL('../../', import.meta.url))
const NPM_ENV = { ...process.env, npm_config_update_notifier: 'false', npm_config_fund: 'false' }

/** Everything `src/index.ts` exports at runtime (types vanish), as documented in the README. */
const PUBLIC_VALUES = [
  'ADVICE_HEADER',
  'Broker',
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

let work: string
let stage: string
let project: string
let installed: string
let dryRunFiles: string[]

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'callout-pack-'))
  stage = join(work, 'stage')
  await mkdir(stage)
  // The package as npm sees it: the repository's top-level entries (minus installs and builds)
  // and a fresh build in dist/. Planted files that must never be published: a Callout home with
  // a master key and a database, keys, and a test file next to the sources.
  for (const entry of await readdir(REPO)) {
    if (['node_modules', '.git', 'dist', 'packages', 'bench'].includes(entry)) continue
    if (entry.startsWith('.callout')) continue
    await cp(join(REPO, entry), join(stage, entry), { recursive: true })
  }
  await run(
    process.execPath,
    [
      join(REPO, 'node_modules/typescript/bin/tsc'),
      '-p',
      join(REPO, 'tsconfig.build.json'),
      '--outDir',
      join(stage, 'dist'),
    ],
    { cwd: REPO },
  )
  await mkdir(join(stage, '.callout'))
  await writeFile(join(stage, '.callout/master.key'), 'planted-master-key')
  await writeFile(join(stage, '.callout/callout.db'), 'planted-db')
  await mkdir(join(stage, 'keys'))
  await writeFile(join(stage, 'keys/target-jwt.key'), '-----BEGIN PRIVATE KEY-----\nplanted')

  const dry = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
    cwd: stage,
    env: NPM_ENV,
  })
  const [report] = JSON.parse(dry.stdout) as [{ files: Array<{ path: string }> }]
  dryRunFiles = report.files.map((f) => f.path).sort()

  const packed = await run(
    'npm',
    ['pack', '--json', '--ignore-scripts', '--pack-destination', work],
    { cwd: stage, env: NPM_ENV },
  )
  const [{ filename }] = JSON.parse(packed.stdout) as [{ filename: string }]

  // A user's project: the tarball unpacked as node_modules/callout, beside the production
  // dependency tree only (each top-level package `npm ls --omit=dev` names, linked from the
  // checkout; nested ones come with their parent). Installing with npm would rebuild
  // better-sqlite3 and needs the network; this is the same tree without the download.
  project = join(work, 'project')
  installed = join(project, 'node_modules/callout')
  await mkdir(installed, { recursive: true })
  await run('tar', ['-xzf', join(work, filename), '-C', installed, '--strip-components=1'])
  await writeFile(
    join(project, 'package.json'),
    JSON.stringify({ name: 'smoke', private: true, type: 'module' }),
  )
  const ls = await run('npm', ['ls', '--omit=dev', '--all', '--parseable'], {
    cwd: REPO,
    env: NPM_ENV,
    maxBuffer: 16 * 1024 * 1024,
  }).catch((error: { stdout?: string }) => ({ stdout: error.stdout ?? '' }))
  const modules = join(REPO, 'node_modules')
  const topLevel = ls.stdout
    .split('\n')
    .filter((p) => p.startsWith(modules + sep))
    .map((p) => relative(modules, p))
    .filter((p) => !p.includes(`${sep}node_modules${sep}`))
    .filter((p) => (p.startsWith('@') ? p.split(sep).length === 2 : !p.includes(sep)))
  for (const name of new Set(topLevel)) {
    if (name === 'callout') continue
    await mkdir(dirname(join(project, 'node_modules', name)), { recursive: true })
    await symlink(join(modules, name), join(project, 'node_modules', name), 'dir')
  }
}, 120_000)

afterAll(async () => {
  if (work !== undefined) await rm(work, { recursive: true, force: true })
})

/** Runs an ES module snippet with node in the temp project. */
async function node(code: string): Promise<{ stdout: string; stderr: string }> {
  const file = join(project, `snippet-${Math.random().toString(36).slice(2)}.mjs`)
  await writeFile(file, code)
  return run(process.execPath, [file], { cwd: project })
}

describe('the packed package', () => {
  it('publishes dist, bin, docs, README and package.json only', () => {
    const tops = new Set(dryRunFiles.map((p) => p.split('/')[0]))
    expect([...tops].sort()).toEqual(['README.md', 'bin', 'dist', 'docs', 'package.json'])
    expect(dryRunFiles).toEqual(
      expect.arrayContaining([
        'README.md',
        'bin/callout.js',
        'dist/index.js',
        'dist/index.d.ts',
        'dist/cli/main.js',
        'docs/errors.md',
        'docs/recipes.md',
        'package.json',
      ]),
    )
    const forbidden = dryRunFiles.filter(
      (p) =>
        p.startsWith('src/') ||
        p.startsWith('test/') ||
        /\.test\.(?:js|ts|d\.ts)/.test(p) ||
        p.includes('.callout') ||
        /\.(?:key|pem|db)$/.test(p) ||
        p.startsWith('keys/') ||
        (p.endsWith('.ts') && !p.endsWith('.d.ts')),
    )
    expect(forbidden).toEqual([])
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

  it('refuses deep imports (nothing but "." and package.json is exported)', async () => {
    const { stdout } = await node(`
      const out = {}
      for (const spec of ['callout/dist/errors.js', 'callout/dist/index.js', 'callout/src/index.ts', 'callout/bin/callout.js']) {
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
      version: expect.stringMatching(/^\d+\.\d+\.\d+/),
    })
  })

  it('type-checks a consumer against the published declarations (types resolve, not any)', async () => {
    await writeFile(
      join(project, 'consumer.ts'),
      [
        "import { openBroker, isCalloutError, type Broker, type StatusReport } from 'callout'",
        "const broker: Broker = await openBroker({ home: '/nonexistent' })",
        "const res: Response = await broker.fetch('callout:Api/x', { method: 'POST', body: '{}' })",
        'const reports: StatusReport[] = await broker.status()',
        'const n: number = res.status + reports.length',
        "if (isCalloutError(n, 'NEEDS_REAUTH')) console.log(n.code)",
        '// @ts-expect-error: codes are a union type, so a typo does not compile',
        "isCalloutError(n, 'NEEDS_REAUTHH')",
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
  })

  it('runs the callout bin from dist, without tsx or any dev dependency', async () => {
    const { stdout } = await run(process.execPath, [join(installed, 'bin/callout.js'), '--help'], {
      cwd: project,
    })
    expect(stdout).toContain('Usage: callout')
    expect(stdout).toMatch(/\bapply\b/)
    const version = await run(process.execPath, [join(installed, 'bin/callout.js'), '--version'], {
      cwd: project,
    })
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/)
    // tsx is not there to fall back on: the bin really ran dist.
    const probe = await node(
      `try { await import('tsx/esm/api'); console.log('present') } catch (e) { console.log(e.code) }`,
    )
    expect(probe.stdout.trim()).toBe('ERR_MODULE_NOT_FOUND')
  })

  it('runs a command end to end from the packed build (init, apply, list)', async () => {
    const home = join(project, 'home')
    const env: NodeJS.ProcessEnv = { ...process.env, CALLOUT_HOME: home }
    delete env.CALLOUT_MASTER_KEY
    delete env.CALLOUT_STORE
    const bin = join(installed, 'bin/callout.js')
    await run(process.execPath, [bin, 'init'], { cwd: project, env })
    await writeFile(
      join(project, 'callout.yaml'),
      [
        'externalCredentials:',
        '  Open: { protocol: none }',
        'namedCredentials:',
        '  Status: { url: https://status.example.com/api, externalCredential: Open }',
        '',
      ].join('\n'),
    )
    await run(process.execPath, [bin, 'apply', '-f', 'callout.yaml'], { cwd: project, env })
    const { stdout } = await run(process.execPath, [bin, 'list', '--json'], { cwd: project, env })
    expect(JSON.parse(stdout)).toEqual([
      {
        name: 'Status',
        url: 'https://status.example.com/api',
        externalCredential: 'Open',
        protocol: 'none',
        enabled: true,
      },
    ])
  })
})
