/**
 * The HTTP a browser sends, for `callout demo`: a cookie jar, forms posted urlencoded, redirects
 * never followed (the caller looks at each `Location`), CSRF and hidden fields read off pages.
 */

/** One answer as a browser sees it. */
export interface DemoPage {
  readonly status: number
  readonly body: string
  readonly location?: string
}

/** A cookie-keeping client bound to no origin (cookies are kept per host). */
export class DemoBrowser {
  readonly #jar = new Map<string, Map<string, string>>()

  /** GETs `url`. */
  async get(url: string): Promise<DemoPage> {
    return this.#send(url, 'GET')
  }

  /** POSTs `form` urlencoded to `url`. */
  async post(url: string, form: Record<string, string>): Promise<DemoPage> {
    return this.#send(url, 'POST', new URLSearchParams(form).toString())
  }

  async #send(url: string, method: string, body?: string): Promise<DemoPage> {
    const host = new URL(url).host
    const jar = this.#jar.get(host) ?? new Map<string, string>()
    this.#jar.set(host, jar)
    const cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ')
    const res = await fetch(url, {
      method,
      redirect: 'manual',
      headers: {
        ...(cookie === '' ? {} : { cookie }),
        ...(body === undefined ? {} : { 'content-type': 'application/x-www-form-urlencoded' }),
      },
      ...(body === undefined ? {} : { body }),
    })
    for (const line of res.headers.getSetCookie()) {
      const pair = line.split(';')[0] ?? ''
      const eq = pair.indexOf('=')
      if (eq > 0) jar.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim())
    }
    const location = res.headers.get('location')
    return {
      status: res.status,
      body: await res.text(),
      ...(location === null ? {} : { location: new URL(location, url).toString() }),
    }
  }
}

/** The value of the hidden field `name` on a page (the console's `_csrf`, the login's `tx`). */
export function fieldOf(html: string, name: string): string {
  const match = new RegExp(`name="${name}" value="([^"]*)"`).exec(html)
  if (match === null) throw new Error(`the page has no field ${name}`)
  return match[1] ?? ''
}

/**
 * Goes through a Salesforce login page and approval page from `authorizeUrl` and returns the
 * redirect back to the client (its callback URL with `code` and `state`) and the pages passed.
 */
export async function signInAndApprove(
  browser: DemoBrowser,
  authorizeUrl: string,
  user: { username: string; password: string },
): Promise<{ readonly callback: string; readonly pages: readonly string[] }> {
  const pages: string[] = []
  const action = `${new URL(authorizeUrl).origin}/services/oauth2/authorize`
  let page = await browser.get(authorizeUrl)
  for (let step = 0; step < 4 && page.status === 200; step++) {
    const tx = fieldOf(page.body, 'tx')
    if (page.body.includes('id="login"')) {
      pages.push('login')
      page = await browser.post(action, {
        tx,
        step: 'login',
        username: user.username,
        pw: user.password,
      })
    } else if (page.body.includes('id="approve"')) {
      pages.push('approval')
      page = await browser.post(action, { tx, step: 'approve', action: 'approve' })
    } else break
  }
  if (page.location === undefined) {
    throw new Error(`the authorize page did not redirect back (HTTP ${page.status})`)
  }
  return { callback: page.location, pages }
}
