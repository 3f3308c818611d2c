/** Loopback address checks for the test-only `/_emulator` API. */

/** True when `address` is an IPv4 or IPv6 loopback address. */
export function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.')
}
