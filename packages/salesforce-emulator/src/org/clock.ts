/** The emulator's clock: real time plus an offset tests can advance (token and code expiry). */

/** A clock that can be moved forward. */
export class Clock {
  #offsetMs = 0

  /** Milliseconds since the epoch, including any advance. */
  now(): number {
    return Date.now() + this.#offsetMs
  }

  /** Moves time forward by `ms` (tokens, codes and refresh tokens age accordingly). */
  advance(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0)
      throw new RangeError('advance(ms) needs a non-negative number')
    this.#offsetMs += ms
  }
}
