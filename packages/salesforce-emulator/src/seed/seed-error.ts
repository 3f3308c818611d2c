/** The error thrown for an invalid seed; the message names the offending path and the fix. */

const BRAND = Symbol.for('callout.salesforce-emulator.SeedError')

/**
 * An invalid emulator seed, or an invalid definition given at run time (a connected app, user or
 * custom field). `path` is like `seed.orgs[0].connectedApps[1].callbackUrls` for seeds and
 * `connectedApp.callbackUrls` or `body.callbackUrls` for run-time definitions.
 */
export class SeedError extends Error {
  /**
   * Stable code: `INVALID_SEED` for a malformed definition, `DUPLICATE_DEFINITION` for a name or
   * key the org already has.
   */
  readonly code: 'INVALID_SEED' | 'DUPLICATE_DEFINITION'
  /** Where the problem is. */
  readonly path: string
  /** What is wrong and what to write instead. */
  readonly problem: string
  readonly [BRAND] = true

  constructor(
    path: string,
    problem: string,
    code: 'INVALID_SEED' | 'DUPLICATE_DEFINITION' = 'INVALID_SEED',
  ) {
    super(
      path === 'seed' || path.startsWith('seed.')
        ? `invalid emulator seed at ${path}: ${problem}`
        : `invalid ${path}: ${problem}`,
    )
    this.name = 'SeedError'
    this.code = code
    this.path = path
    this.problem = problem
  }

  /** Brand check that survives duplicate installs. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && BRAND in value
  }
}
