/** The error thrown for an invalid seed; the message names the offending path and the fix. */

const BRAND = Symbol.for('callout.salesforce-emulator.SeedError')

/** An invalid emulator seed. `path` is like `orgs[0].connectedApps[1].callbackUrls`. */
export class SeedError extends Error {
  /** Stable code. */
  readonly code = 'INVALID_SEED'
  /** Where in the seed the problem is. */
  readonly path: string
  readonly [BRAND] = true

  constructor(path: string, problem: string) {
    super(`invalid emulator seed at ${path}: ${problem}`)
    this.name = 'SeedError'
    this.path = path
  }

  /** Brand check that survives duplicate installs. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && BRAND in value
  }
}
