/**
 * A tiny "browser" for driving the emulator's HTML pages over plain HTTP: a cookie jar, manual
 * redirects, and form posts.
 */

/** One HTTP answer as the browser saw it. */
export interface Page {
  status: number
  location: string | undefined
  html: string
  headers: Headers
}

/** A cookie-keeping HTTP client. Cookies are kept per host name, ignoring ports, like browsers. */
export class Browser {
  readonly #cookies = new Map<string, string>()

  #cookieHeader(): string {
    return [...this.#cookies].map(([k, v]) => `${k}=${v}`).join('; ')
  }

  #store(res: Response): void {
    for (const cookie of res.headers.getSetCookie()) {
      const [pair = ''] = cookie.split(';')
      const eq = pair.indexOf('=')
      if (eq > 0) this.#cookies.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim())
    }
  }

  /** GET without following redirects. */
  async get(url: string): Promise<Page> {
    const res = await fetch(url, { redirect: 'manual', headers: { cookie: this.#cookieHeader() } })
    this.#store(res)
    return {
      status: res.status,
      location: res.headers.get('location') ?? undefined,
      html: await res.text(),
      headers: res.headers,
    }
  }

  /** POSTs a form without following redirects. */
  async post(url: string, fields: Record<string, string>): Promise<Page> {
    const res = await fetch(url, {
      method: 'POST',
      redirect: 'manual',
      headers: {
        cookie: this.#cookieHeader(),
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams(fields).toString(),
    })
    this.#store(res)
    return {
      status: res.status,
      location: res.headers.get('location') ?? undefined,
      html: await res.text(),
      headers: res.headers,
    }
  }

  /** Forgets every cookie. */
  clearCookies(): void {
    this.#cookies.clear()
  }
}

/** The value of a hidden input in a page. */
export function hiddenField(html: string, name: string): string {
  const match = new RegExp(`name="${name}" value="([^"]*)"`).exec(html)
  if (match === null) throw new Error(`no field ${name} in page`)
  return match[1] ?? ''
}
