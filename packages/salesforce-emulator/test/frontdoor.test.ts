/**
 * The UI Bridge API (`/services/oauth2/singleaccess`), `/secur/frontdoor.jsp` (one-time `otp`
 * and the older `sid` form), the UI session cookie and the record pages, over HTTP.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startEmulator, type EmulatedOrg, type Emulator } from '../src/index.ts'

describe('frontdoor: singleaccess, frontdoor.jsp and record pages', () => {
  let emulator: Emulator
  let org: EmulatedOrg
  let accountId: string
  beforeAll(async () => {
    emulator = await startEmulator({ orgs: [{ name: 'fd' }] })
    org = emulator.org('fd')
    const { accessToken } = org.issueTokens({ scopes: ['api'] })
    const res = await fetch(`${org.instanceUrl}/services/data/v61.0/sobjects/Account`, {
      method: 'POST',
      headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ Name: 'Acme <b>&</b>' }),
    })
    accountId = ((await res.json()) as { id: string }).id
  })
  afterAll(async () => {
    await emulator.close()
  })

  const singleAccess = (
    token: string | undefined,
    body?: string,
    type = 'application/x-www-form-urlencoded',
  ) =>
    fetch(`${org.instanceUrl}/services/oauth2/singleaccess`, {
      method: 'POST',
      headers: {
        ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
        'content-type': type,
      },
      ...(body === undefined ? {} : { body }),
    })
  const frontdoorFor = async (path: string, scopes = ['web', 'api']): Promise<string> => {
    const { accessToken } = org.issueTokens({ scopes })
    const res = await singleAccess(
      accessToken,
      new URLSearchParams({ redirect_uri: path }).toString(),
    )
    expect(res.status).toBe(200)
    const body = (await res.json()) as { frontdoor_uri: string }
    expect(Object.keys(body)).toEqual(['frontdoor_uri'])
    return body.frontdoor_uri
  }
  const open = (url: string, cookie?: string) =>
    fetch(url, { redirect: 'manual', headers: cookie === undefined ? {} : { cookie } })
  const sessionCookie = (res: Response): string => {
    const set = res.headers.getSetCookie()
    expect(set).toHaveLength(1)
    expect(set[0]).toMatch(/HttpOnly/)
    return (set[0] ?? '').split(';')[0] ?? ''
  }

  it('answers a frontdoor_uri on the org that lands on redirect_uri once, with an HttpOnly session cookie', async () => {
    const url = await frontdoorFor(`/lightning/r/Account/${accountId}/edit`)
    const parsed = new URL(url)
    expect(parsed.origin).toBe(org.instanceUrl)
    expect(parsed.pathname).toBe('/secur/frontdoor.jsp')
    expect(parsed.searchParams.get('otp')).toMatch(/^[\w-]{40,}$/)
    expect(parsed.searchParams.get('startURL')).toBe(`/lightning/r/Account/${accountId}/edit`)
    const first = await open(url)
    expect(first.status).toBe(302)
    expect(first.headers.get('location')).toBe(
      `${org.instanceUrl}/lightning/r/Account/${accountId}/edit`,
    )
    const cookie = sessionCookie(first)
    const page = await open(first.headers.get('location') ?? '', cookie)
    expect(page.status).toBe(200)
    const html = await page.text()
    expect(html).toContain('value="Acme &lt;b&gt;&amp;&lt;/b&gt;"')
    expect(html).not.toContain('<b>&</b>')
    const again = await open(url)
    expect(again.status).toBe(302)
    expect(again.headers.get('location')).toMatch(new RegExp(`^${org.instanceUrl}/\\?ec=302`))
    expect(again.headers.getSetCookie()).toEqual([])
  })

  it('defaults redirect_uri to / and takes it as JSON too', async () => {
    const { accessToken } = org.issueTokens({ scopes: ['full'] })
    const none = await singleAccess(accessToken)
    expect(
      new URL(((await none.json()) as { frontdoor_uri: string }).frontdoor_uri).searchParams.get(
        'startURL',
      ),
    ).toBe('/')
    const json = await singleAccess(
      accessToken,
      JSON.stringify({ redirect_uri: `/${accountId}` }),
      'application/json',
    )
    expect(
      new URL(((await json.json()) as { frontdoor_uri: string }).frontdoor_uri).searchParams.get(
        'startURL',
      ),
    ).toBe(`/${accountId}`)
  })

  it('a code expires after 60 seconds', async () => {
    const url = await frontdoorFor(`/${accountId}`)
    emulator.clock.advance(61_000)
    const res = await open(url)
    expect(res.headers.get('location')).toBe(`${org.instanceUrl}/?ec=302&startURL=%2F${accountId}`)
  })

  it('refuses a missing, unknown or revoked token with 401 invalid_token', async () => {
    for (const token of [undefined, 'not-a-token']) {
      const res = await singleAccess(token)
      expect(res.status).toBe(401)
      expect(await res.json()).toEqual({
        error: 'invalid_token',
        error_description: 'invalid token',
      })
    }
  })

  it('refuses a token without web or full with 403 insufficient_scope', async () => {
    const { accessToken } = org.issueTokens({ scopes: ['api', 'refresh_token'] })
    const res = await singleAccess(accessToken)
    expect(res.status).toBe(403)
    expect(((await res.json()) as { error: string }).error).toBe('insufficient_scope')
  })

  it('refuses a redirect_uri that is not a path on the org, and malformed bodies', async () => {
    const { accessToken } = org.issueTokens({ scopes: ['web'] })
    for (const target of [
      'https://evil.example/',
      '//evil.example/x',
      'javascript:alert(1)',
      '/a\r\nSet-Cookie: x=1',
      '/\\evil.example',
    ]) {
      const res = await singleAccess(
        accessToken,
        new URLSearchParams({ redirect_uri: target }).toString(),
      )
      expect(res.status, target).toBe(400)
    }
    for (const body of ['{', '[1]', '{"redirect_uri":5}']) {
      const res = await singleAccess(accessToken, body, 'application/json')
      expect(res.status, body).toBe(400)
    }
    const get = await fetch(`${org.instanceUrl}/services/oauth2/singleaccess`)
    expect(get.status).toBe(405)
  })

  it('the sid form logs in with a web/full token and lands on retURL; otherwise the login page', async () => {
    const web = org.issueTokens({ scopes: ['web'] }).accessToken
    const ok = await open(
      `${org.instanceUrl}/secur/frontdoor.jsp?sid=${web}&retURL=${encodeURIComponent(`/${accountId}`)}`,
    )
    expect(ok.headers.get('location')).toBe(`${org.instanceUrl}/${accountId}`)
    const cookie = sessionCookie(ok)
    const view = await open(`${org.instanceUrl}/${accountId}`, cookie)
    expect(view.status).toBe(200)
    expect(await view.text()).toContain('Acme &lt;b&gt;')
    const apiOnly = org.issueTokens({ scopes: ['api'] }).accessToken
    for (const sid of [apiOnly, 'bogus']) {
      const res = await open(`${org.instanceUrl}/secur/frontdoor.jsp?sid=${sid}&retURL=%2Fhome`)
      expect(res.headers.get('location')).toBe(`${org.instanceUrl}/?ec=302&startURL=%2Fhome`)
    }
    const hostile = await open(
      `${org.instanceUrl}/secur/frontdoor.jsp?sid=${web}&retURL=${encodeURIComponent('//evil.example')}`,
    )
    expect(hostile.headers.get('location')).toBe(`${org.instanceUrl}/`)
  })

  it('record pages and the home page without a UI session redirect to the login page', async () => {
    for (const path of [
      '/lightning/page/home',
      `/lightning/r/Account/${accountId}/view`,
      `/lightning/r/Account/${accountId}/edit`,
      `/${accountId}`,
      `/${accountId}/e`,
    ]) {
      const res = await open(`${org.instanceUrl}${path}`, 'sid=forged')
      expect(res.status, path).toBe(302)
      expect(res.headers.get('location')).toBe(
        `${org.instanceUrl}/?ec=302&startURL=${encodeURIComponent(path)}`,
      )
    }
    const login = await open(`${org.instanceUrl}/`)
    expect(await login.text()).toContain('Login | Salesforce')
  })

  it('the edit form saves through the data layer and needs the form token', async () => {
    const url = await frontdoorFor(`/${accountId}/e`)
    const cookie = sessionCookie(await open(url))
    const html = await (await open(`${org.instanceUrl}/${accountId}/e`, cookie)).text()
    const token = /name="_token" value="([^"]+)"/.exec(html)?.[1] ?? ''
    const post = (form: Record<string, string>) =>
      fetch(`${org.instanceUrl}/${accountId}/e`, {
        method: 'POST',
        redirect: 'manual',
        headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(form).toString(),
      })
    const forged = await post({ _token: 'wrong', Name: 'Forged' })
    expect(forged.status).toBe(403)
    const missing = await post({ Name: 'Forged' })
    expect(missing.status).toBe(403)
    const tooLong = await post({ _token: token, Name: 'x'.repeat(300) })
    expect(tooLong.status).toBe(400)
    const saved = await post({ _token: token, Name: 'Renamed "Co"' })
    expect(saved.status).toBe(303)
    expect(saved.headers.get('location')).toBe(
      `${org.instanceUrl}/lightning/r/Account/${accountId}/view`,
    )
    const { accessToken } = org.issueTokens({ scopes: ['api'] })
    const read = await fetch(
      `${org.instanceUrl}/services/data/v61.0/sobjects/Account/${accountId}?fields=Name`,
      {
        headers: { authorization: `Bearer ${accessToken}` },
      },
    )
    expect(((await read.json()) as { Name: string }).Name).toBe('Renamed "Co"')
  })
})
