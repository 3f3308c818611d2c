/** Path normalisation: Salesforce treats `//services/...` like `/services/...` (sfdx-core sends it). */

/** Collapses repeated slashes and drops one trailing slash (except for the root path). */
export function normalizePath(pathname: string): string {
  const collapsed = pathname.replace(/\/{2,}/g, '/')
  return collapsed.length > 1 && collapsed.endsWith('/') ? collapsed.slice(0, -1) : collapsed
}
