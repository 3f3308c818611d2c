import { createHmac } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startEmulator, type EmulatedOrg, type Emulator } from '../src/index.ts'
import { postForm } from './helpers/oauth.ts'

describe('POST /services/oauth2/token', () => {
  let emulator: Emulator
  let org: EmulatedOrg
  let tokenUrl: string
  beforeAll(async () => {
    emulator = await startEmulator({
      orgs: [
        {
          name: 'acme',
          users: [
            { username: 'admin@acme.example', password: 'Admin-1' },
            { username: 'gone@acme.example', password: 'Gone-1', active: false },
            { username: 'robot@acme.example', password: 'Robot-1' },
          ],
          connectedApps: [
            {
              name: 'Main',
              callbackUrls: ['http://localhost/cb'],
              clientCredentialsUser: 'robot@acme.example',
            },
            { name: 'NoRunAs', callbackUrls: ['http://localhost/cb'] },
            {
              name: 'NotPreAuthorized',
              callbackUrls: ['http://localhost/cb'],
              adminPreAuthorized: false,
              clientCredentialsUser: 'robot@acme.example',
            },
          ],
        },
      ],
    })
    org = emulator.org('acme')
    tokenUrl = `${org.instanceUrl}/services/oauth2/token`
  })
  afterAll(async () => {
    await emulator.close()
  })

  const app = (name = 'Main') => org.connectedApp(name)
  const password = (extra: Record<string, string> = {}) => ({
    grant_type: 'password',
    client_id: app().consumerKey,
    client_secret: app().consumerSecret,
    username: 'admin@acme.example',
    password: 'Admin-1',
    ...extra,
  })

  it('returns the exact Salesforce token response for the password grant', async () => {
    const res = await postForm(tokenUrl, password())
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('application/json;charset=UTF-8')
    const body = res.body as Record<string, string>
    expect(Object.keys(body)).toEqual([
      'access_token',
      'signature',
      'scope',
      'instance_url',
      'id',
      'token_type',
      'issued_at',
    ])
    expect(body['expires_in']).toBeUndefined()
    expect(body['refresh_token']).toBeUndefined()
    expect(body['access_token']).toMatch(new RegExp(`^${org.orgId.slice(0, 15)}![A-Za-z0-9_-]+$`))
    expect(body['access_token']?.split('.').length).toBe(1)
    expect(body['instance_url']).toBe(org.instanceUrl)
    expect(body['id']).toBe(
      `${org.instanceUrl}/id/${org.orgId}/${org.user('admin@acme.example').userId}`,
    )
    expect(body['token_type']).toBe('Bearer')
    expect(body['issued_at']).toMatch(/^\d{13}$/)
    expect(Math.abs(Number(body['issued_at']) - Date.now())).toBeLessThan(60_000)
    const expected = createHmac('sha256', app().consumerSecret)
      .update(`${body['id']}${body['issued_at']}`)
      .digest('base64')
    expect(body['signature']).toBe(expected)
    expect(body['scope']?.split(' ')).not.toContain('refresh_token')
  })

  it('accepts HTTP Basic client authentication', async () => {
    const basic = Buffer.from(`${app().consumerKey}:${app().consumerSecret}`).toString('base64')
    const res = await postForm(
      tokenUrl,
      { grant_type: 'password', username: 'admin@acme.example', password: 'Admin-1' },
      { authorization: `Basic ${basic}` },
    )
    expect(res.status).toBe(200)
  })

  it('answers form-encoded with format=urlencoded', async () => {
    const res = await postForm(tokenUrl, password({ format: 'urlencoded' }))
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/^application\/x-www-form-urlencoded/)
    expect(new URLSearchParams(res.body as string).get('token_type')).toBe('Bearer')
  })

  const errors: [
    string,
    () => Record<string, string>,
    number,
    string,
    string,
    Record<string, string>?,
  ][] = [
    [
      'bad password',
      () => password({ password: 'nope' }),
      400,
      'invalid_grant',
      'authentication failure',
    ],
    [
      'unknown user',
      () => password({ username: 'who@acme.example' }),
      400,
      'invalid_grant',
      'authentication failure',
    ],
    [
      'inactive user',
      () => password({ username: 'gone@acme.example', password: 'Gone-1' }),
      400,
      'inactive_user',
      'user is inactive',
    ],
    [
      'unknown client',
      () => password({ client_id: 'nope' }),
      400,
      'invalid_client_id',
      'client identifier invalid',
    ],
    [
      'bad secret',
      () => password({ client_secret: 'nope' }),
      400,
      'invalid_client',
      'invalid client credentials',
    ],
    [
      'missing secret',
      () => password({ client_secret: '' }),
      400,
      'invalid_client',
      'invalid client credentials',
    ],
    [
      'unsupported grant',
      () => password({ grant_type: 'magic' }),
      400,
      'unsupported_grant_type',
      'grant type not supported',
    ],
    [
      'missing grant type',
      () => ({ client_id: app().consumerKey }),
      400,
      'invalid_request',
      'grant type is missing',
    ],
    [
      'unknown refresh token',
      () => ({ grant_type: 'refresh_token', refresh_token: 'nope', client_id: app().consumerKey }),
      400,
      'invalid_grant',
      'expired access/refresh token',
    ],
    [
      'client credentials without run-as user',
      () => ({
        grant_type: 'client_credentials',
        client_id: app('NoRunAs').consumerKey,
        client_secret: app('NoRunAs').consumerSecret,
      }),
      400,
      'invalid_grant',
      'no client credentials user enabled',
    ],
    [
      'client credentials without pre-authorization',
      () => ({
        grant_type: 'client_credentials',
        client_id: app('NotPreAuthorized').consumerKey,
        client_secret: app('NotPreAuthorized').consumerSecret,
      }),
      400,
      'invalid_app_access',
      'user is not admin approved to access this app',
    ],
    [
      'client credentials asking for refresh_token',
      () => ({
        grant_type: 'client_credentials',
        client_id: app().consumerKey,
        client_secret: app().consumerSecret,
        scope: 'api refresh_token',
      }),
      400,
      'invalid_request',
      'scope parameter not supported',
    ],
    [
      'unknown authorization code',
      () => ({
        grant_type: 'authorization_code',
        code: 'nope',
        client_id: app().consumerKey,
        client_secret: app().consumerSecret,
        redirect_uri: 'http://localhost/cb',
      }),
      400,
      'invalid_grant',
      'invalid authorization code',
    ],
  ]
  for (const [name, fields, status, error, description] of errors) {
    it(`answers ${error} for ${name}`, async () => {
      const res = await postForm(tokenUrl, fields())
      expect(res.status).toBe(status)
      expect(res.headers.get('content-type')).toBe('application/json;charset=UTF-8')
      expect(res.body).toEqual({ error, error_description: description })
    })
  }

  it('answers 401 for bad client credentials sent with HTTP Basic', async () => {
    const basic = Buffer.from(`${app().consumerKey}:wrong`).toString('base64')
    const res = await postForm(
      tokenUrl,
      { grant_type: 'client_credentials' },
      { authorization: `Basic ${basic}` },
    )
    expect(res.status).toBe(401)
    expect(res.body).toEqual({
      error: 'invalid_client',
      error_description: 'invalid client credentials',
    })
  })

  it('refuses GET with must use HTTP POST', async () => {
    const res = await fetch(`${tokenUrl}?grant_type=password`)
    expect(res.status).toBe(400)
    expect(await res.json()).toEqual({
      error: 'invalid_request',
      error_description: 'must use HTTP POST',
    })
  })

  it('issues client credentials tokens for the run-as user, without a refresh token', async () => {
    const res = await postForm(tokenUrl, {
      grant_type: 'client_credentials',
      client_id: app().consumerKey,
      client_secret: app().consumerSecret,
    })
    expect(res.status).toBe(200)
    expect(res.body.refresh_token).toBeUndefined()
    expect(res.body.id).toBe(
      `${org.instanceUrl}/id/${org.orgId}/${org.user('robot@acme.example').userId}`,
    )
    expect(res.body.signature).toBeTypeOf('string')
  })

  it('refuses password login in SSO-only mode', async () => {
    org.faults.setSsoOnly(true)
    try {
      const res = await postForm(tokenUrl, password())
      expect(res.body).toEqual({
        error: 'invalid_grant',
        error_description: 'authentication failure',
      })
    } finally {
      org.faults.setSsoOnly(false)
    }
  })

  it('accepts multipart form bodies', async () => {
    const form = new FormData()
    for (const [k, v] of Object.entries(password())) form.append(k, v)
    const res = await fetch(tokenUrl, { method: 'POST', body: form })
    expect(res.status).toBe(200)
  })

  it('rejects an oversized body with 413', async () => {
    const res = await postForm(tokenUrl, password({ padding: 'x'.repeat(7 * 1024 * 1024) }))
    expect(res.status).toBe(413)
    expect(res.body.error).toBe('invalid_request')
  })
})
