import { defaultServerConditions } from 'vite'
import { defineConfig } from 'vitest/config'

/**
 * `callout-source`: workspace packages (the Salesforce emulator) resolve to their TypeScript
 * sources in a checkout, so tests never need a build and never see a stale `dist/`. The published
 * packages resolve to `dist/` (that condition is set nowhere else).
 */
const ssr = { resolve: { conditions: ['callout-source', ...defaultServerConditions] } }
const shared = { testTimeout: 30_000, hookTimeout: 30_000 }

export default defineConfig({
  test: {
    pool: 'forks',
    reporters: ['default'],
    projects: [
      {
        ssr,
        test: {
          ...shared,
          name: 'unit',
          include: ['src/**/*.test.ts', 'packages/salesforce-emulator/src/**/*.test.ts'],
        },
      },
      {
        ssr,
        test: {
          ...shared,
          name: 'integration',
          include: ['test/**/*.test.ts', 'packages/salesforce-emulator/test/**/*.test.ts'],
        },
      },
    ],
  },
})
