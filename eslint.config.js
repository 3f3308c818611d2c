import js from '@eslint/js'
import tseslint from 'typescript-eslint'

/**
 * The layers of src/ (docs/architecture.md): each folder may import the folders listed here and,
 * through them, what those may import, plus `errors.ts` and `clock.ts` (providers/: `errors.ts`
 * only), which import nothing; `index.ts` (the public surface) may import anything but cli/.
 */
const LAYERS = {
  providers: [],
  secrets: ['providers'],
  definitions: ['secrets', 'providers'],
  store: ['definitions', 'secrets'],
  auth: ['definitions', 'secrets', 'providers'],
  tokens: ['auth', 'store'],
  callout: ['tokens', 'auth', 'store'],
  server: ['callout', 'store'],
  cli: ['server', 'callout', 'tokens', 'auth', 'store', 'definitions', 'secrets', 'providers'],
}

/** The layers `layer` may import, directly or through the layers it may import. */
function reachable(layer, seen = new Set()) {
  for (const next of LAYERS[layer]) {
    if (!seen.has(next)) reachable(next, seen.add(next))
  }
  return seen
}

const EMULATOR = {
  name: '@callout/salesforce-emulator',
  message: 'The broker never imports the emulator (only tests and `callout demo` may).',
}

/** Production code never imports tests, benchmarks or the emulator's files. */
const OUTSIDE_SRC = {
  regex: '^(\\.\\./)+(test|bench|packages)/',
  message: 'Code in src/ never imports test/, bench/ or packages/.',
}

/** Test files beside the code may import test/helpers/ (and the emulator), nothing else outside src/. */
const OUTSIDE_SRC_FOR_TESTS = {
  regex: '^(\\.\\./)+(bench/|packages/|test/(?!helpers/))',
  message:
    'Tests in src/ may import test/helpers/, never other files of test/, bench/ or packages/.',
}

const TEST_FILES = ['**/*.test.ts', '**/*.test-helper.ts']

/**
 * no-restricted-imports for the code in `files`, refusing the `forbidden` layers: one config for
 * production code, and one for its test files, which follow the same layer rules but may also
 * import test/helpers/ and the emulator package.
 */
function layerRule(files, forbidden, who) {
  const layers =
    forbidden.length === 0
      ? []
      : [
          {
            regex: `^(\\.\\.?/)+(${forbidden.join('|')})(/|$)`,
            message: `${who} may not import ${forbidden.join(', ').replaceAll('\\', '')} (docs/architecture.md lists what each layer may import).`,
          },
        ]
  return [
    {
      files,
      ignores: TEST_FILES,
      rules: {
        'no-restricted-imports': [
          'error',
          { paths: [EMULATOR], patterns: [OUTSIDE_SRC, ...layers] },
        ],
      },
    },
    {
      files: files.flatMap((glob) =>
        glob.endsWith('.ts') && !glob.includes('*')
          ? [glob.replace(/\.ts$/, '.test.ts')]
          : TEST_FILES.map((test) => glob.replace('**/*.ts', test)),
      ),
      rules: {
        'no-restricted-imports': ['error', { patterns: [OUTSIDE_SRC_FOR_TESTS, ...layers] }],
      },
    },
  ]
}

const ALL = Object.keys(LAYERS)

/**
 * The layers of the emulator's src/ (packages/salesforce-emulator/README.md, "Source map"): each
 * folder may import the folders listed here and, through them, what those may import. The API
 * families (oauth/, rest/, apex/, bulk/, search/, tooling/, streaming/, soap/, admin/, ui/) sit side by side
 * over http/, org/, seed/ and data/ and never import each other, except that rest/ serves the JSON
 * resources of search/ and tooling/ (a composite request may contain a search); server/ routes to
 * them; the top-level files may import anything.
 */
const EMULATOR_LAYERS = {
  data: [],
  seed: ['data'],
  org: ['seed'],
  http: ['org'],
  oauth: ['http'],
  search: ['http'],
  tooling: ['http'],
  rest: ['search', 'tooling'],
  apex: ['http'],
  admin: ['http'],
  bulk: ['http'],
  streaming: ['http'],
  soap: ['http'],
  ui: ['http'],
  server: ['oauth', 'rest', 'apex', 'admin', 'bulk', 'streaming', 'soap', 'ui'],
}
const EMULATOR_ALL = Object.keys(EMULATOR_LAYERS)
const EMULATOR_TOP = ['emulator\\.ts', 'emulated-org\\.ts', 'index\\.ts', 'cli\\.ts']

/** The emulator layers `layer` may import, directly or through the layers it may import. */
function emulatorReachable(layer, seen = new Set()) {
  for (const next of EMULATOR_LAYERS[layer]) {
    if (!seen.has(next)) emulatorReachable(next, seen.add(next))
  }
  return seen
}

/** The emulator never imports the broker: neither the package nor its files. */
const EMULATOR_NO_BROKER = {
  paths: [{ name: 'callout', message: 'The emulator never imports the broker.' }],
  patterns: [
    {
      regex: `^(\\.\\./)+(\\.\\./)src/(errors\\.ts|clock\\.ts|index\\.ts|(${ALL.join('|')})/)`,
      message: 'The emulator never imports the broker.',
    },
  ],
}

/** no-restricted-imports for the emulator's src/<layer>/: no broker, no upward or sideways import. */
function emulatorLayerRule(layer) {
  const allowed = emulatorReachable(layer)
  const forbidden = [
    ...EMULATOR_ALL.filter((other) => other !== layer && !allowed.has(other)),
    ...EMULATOR_TOP,
  ]
  return {
    files: [`packages/salesforce-emulator/src/${layer}/**/*.ts`],
    ignores: ['**/*.test.ts', '**/*.test-helper.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: EMULATOR_NO_BROKER.paths,
          patterns: [
            ...EMULATOR_NO_BROKER.patterns,
            {
              regex: `^(\\.\\./)+(${forbidden.join('|')})(/|$)`,
              message: `The emulator's ${layer}/ may not import ${forbidden.join(', ').replaceAll('\\', '')} (packages/salesforce-emulator/README.md, "Source map").`,
            },
          ],
        },
      ],
    },
  }
}

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      '**/node_modules/**',
      '**/dist/**',
      'coverage/**',
      '.callout/**',
      '.callout-demo/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    files: ['**/*.js'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      ...tseslint.configs.disableTypeChecked.languageOptions,
      globals: { process: 'readonly', URL: 'readonly', console: 'readonly', Buffer: 'readonly' },
    },
  },
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      // A switch over a union names every member, or ends in a deliberate catch-all `default`.
      '@typescript-eslint/switch-exhaustiveness-check': [
        'error',
        { considerDefaultExhaustiveForUnions: true },
      ],
      // `String(value)` on unknown input (header values, SOQL literals) is the intended coercion.
      '@typescript-eslint/no-base-to-string': 'off',
      // Async functions without an await implement Promise-returning interfaces.
      '@typescript-eslint/require-await': 'off',
      // Redundant type assertions in several modules; harmless, removed as those files change.
      '@typescript-eslint/no-unnecessary-type-assertion': 'off',
      // Input validation deliberately matches control characters (CR, LF, NUL, C0).
      'no-control-regex': 'off',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
    },
  },
  {
    // Tests and benchmarks read untyped JSON bodies and pass methods to expect(); their assertions
    // check the shapes. Production code keeps these rules.
    files: [
      '**/*.test.ts',
      '**/*.test-helper.ts',
      'test/**/*.ts',
      'bench/**/*.ts',
      '**/test/**/*.ts',
    ],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/unbound-method': 'off',
      '@typescript-eslint/restrict-template-expressions': 'off',
      '@typescript-eslint/no-misused-promises': 'off',
      // Literal sentinels such as `string | 'none'` document test options.
      '@typescript-eslint/no-redundant-type-constituents': 'off',
    },
  },
  // The layers of src/.
  ...ALL.flatMap((layer) =>
    layerRule(
      [`src/${layer}/**/*.ts`],
      [
        ...ALL.filter((other) => other !== layer && !reachable(layer).has(other)),
        // providers/ is the leaf above errors.ts: not even the clock.
        ...(layer === 'providers' ? ['clock\\.ts'] : []),
      ],
      `src/${layer}`,
    ),
  ),
  ...layerRule(
    ['src/errors.ts', 'src/clock.ts'],
    [...ALL, 'errors\\.ts', 'clock\\.ts'],
    'src/errors.ts and src/clock.ts',
  ),
  ...layerRule(['src/index.ts'], ['cli'], 'src/index.ts'),
  // Inside server/: admin/ (logins, sessions, tokens, audit) sits below console/ (the pages and
  // the admin API), which use it; the proxy files use neither.
  {
    files: ['src/server/admin/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [EMULATOR],
          patterns: [
            OUTSIDE_SRC,
            {
              regex: '^(\\.\\./)+(cli|console)(/|$)',
              message: 'src/server/admin may not import console/ or cli/ (docs/architecture.md).',
            },
          ],
        },
      ],
    },
  },
  // The emulator is a package of its own: it never imports the broker.
  {
    files: ['packages/salesforce-emulator/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', EMULATOR_NO_BROKER] },
  },
  // The layers of the emulator's src/.
  ...EMULATOR_ALL.map(emulatorLayerRule),
)
