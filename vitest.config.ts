import { availableParallelism } from 'node:os'
import { defaultServerConditions } from 'vite'
import { configDefaults, defineConfig } from 'vitest/config'

/**
 * `callout-source`: workspace packages (the Salesforce emulator) resolve to their TypeScript
 * sources in a checkout, so tests never need a build and never see a stale `dist/`. The published
 * packages resolve to `dist/` (that condition is set nowhere else).
 */
const ssr = { resolve: { conditions: ['callout-source', ...defaultServerConditions] } }
const shared = { testTimeout: 30_000, hookTimeout: 30_000 }

/**
 * Test files that start several processes at once to make a storm (or measure the event loop while
 * another process holds a lock). They run one at a time after every other file, so each has the
 * machine's cores to itself and its processes race each other, not the rest of the suite.
 */
const STORMS = [
  'test/e2e/multi-process.test.ts',
  'test/e2e/scale-out.test.ts',
  'test/e2e/scale-faults.test.ts',
  'test/store-sqlite-lock.test.ts',
]

const INTEGRATION = ['test/**/*.test.ts', 'packages/salesforce-emulator/test/**/*.test.ts']

/**
 * Integration test files that need a process of their own: @salesforce/core reads HOME once, when
 * it is first imported, and each of these points HOME at a folder of its own before importing it;
 * the schema-compiler test checks which modules the proxy alone has loaded.
 */
const OWN_PROCESS = [
  'test/server/salesforce-core.test.ts',
  'packages/salesforce-emulator/test/clients/salesforce-core.test.ts',
  'test/server/schema-compilers.test.ts',
]

export default defineConfig({
  test: {
    pool: 'forks',
    // Most files wait on sockets, child processes and Chromium: two files at a time even on a
    // 2-core machine (the default leaves one core idle there).
    maxWorkers: Math.max(2, availableParallelism() - 1),
    reporters: ['default'],
    projects: [
      {
        ssr,
        test: {
          ...shared,
          name: 'unit',
          include: ['src/**/*.test.ts', 'packages/salesforce-emulator/src/**/*.test.ts'],
          // Unit tests keep no state between files: one worker process runs many of them.
          isolate: false,
        },
      },
      {
        ssr,
        test: {
          ...shared,
          name: 'integration',
          include: INTEGRATION,
          exclude: [...configDefaults.exclude, ...STORMS, ...OWN_PROCESS],
          // Each file starts and closes its own servers, stores and browsers: one worker process
          // runs many files, loading the sources and dependencies once.
          isolate: false,
        },
      },
      {
        ssr,
        test: { ...shared, name: 'integration-isolated', include: OWN_PROCESS },
      },
      {
        ssr,
        test: {
          ...shared,
          name: 'storms',
          include: STORMS,
          maxWorkers: 1,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
})
