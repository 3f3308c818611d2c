/** OAuth helpers for tests: token requests and a driver for the authorize pages. */
import { createHash, randomBytes } from 'node:crypto'
import { Browser, hiddenField, type Page } from './browser.ts'

/** A JSON answer. */
export interface JsonAnswer {
  status: number
  headers: Headers
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any
}

/** POSTs a form to `<origin>/services/oauth2/token` (or another path). */
export async function postForm(
  url: string,
  fields: Record<string, string>,
  headers: Record<string, string> = {},
): Promise<JsonAnswer> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(fields).toString(),
  })
  const text = await res.text()
  let body: unknown = text
  try {
    body = JSON.parse(text)
  } catch {
    // not JSON
  }
  return { status: res.status, headers: res.headers, body }
}

/** GETs JSON with a bearer token. */
export async function getJson(
  url: string,
  token?: string,
  headers: Record<string, string> = {},
): Promise<JsonAnswer> {
  const res = await fetch(url, {
    redirect: 'manual',
    headers: { ...(token === undefined ? {} : { authorization: `Bearer ${token}` }), ...headers },
  })
  const text = await res.text()
  let body: unknown = text
  try {
    body = JSON.parse(text)
  } catch {
    // not JSON
  }
  return { status: res.status, headers: res.headers, body }
}

/** A PKCE verifier (171 characters by default, like sfdx-core) and its S256 challenge. */
export function pkcePair(bytes = 128): { verifier: string; challenge: string } {
  const verifier = randomBytes(bytes).toString('base64url')
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') }
}

/** The outcome of driving the authorize pages. */
export interface AuthorizeOutcome {
  /** The final redirect back to the client. */
  location: string
  /** Query parameters of the redirect. */
  params: URLSearchParams
  /** Pages seen on the way: 'login', 'approval'. */
  pages: string[]
}

/**
 * Drives `GET /services/oauth2/authorize` → login page → approval page (approve or deny) to the
 * redirect back to the client.
 */
export async function authorize(
  authorizeUrl: string,
  credentials: { username: string; password: string },
  options: { browser?: Browser; approve?: boolean } = {},
): Promise<AuthorizeOutcome> {
  const browser = options.browser ?? new Browser()
  const origin = new URL(authorizeUrl).origin
  const pages: string[] = []
  let page: Page = await browser.get(authorizeUrl)
  for (let step = 0; step < 4 && page.status === 200; step++) {
    if (page.html.includes('id="login"')) {
      pages.push('login')
      page = await browser.post(`${origin}/services/oauth2/authorize`, {
        tx: hiddenField(page.html, 'tx'),
        step: 'login',
        username: credentials.username,
        pw: credentials.password,
      })
    } else if (page.html.includes('id="approve"')) {
      pages.push('approval')
      page = await browser.post(`${origin}/services/oauth2/authorize`, {
        tx: hiddenField(page.html, 'tx'),
        step: 'approve',
        action: options.approve === false ? 'deny' : 'approve',
      })
    } else {
      break
    }
  }
  if (page.status !== 302 || page.location === undefined) {
    throw new Error(
      `authorize did not redirect back (status ${page.status}): ${page.html.slice(0, 300)}`,
    )
  }
  const location = page.location
  const hashOrQuery = location.includes('#') ? location.split('#')[1] : new URL(location).search
  return { location, params: new URLSearchParams(hashOrQuery), pages }
}

/** Builds an authorize URL. */
export function authorizeUrl(origin: string, params: Record<string, string>): string {
  return `${origin}/services/oauth2/authorize?${new URLSearchParams({ response_type: 'code', ...params }).toString()}`
}
