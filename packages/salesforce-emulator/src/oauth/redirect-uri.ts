/** Appending OAuth response parameters to a client's redirect URI (query or fragment). */

/** `uri` with `params` added to its query (or its fragment for the user-agent flow). */
export function withResponseParams(
  uri: string,
  params: Record<string, string | undefined>,
  fragment = false,
): string {
  const entries = Object.entries(params).filter((e): e is [string, string] => e[1] !== undefined)
  const encoded = new URLSearchParams(entries).toString()
  if (fragment) return `${uri.split('#')[0]}#${encoded}`
  const [base, hash] = uri.split('#', 2) as [string, string | undefined]
  const joined = `${base}${base.includes('?') ? '&' : '?'}${encoded}`
  return hash === undefined ? joined : `${joined}#${hash}`
}
