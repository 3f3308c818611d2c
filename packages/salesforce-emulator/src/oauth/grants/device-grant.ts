/**
 * The device flow: `response_type=device_code` starts it, `grant_type=device` polls. Pending polls
 * get `authorization_pending`, polls faster than the interval `slow_down`. The user approves on
 * `/setup/connect`.
 *
 * @see https://help.salesforce.com/s/articleView?id=xcloud.remoteaccess_oauth_device_flow.htm&type=5
 */
import { authenticateClient } from '../client-auth.ts'
import { OAUTH_ERRORS, OAuthError } from '../oauth-error.ts'
import { issueInteractiveTokens } from '../token-response.ts'
import type { GrantHandler } from './grant-context.ts'

/** Handles `response_type=device_code`: issues a device code and a user code. */
export const deviceAuthorization: GrantHandler = ({ org, form, client }) => {
  const app = authenticateClient(client, (key) => org.appByKey(key), 'if-present')
  if (!app.deviceFlow) {
    throw new OAuthError('oauth_flow_disabled', 'device flow is not enabled for this connected app')
  }
  const requested = (form.get('scope') ?? '').split(/\s+/).filter(Boolean)
  if (requested.some((s) => !app.scopes.includes(s))) {
    throw new OAuthError('invalid_scope', 'the requested scope is not allowed')
  }
  const device = org.tokens.createDevice(
    app.consumerKey,
    requested.length > 0 ? requested : [...app.scopes],
  )
  return {
    device_code: device.deviceCode,
    user_code: device.userCode,
    verification_uri: `${org.origins.loginUrl}/setup/connect`,
    interval: Math.round(org.deviceIntervalMs / 1000),
  }
}

/** Handles `grant_type=device` polling. */
export const deviceGrant: GrantHandler = ({ org, form, client }) => {
  const app = authenticateClient(client, (key) => org.appByKey(key), 'if-present')
  const device = org.tokens.findDevice(form.get('code') ?? '')
  if (device === undefined || device.clientId !== app.consumerKey || device.status === 'consumed') {
    throw OAUTH_ERRORS.invalidCode()
  }
  if (org.tokens.deviceExpired(device)) throw OAUTH_ERRORS.expiredCode()
  const now = org.clock.now()
  const tooFast = device.lastPollAt !== undefined && now - device.lastPollAt < org.deviceIntervalMs
  device.lastPollAt = now
  if (device.status === 'denied')
    throw new OAuthError('access_denied', 'end-user denied authorization')
  if (device.status === 'pending') {
    if (tooFast) throw new OAuthError('slow_down', 'polling too frequently')
    throw new OAuthError('authorization_pending', 'authorization pending')
  }
  const user = device.userId === undefined ? undefined : org.userById(device.userId)
  if (user === undefined || !user.active) throw OAUTH_ERRORS.inactiveUser()
  device.status = 'consumed'
  return issueInteractiveTokens(org, app, user, device.scopes).body
}
