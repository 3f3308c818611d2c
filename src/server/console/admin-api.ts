/**
 * The admin API (`/admin/api/…`, JSON) and its OpenAPI document (`/admin/openapi.json`), generated
 * from the one route table below: the same operations as the console's pages, for automation with
 * an admin API token (`Authorization: Bearer cat_…` from `callout admin token create`). Secrets
 * are write-only; every change is audited as `token:<id>`.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { definitionJsonSchemas, type JsonSchema } from '../../definitions/index.ts'
import { CalloutError } from '../../errors.ts'
import type { ClientKeyRecord, ClientKeyStore } from '../../store/client-keys.ts'
import type { AdminActor, AdminAuth } from '../admin/admin-auth.ts'
import { newClientKey } from '../client-key.ts'
import { formatKeyRule, parseKeyRules } from '../key-rules.ts'
import type { Broker } from '../../callout/broker.ts'
import { createConnectLink } from './connect-pages.ts'
import { DefinitionsService, SECTIONS, type DefinitionKind } from './definitions-service.ts'
import { doctorOf, DOCTOR_RESULT_SCHEMA } from './doctor-panel.ts'
import { revokeAudited } from './revoke-audited.ts'

/** What the admin API works with. */
export interface AdminApiContext {
  readonly auth: AdminAuth
  readonly broker: Broker
  readonly definitions: DefinitionsService
  readonly keys?: ClientKeyStore
  readonly now: () => number
  /** The console's origin as browsers see it (connect links open there). */
  readonly publicUrl?: () => string
}

interface Call {
  readonly actor: AdminActor
  readonly params: Record<string, string>
  readonly body: unknown
  readonly remote: string
  readonly reply: FastifyReply
}

/** One operation: method, path, summary, schemas, handler. */
interface Operation {
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE'
  readonly path: string
  readonly summary: string
  readonly tag: string
  readonly body?: JsonSchema
  /** The body may be left out. */
  readonly bodyOptional?: boolean
  readonly status: number
  readonly response?: JsonSchema
  readonly handle: (context: AdminApiContext, call: Call) => Promise<unknown>
}

const KINDS: readonly [DefinitionKind, string][] = [
  ['authProvider', 'AuthProvider'],
  ['externalCredential', 'ExternalCredential'],
  ['namedCredential', 'NamedCredential'],
]

const ERROR_SCHEMA: JsonSchema = {
  type: 'object',
  properties: {
    error: {
      type: 'object',
      properties: {
        code: { type: 'string' },
        message: { type: 'string' },
        advice: { type: 'string' },
        details: { type: 'object' },
      },
      required: ['code', 'message'],
    },
  },
}

const CLIENT_KEY_SCHEMA: JsonSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    name: { type: 'string' },
    rules: { type: 'array', items: { type: 'string' } },
    anyUser: { type: 'boolean' },
    state: { type: 'string', enum: ['active', 'expired', 'revoked'] },
    createdAt: { type: 'string', format: 'date-time' },
    expiresAt: { type: 'string', format: 'date-time' },
  },
}

const REVOKE_RESULT_SCHEMA: JsonSchema = {
  type: 'object',
  properties: {
    namedCredential: { type: 'string' },
    key: {
      type: 'object',
      properties: {
        externalCredential: { type: 'string' },
        principal: { type: 'string' },
        userId: { type: 'string' },
      },
    },
    provider: {
      type: 'string',
      enum: ['revoked', 'already-invalid', 'no-endpoint', 'failed', 'nothing-stored'],
    },
    tokenType: { type: 'string', enum: ['refresh_token', 'access_token'] },
    removedLocally: { type: 'boolean' },
    message: { type: 'string' },
    failure: {
      type: 'object',
      properties: { code: { type: 'string' }, message: { type: 'string' } },
    },
  },
  required: ['namedCredential', 'key', 'provider', 'removedLocally', 'message'],
}

function keyView(record: ClientKeyRecord, now: number): Record<string, unknown> {
  return {
    id: record.id,
    name: record.name,
    rules: record.rules,
    anyUser: record.anyUser,
    state:
      record.revokedAt !== undefined
        ? 'revoked'
        : record.expiresAt !== undefined && record.expiresAt <= now
          ? 'expired'
          : 'active',
    createdAt: new Date(record.createdAt).toISOString(),
    ...(record.expiresAt === undefined
      ? {}
      : { expiresAt: new Date(record.expiresAt).toISOString() }),
  }
}

function keysOf(context: AdminApiContext): ClientKeyStore {
  if (context.keys === undefined) {
    throw new CalloutError(
      'INVALID_ARGUMENT',
      'This callout serve runs without client keys (--no-auth-unsafe-loopback); there are none to manage.',
    )
  }
  return context.keys
}

/** How a request sets, keeps and removes a secret field (see `DefinitionsService.put`). */
const SECRET_FIELD =
  'Write-only: answers show "[write-only: set]". On replace (PUT), a secret left out, empty or "[write-only: set]" keeps the stored secret, a new value replaces it, and null removes the stored secret (on create, null is no secret). A value is stored as given: a ${env:…} or ${file:…} reference is refused ($${ is a literal ${).'

/**
 * The config schema of one entry with its secret fields (`writeOnly`) as the admin API takes
 * them: a string, or null to remove the stored secret.
 */
function withSecretFields(schema: JsonSchema): JsonSchema {
  const walk = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(walk)
    if (value === null || typeof value !== 'object') return value
    const node = value as Record<string, unknown>
    if (node.writeOnly === true)
      return { ...node, type: ['string', 'null'], description: SECRET_FIELD }
    return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, walk(v)]))
  }
  return walk(schema) as JsonSchema
}

function definitionOperations(kind: DefinitionKind, label: string): Operation[] {
  const section = SECTIONS[kind]
  const schema = withSecretFields(definitionJsonSchemas()[label as 'AuthProvider'])
  const withName: JsonSchema = {
    allOf: [
      { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] },
      schema,
    ],
  }
  const change = (call: Call) => ({
    actor: call.actor.actor,
    remote: call.remote,
    via: 'api' as const,
  })
  return [
    {
      method: 'GET',
      path: `/admin/api/${section}`,
      summary: `List the ${label}s (secrets never returned)`,
      tag: label,
      status: 200,
      response: { type: 'object', additionalProperties: schema },
      handle: async (c) => c.definitions.list(kind),
    },
    {
      method: 'GET',
      path: `/admin/api/${section}/{name}`,
      summary: `Read one ${label} (secrets never returned)`,
      tag: label,
      status: 200,
      response: schema,
      handle: async (c, call) => c.definitions.get(kind, call.params.name!),
    },
    {
      method: 'POST',
      path: `/admin/api/${section}`,
      summary: `Create a ${label} (validated like the config file; nothing stored on error)`,
      tag: label,
      body: withName,
      status: 201,
      response: schema,
      handle: async (c, call) => {
        const { name, ...entry } = objectBody(call.body)
        if (typeof name !== 'string' || name === '') {
          throw new CalloutError('INVALID_ARGUMENT', `A new ${label} needs a "name".`, {
            details: { issues: [{ path: 'name', message: 'is required' }] },
          })
        }
        await c.definitions.put(kind, name, entry, change(call), 'create')
        return c.definitions.get(kind, name)
      },
    },
    {
      method: 'PUT',
      path: `/admin/api/${section}/{name}`,
      summary: `Replace a ${label}; a secret left out or empty keeps the stored one`,
      tag: label,
      body: schema,
      status: 200,
      response: schema,
      handle: async (c, call) => {
        await c.definitions.put(
          kind,
          call.params.name!,
          objectBody(call.body),
          change(call),
          'update',
        )
        return c.definitions.get(kind, call.params.name!)
      },
    },
    {
      method: 'DELETE',
      path: `/admin/api/${section}/{name}`,
      summary: `Delete a ${label} (refused while another definition refers to it)`,
      tag: label,
      status: 204,
      handle: async (c, call) => {
        await c.definitions.remove(kind, call.params.name!, change(call))
        return undefined
      },
    },
  ]
}

/** Every admin API operation. */
export const ADMIN_OPERATIONS: readonly Operation[] = Object.freeze([
  ...KINDS.flatMap(([kind, label]) => definitionOperations(kind, label)),
  {
    method: 'GET',
    path: '/admin/api/status',
    summary: 'The status of every Named Credential and principal (never a token)',
    tag: 'Status',
    status: 200,
    handle: async (c) => c.broker.status(),
  },
  {
    method: 'GET',
    path: '/admin/api/namedCredentials/{name}/status',
    summary: 'The status of one Named Credential: "Authenticated as …", expiry, last error',
    tag: 'Status',
    status: 200,
    handle: async (c, call) => {
      const [report] = await c.broker.status(call.params.name!)
      if (report === undefined) c.definitions.get('namedCredential', call.params.name!)
      return report
    },
  },
  {
    method: 'POST',
    path: '/admin/api/namedCredentials/{name}/authenticate',
    summary:
      'Obtain a token now (client credentials, JWT bearer, password); for the browser flow, report the stored status',
    tag: 'Status',
    status: 200,
    handle: async (c, call) => {
      c.definitions.get('namedCredential', call.params.name!)
      const entry = {
        actor: call.actor.actor,
        action: 'namedCredential.authenticate',
        target: `NamedCredential/${call.params.name!}`,
        remote: call.remote,
      }
      // A token obtained is stored with its entry, in one transaction; asked for only then.
      let stored = false
      const report = await c.broker.authenticate(call.params.name!, {
        audit: ({ credential }) => {
          stored = true
          return c.auth.entry({ ...entry, details: { status: credential.status } })
        },
      })
      // Nothing stored (the browser flow's status, a protocol without tokens): the entry alone.
      if (!stored) await c.auth.audit(entry)
      return report
    },
  },
  {
    method: 'POST',
    path: '/admin/api/namedCredentials/{name}/revoke',
    summary:
      'Revoke the principal\'s tokens at the authorization server (RFC 7009) and remove them; it then needs re-authentication. A failed revocation keeps the tokens (REVOCATION_FAILED) unless "force" is true',
    tag: 'Status',
    body: {
      type: 'object',
      properties: {
        user: { type: 'string', description: 'The end user, for a per-user principal' },
        force: {
          type: 'boolean',
          description: 'Remove the stored tokens even when the revocation request fails',
        },
      },
      additionalProperties: false,
    },
    bodyOptional: true,
    status: 200,
    response: REVOKE_RESULT_SCHEMA,
    handle: async (c, call) => {
      c.definitions.get('namedCredential', call.params.name!)
      const body = call.body === undefined || call.body === null ? {} : objectBody(call.body)
      const { user, force, ...rest } = body
      const unknown = Object.keys(rest)
      if (
        unknown.length > 0 ||
        (user !== undefined && (typeof user !== 'string' || user === '')) ||
        (force !== undefined && typeof force !== 'boolean')
      ) {
        throw new CalloutError(
          'INVALID_ARGUMENT',
          'A revocation takes an optional "user" (a non-empty string) and "force" (true or false), nothing else.',
          { details: { issues: unknown.map((k) => ({ path: k, message: 'is not a field' })) } },
        )
      }
      return revokeAudited(
        c.broker,
        c.auth,
        call.params.name!,
        {
          ...(typeof user === 'string' ? { user } : {}),
          ...(force === true ? { force } : {}),
        },
        { actor: call.actor.actor, remote: call.remote },
      )
    },
  },
  {
    method: 'GET',
    path: '/admin/api/namedCredentials/{name}/doctor',
    summary:
      'The offline checks of callout doctor for one Named Credential: findings with what to do (never a token)',
    tag: 'Status',
    status: 200,
    response: DOCTOR_RESULT_SCHEMA,
    handle: async (c, call) =>
      doctorOf(c.broker, c.definitions, call.params.name!, { online: false, audience: 'api' }),
  },
  {
    method: 'POST',
    path: '/admin/api/namedCredentials/{name}/doctor',
    summary:
      'The checks of callout doctor --online for one Named Credential: a real token request now and a call to an endpoint that requires the token',
    tag: 'Status',
    status: 200,
    response: DOCTOR_RESULT_SCHEMA,
    handle: async (c, call) => {
      const result = await doctorOf(c.broker, c.definitions, call.params.name!, {
        online: true,
        audience: 'api',
      })
      await c.auth.audit({
        actor: call.actor.actor,
        action: 'namedCredential.doctor',
        target: `NamedCredential/${call.params.name!}`,
        details: { failed: result.findings.filter((f) => f.level === 'fail').length },
        remote: call.remote,
      })
      return result
    },
  },
  {
    method: 'POST',
    path: '/admin/api/namedCredentials/{name}/connectLinks',
    summary:
      'Create a single-use connect link for one user of a per-user principal; the answer holds the link, shown only this once',
    tag: 'Status',
    body: {
      type: 'object',
      properties: {
        user: { type: 'string', minLength: 1, maxLength: 255 },
        expiresIn: {
          description:
            'A duration from 1 minute to 24 hours (90s, 15m, 2h, 1d) or seconds; default 15m',
          oneOf: [{ type: 'string' }, { type: 'integer' }],
        },
      },
      required: ['user'],
    },
    status: 201,
    response: {
      type: 'object',
      properties: {
        url: { type: 'string', readOnly: true },
        namedCredential: { type: 'string' },
        user: { type: 'string' },
        expiresAt: { type: 'string', format: 'date-time' },
      },
    },
    handle: async (c, call) => {
      c.definitions.get('namedCredential', call.params.name!)
      const body = objectBody(call.body)
      const link = await createConnectLink(
        {
          broker: c.broker,
          auth: c.auth,
          clock: { now: c.now },
          publicUrl: c.publicUrl ?? (() => ''),
        },
        call.params.name!,
        { user: body.user, expiresIn: body.expiresIn },
        { actor: call.actor.actor, remote: call.remote },
      )
      return { ...link, expiresAt: new Date(link.expiresAt).toISOString() }
    },
  },
  {
    method: 'GET',
    path: '/admin/api/clientKeys',
    summary: 'List the client keys of the proxy (never the keys themselves)',
    tag: 'ClientKey',
    status: 200,
    response: { type: 'array', items: CLIENT_KEY_SCHEMA },
    handle: async (c) => (await keysOf(c).listClientKeys()).map((k) => keyView(k, c.now())),
  },
  {
    method: 'POST',
    path: '/admin/api/clientKeys',
    summary: 'Create a client key; the answer holds the key, shown only this once',
    tag: 'ClientKey',
    body: {
      type: 'object',
      properties: {
        name: { type: 'string', pattern: '^[\\w.@-]{1,64}$' },
        allow: { type: 'array', items: { type: 'string' }, minItems: 1 },
        anyUser: { type: 'boolean' },
        expiresInSeconds: { type: 'integer', minimum: 60 },
      },
      required: ['name', 'allow'],
    },
    status: 201,
    response: {
      allOf: [CLIENT_KEY_SCHEMA, { properties: { key: { type: 'string', readOnly: true } } }],
    },
    handle: async (c, call) => {
      const body = objectBody(call.body)
      const name = body.name
      if (typeof name !== 'string' || !/^[\w.@-]{1,64}$/.test(name)) {
        throw new CalloutError(
          'INVALID_ARGUMENT',
          'A client key needs a "name" of 1–64 letters, digits, ".", "@", "_" or "-".',
          { details: { issues: [{ path: 'name', message: 'is missing or malformed' }] } },
        )
      }
      const allow = body.allow
      if (
        !Array.isArray(allow) ||
        allow.length === 0 ||
        !allow.every((r) => typeof r === 'string')
      ) {
        throw new CalloutError(
          'INVALID_ARGUMENT',
          'A client key needs "allow": a list of rules such as "Target:GET:/services/data/*".',
          {
            details: { issues: [{ path: 'allow', message: 'must be a non-empty list of rules' }] },
          },
        )
      }
      const parsed = parseKeyRules(allow.join(','))
      for (const rule of parsed) c.definitions.get('namedCredential', rule.credential)
      const rules = parsed.map(formatKeyRule)
      const expires = body.expiresInSeconds
      if (expires !== undefined && (!Number.isSafeInteger(expires) || (expires as number) < 60)) {
        throw new CalloutError(
          'INVALID_ARGUMENT',
          '"expiresInSeconds" must be a whole number ≥ 60.',
        )
      }
      const now = c.now()
      const { key, record } = newClientKey({
        name,
        rules,
        anyUser: body.anyUser === true,
        now,
        ...(expires === undefined ? {} : { expiresInMs: (expires as number) * 1000 }),
      })
      const { id } = record
      await keysOf(c).createClientKey(record, {
        audit: {
          at: c.now(),
          actor: call.actor.actor,
          action: 'clientKey.create',
          target: `ClientKey/${id}`,
          details: { name, rules, anyUser: record.anyUser },
          remote: call.remote,
        },
      })
      return { ...keyView(record, now), key }
    },
  },
  {
    method: 'DELETE',
    path: '/admin/api/clientKeys/{id}',
    summary: 'Revoke a client key',
    tag: 'ClientKey',
    status: 204,
    handle: async (c, call) => {
      const id = call.params.id!
      const audit = {
        at: c.now(),
        actor: call.actor.actor,
        action: 'clientKey.revoke',
        target: `ClientKey/${id}`,
        details: {},
        remote: call.remote,
      }
      const done = /^[0-9a-f]{12}$/.test(id) && (await keysOf(c).revokeClientKey(id, { audit }))
      if (!done) {
        throw new CalloutError(
          'DEFINITION_NOT_FOUND',
          `No active client key has the id ${JSON.stringify(id)}.`,
          {
            details: { kind: 'clientKey', name: id },
          },
        )
      }
      return undefined
    },
  },
])

function objectBody(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new CalloutError('INVALID_ARGUMENT', 'The request body must be a JSON object.')
  }
  return body as Record<string, unknown>
}

/**
 * The OpenAPI 3.1 document of {@link ADMIN_OPERATIONS}.
 *
 * @example
 * openApiDocument().paths['/admin/api/authProviders'].post.summary
 */
export function openApiDocument(): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {}
  for (const op of ADMIN_OPERATIONS) {
    const parameters = [...op.path.matchAll(/\{(\w+)\}/g)].map((m) => ({
      name: m[1],
      in: 'path',
      required: true,
      schema: { type: 'string' },
    }))
    const error = {
      description: 'An error',
      content: { 'application/json': { schema: ERROR_SCHEMA } },
    }
    ;(paths[op.path] ??= {})[op.method.toLowerCase()] = {
      summary: op.summary,
      tags: [op.tag],
      ...(parameters.length === 0 ? {} : { parameters }),
      ...(op.body === undefined
        ? {}
        : {
            requestBody: {
              required: op.bodyOptional !== true,
              content: { 'application/json': { schema: op.body } },
            },
          }),
      responses: {
        [String(op.status)]: {
          description: op.status === 204 ? 'Done' : 'OK',
          ...(op.response === undefined
            ? {}
            : { content: { 'application/json': { schema: op.response } } }),
        },
        '400': error,
        '401': error,
        '404': error,
        '409': error,
      },
    }
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Callout admin API',
      version: '1',
      description:
        'Auth Providers, External Credentials, Named Credentials, their status and the client keys of callout serve. Authenticate with Authorization: Bearer cat_… (callout admin token create). Secrets are write-only.',
    },
    components: {
      securitySchemes: { adminToken: { type: 'http', scheme: 'bearer' } },
    },
    security: [{ adminToken: [] }],
    paths,
  }
}

/**
 * Registers the admin API and `/admin/openapi.json` on the console's scope.
 *
 * @example
 * registerAdminApi(scope, { auth, broker, definitions, keys, now: () => Date.now() })
 */
export function registerAdminApi(scope: FastifyInstance, context: AdminApiContext): void {
  const document = openApiDocument()
  scope.get('/admin/openapi.json', async (_request, reply) =>
    reply.type('application/json').send(document),
  )
  for (const op of ADMIN_OPERATIONS) {
    scope.route({
      method: op.method,
      url: op.path.replace(/\{(\w+)\}/g, ':$1'),
      handler: async (request: FastifyRequest, reply: FastifyReply) => {
        const actor = await context.auth.token(request.headers.authorization)
        const result = await op.handle(context, {
          actor,
          params: request.params as Record<string, string>,
          body: request.body,
          remote: request.raw.socket.remoteAddress ?? 'unknown',
          reply,
        })
        reply.code(op.status).header('cache-control', 'no-store')
        return op.status === 204
          ? reply.send()
          : reply.type('application/json').send(result ?? null)
      },
    })
  }
}
