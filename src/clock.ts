/** A source of time, injected so that token expiry and cooldowns are testable. */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number
}

/** The real clock. */
export const systemClock: Clock = Object.freeze({ now: () => Date.now() })
