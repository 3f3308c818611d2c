/**
 * Credential ports: one loopback port per Named Credential serving it as a bare origin
 * (`http://127.0.0.1:7071/<path>` is `callout:Target/<path>`), for SDKs that need an origin
 * without a path (jsforce Bulk 2.0, @salesforce/core). `POST /services/oauth2/token` is answered
 * locally with a placeholder; `/services/oauth2/revoke` is a local no-op. Answers keep the SDK on
 * the port: `Location` and the URLs SDKs follow are rewritten from the upstream to the port
 * (`port-answer.ts`), and the placeholder never reaches the upstream in a query. Requests whose
 * answer passes untouched take the fast path (`port-fast-path.ts`).
 */
import Fastify, { type FastifyInstance } from 'fastify'
import { CalloutError, isCalloutError } from '../errors.ts'
import type { CalloutServer } from './build-server.ts'
import { forward, type ForwardContext } from './forward.ts'
import { presentedKey } from './client-auth.ts'
import { keyInTokenRequest, placeholderToken, readTokenForm, tokenAnswer } from './local-token.ts'
import { portAnswer, realIdentityTarget, withoutPlaceholderToken } from './port-answer.ts'
import { portFastRoute } from './port-fast-path.ts'
import {
  bulkSessionPlacement,
  isSoapTarget,
  MAX_SOAP_BODY_BYTES,
  readSoapSession,
  soapLoginAnswer,
} from './salesforce-session.ts'

const METHODS = ['DELETE', 'GET', 'HEAD', 'OPTIONS', 'PATCH', 'POST', 'PUT'] as const

/**
 * Answers an SDK's OAuth token request locally: authenticates the client key found in the
 * request (any grant) and returns a placeholder token whose `instance_url` is `instanceUrl`.
 * Errors are OAuth-shaped (`invalid_client`), as SDKs expect from a token endpoint.
 */
export async function answerTokenRequest(
  server: CalloutServer,
  raw: import('node:http').IncomingMessage,
  credential: string,
  instanceUrl: string,
): Promise<{ status: number; body: Record<string, string> }> {
  const form = await readTokenForm(raw)
  const key = keyInTokenRequest(form, raw.headers)
  try {
    const client = await server.authenticate(key)
    return {
      status: 200,
      body: tokenAnswer(
        instanceUrl,
        placeholderToken(client.rules === undefined ? undefined : key, credential),
      ),
    }
  } catch (error) {
    if (!isCalloutError(error)) throw error
    return {
      status: 400,
      body: {
        error: 'invalid_client',
        error_description: `${error.code}: ${error.message} Pass the client key as the password or client secret.`,
      },
    }
  }
}

/** A SOAP `login` answered locally: the key authenticated, a placeholder session handed out. */
async function soapLogin(
  server: CalloutServer,
  key: string | undefined,
  credential: string,
  portOrigin: string,
  url: string,
): Promise<{ status: number; xml: string }> {
  try {
    const client = await server.authenticate(key)
    const token = placeholderToken(client.rules === undefined ? undefined : key, credential)
    return soapLoginAnswer(portOrigin, url, { token })
  } catch (error) {
    if (!isCalloutError(error)) throw error
    return soapLoginAnswer(portOrigin, url, { error })
  }
}

/**
 * Builds the app of one credential port (unstarted). `origin()` is the port's own origin, known
 * once it listens.
 *
 * @example
 * const port = buildCredentialPort(server, 'Target', () => 'http://127.0.0.1:7071')
 * await port.listen({ host: '127.0.0.1', port: 7071 })
 */
export function buildCredentialPort(
  server: CalloutServer,
  credential: string,
  origin: () => string,
): FastifyInstance {
  // GETs the port passes on untouched take the fast path first (port-fast-path.ts).
  const app: FastifyInstance = Fastify({
    ...server.fastifyOptions,
    serverFactory: server.fastServerFactory(
      portFastRoute(server.forwardContext.broker, credential, origin),
      () => app,
    ),
  })
  server.installHooks(app)
  const context: ForwardContext = {
    ...server.forwardContext,
    adjustAnswer: portAnswer(server.forwardContext.broker, credential, origin),
  }
  app.post('/services/oauth2/token', async (request, reply) => {
    const answer = await answerTokenRequest(server, request.raw, credential, origin())
    return reply.code(answer.status).header('cache-control', 'no-store').send(answer.body)
  })
  app.post('/services/oauth2/revoke', async (request, reply) => {
    request.raw.resume()
    return reply.code(200).send('')
  })
  app.route({
    method: [...METHODS],
    url: '/*',
    handler: async (request, reply) => {
      const raw = request.raw
      const soap =
        raw.method === 'POST' && isSoapTarget(raw.url ?? '')
          ? await readSoapSession(
              raw,
              Math.min(MAX_SOAP_BODY_BYTES, server.forwardContext.limits.maxBodyBytes),
            )
          : undefined
      if (soap?.login !== undefined) {
        const answer = await soapLogin(server, soap.login.key, credential, origin(), raw.url ?? '')
        return reply
          .code(answer.status)
          .header('content-type', 'text/xml;charset=UTF-8')
          .send(answer.xml)
      }
      const client =
        soap?.key !== undefined && presentedKey(raw.headers) === undefined
          ? await server.authenticate(soap.key)
          : await server.clientOf(request)
      request.facts.key = client.id
      server.metrics.keyRequest(client.id)
      const user = request.raw.headers['callout-user']
      const url = await realIdentityTarget(
        server.forwardContext.broker,
        credential,
        withoutPlaceholderToken(request.raw.url ?? '/'),
        typeof user === 'string' ? user : undefined,
      )
      const sessionId = soap?.placement ?? bulkSessionPlacement(raw.headers)
      return forward(context, request, reply, client, `${credential}${url}`, request.facts, {
        ...(soap === undefined ? {} : { body: soap.body }),
        ...(sessionId === undefined ? {} : { sessionId }),
      })
    },
  })
  return app
}

/** Parses `Name=port` (`--credential-port Target=7071`). */
export function parseCredentialPort(text: string): { name: string; port: number } {
  const match = /^([A-Za-z][A-Za-z0-9_]*)=(\d{1,5})$/.exec(text.trim())
  const port = Number(match?.[2])
  if (match === null || port < 1 || port > 65_535) {
    throw new CalloutError(
      'INVALID_ARGUMENT',
      `--credential-port ${JSON.stringify(text)}: write <NamedCredential>=<port>, e.g. --credential-port Target=7071.`,
    )
  }
  return { name: match[1]!, port }
}
