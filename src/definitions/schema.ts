/**
 * The zod 4 schema of the configuration document (`callout.yaml`), after references have been
 * resolved. It checks structure and types only; URL rules, defaults and cross-references are
 * applied by `build.ts`. Every object is strict: an unknown key is an error that names the key and
 * the closest valid one.
 */
import { z } from 'zod'
import { Secret } from '../secrets/secret.ts'
import { closest, issue } from './issues.ts'
import type { ConfigIssue } from './issues.ts'
import { DEFAULTS, NAME_PATTERN } from './model.ts'

const NAME_RULE = `names start with a letter and contain only letters, digits and _ (at most ${DEFAULTS.maxNameLength} characters)`

/** A definition name: {@link NAME_PATTERN}, at most `DEFAULTS.maxNameLength` characters. */
export const nameSchema = z
  .string()
  .max(DEFAULTS.maxNameLength, { error: `is too long — ${NAME_RULE}` })
  .regex(NAME_PATTERN, { error: `is not a valid name — ${NAME_RULE}` })

const text = z.string().min(1, { error: 'must not be empty — give a value or remove the key' })

/** A secret field: a {@link Secret} made by the reference resolver from a string. */
export const secretSchema = z
  .custom<Secret>((value) => value instanceof Secret, {
    error: 'must be a string — write ${env:NAME} or ${file:path}',
  })
  .refine((value) => value.reveal() !== '', {
    error: 'is empty — check that the environment variable or file it references has a value',
  })

// RFC 6749 §3.3 scope-token: %x21 / %x23-5B / %x5D-7E, separated by single spaces.
const scopeSchema = z.string().regex(/^[\x21\x23-\x5b\x5d-\x7e]+( [\x21\x23-\x5b\x5d-\x7e]+)*$/, {
  error: 'is not a valid scope — write space-separated scope tokens, e.g. "api refresh_token"',
})

// RFC 9110 §5.6.2 token.
const headerNameSchema = z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, {
  error: 'is not a valid HTTP header name — use letters, digits and - (e.g. X-Api-Key)',
})

const formulaSchema = z.string().refine((value) => !/[\r\n\0]/.test(value), {
  error: 'contains CR, LF or NUL — a header value must be a single line',
})

const formulaHeaderSchema = z.strictObject({
  name: headerNameSchema,
  formula: formulaSchema,
  sequence: z.number().int().min(0).max(10_000).optional(),
})

/** Headers as a list of `{ name, formula, sequence? }` or as a `{ Name: formula }` mapping. */
const headersSchema = z.preprocess(
  (value) =>
    value !== null && typeof value === 'object' && !Array.isArray(value)
      ? Object.entries(value as Record<string, unknown>).map(([name, formula]) => ({
          name,
          formula,
        }))
      : value,
  z.array(formulaHeaderSchema).max(50),
)

const pemSchema = (what: string) =>
  z.string().refine((value) => value.includes('-----BEGIN '), {
    error: `is not PEM — give the ${what} as PEM text, usually with \${file:path/to/file.pem}`,
  })

const statusCodeSchema = z
  .number()
  .int()
  .min(400, {
    error: 'must be a 4xx or 6xx–999 status — 2xx and 3xx responses never mean an expired token',
  })
  .max(999, { error: 'must be at most 999' })
  .refine((code) => code < 500 || code >= 600, {
    error: 'is a 5xx server error — server errors are not expired tokens; use 4xx or 6xx–999',
  })

const jwtSchema = z.strictObject({
  issuer: text.optional(),
  subject: text.optional(),
  audience: z.union([text, z.array(text).min(1)]).optional(),
  validitySeconds: z.number().int().min(1).max(86_400).optional(),
  algorithm: z.enum(['RS256', 'ES256', 'HS256']).optional(),
  keyId: text.optional(),
  additionalClaims: z.record(z.string(), z.unknown()).optional(),
})

const sigv4Schema = z.strictObject({
  region: z.string().regex(/^[a-z0-9-]+$/, { error: 'is not an AWS region — e.g. us-east-1' }),
  service: z
    .string()
    .regex(/^[a-z0-9-]+$/, { error: 'is not an AWS service name — e.g. execute-api' }),
})

/** One AuthProvider entry under `authProviders`. */
export const authProviderSchema = z.strictObject({
  type: z.enum(['salesforce', 'oidc', 'oauth2']),
  consumerKey: text,
  consumerSecret: secretSchema.optional(),
  clientPrivateKey: secretSchema.optional(),
  loginUrl: text.optional(),
  issuer: text.optional(),
  authorizeUrl: text.optional(),
  tokenUrl: text.optional(),
  userInfoUrl: text.optional(),
  revokeUrl: text.optional(),
  introspectUrl: text.optional(),
  defaultScopes: scopeSchema.optional(),
  usePkce: z.boolean().optional(),
  clientAuth: z
    .enum(['client_secret_post', 'client_secret_basic', 'private_key_jwt', 'none'])
    .optional(),
  allowInsecureHttp: z.boolean().optional(),
  trustedInstanceHosts: z.array(z.string()).max(50).optional(),
})

const principalSchema = z.strictObject({
  type: z.enum(['named', 'per-user']),
  sequence: z.number().int().min(0).max(10_000).optional(),
  parameters: z.record(nameSchema, z.string()).optional(),
  secrets: z.record(nameSchema, secretSchema).optional(),
})

const protocolSchema = z.enum(['none', 'basic', 'oauth2', 'jwt', 'aws-sigv4', 'custom'])
const flowSchema = z.enum(['browser', 'client-credentials', 'jwt-bearer', 'password'])

/** One ExternalCredential entry under `externalCredentials`. */
export const externalCredentialSchema = z.strictObject({
  protocol: protocolSchema,
  flow: flowSchema.optional(),
  authProvider: nameSchema.optional(),
  scope: scopeSchema.optional(),
  additionalRefreshStatusCodes: z.array(statusCodeSchema).max(20).optional(),
  authHeaders: headersSchema.optional(),
  jwt: jwtSchema.optional(),
  sigv4: sigv4Schema.optional(),
  sessionTimeoutSeconds: z.number().int().min(60).max(86_400).optional(),
  principals: z.record(nameSchema, principalSchema).optional(),
})

/** The fields of the legacy single-record shorthand on a NamedCredential entry. */
export const LEGACY_FIELDS = [
  'identityType',
  'protocol',
  'flow',
  'authProvider',
  'scope',
  'username',
  'password',
  'privateKey',
  'jwt',
  'sigv4',
  'accessKeyId',
  'secretAccessKey',
] as const

/** One NamedCredential entry under `namedCredentials` (new model, or the legacy shorthand). */
export const namedCredentialSchema = z.strictObject({
  label: z.string().min(1).max(255).optional(),
  url: text,
  externalCredential: nameSchema.optional(),
  generateAuthorizationHeader: z.boolean().optional(),
  allowMergeFieldsInHeader: z.boolean().optional(),
  allowMergeFieldsInBody: z.boolean().optional(),
  headers: headersSchema.optional(),
  clientCertificate: z
    .strictObject({
      cert: pemSchema('certificate chain'),
      key: secretSchema,
      passphrase: secretSchema.optional(),
      ca: pemSchema('CA bundle').optional(),
    })
    .optional(),
  timeoutMs: z
    .number()
    .int()
    .min(1, { error: 'must be at least 1 ms' })
    .max(DEFAULTS.maxTimeoutMs, {
      error: `must be at most ${DEFAULTS.maxTimeoutMs} ms (2 minutes)`,
    })
    .optional(),
  deadlineMs: z
    .number()
    .int()
    .min(1, { error: 'must be at least 1 ms' })
    .max(DEFAULTS.maxDeadlineMs, {
      error: `must be at most ${DEFAULTS.maxDeadlineMs} ms (24 hours)`,
    })
    .optional(),
  redirects: z.enum(['follow-trusted', 'manual']).optional(),
  allowedHosts: z.array(z.string()).max(50).optional(),
  allowRedirectsOutsideBasePath: z.boolean().optional(),
  enabled: z.boolean().optional(),
  allowInsecureHttp: z.boolean().optional(),
  checkPath: z
    .string()
    .max(2048)
    .regex(/^\/[^\s#]*$/, {
      error: 'is not a path — write a path under the URL that needs the credential, e.g. /me',
    })
    .optional(),
  // Legacy shorthand (see legacy.ts).
  identityType: z.enum(['named-principal', 'per-user', 'anonymous']).optional(),
  protocol: z.enum(['none', 'password', 'oauth2', 'jwt', 'jwt-exchange', 'aws-sigv4']).optional(),
  flow: flowSchema.optional(),
  authProvider: nameSchema.optional(),
  scope: scopeSchema.optional(),
  username: text.optional(),
  password: secretSchema.optional(),
  privateKey: secretSchema.optional(),
  jwt: jwtSchema.optional(),
  sigv4: sigv4Schema.optional(),
  accessKeyId: text.optional(),
  secretAccessKey: secretSchema.optional(),
})

const whole = (what: string, min: number, max: number) =>
  z
    .number()
    .int({ error: `must be a whole number (${what})` })
    .min(min, { error: `must be at least ${min} (${what})` })
    .max(max, { error: `must be at most ${max} (${what})` })

/**
 * True for an http(s) origin: no userinfo, path, query or fragment.
 *
 * @example
 * isOrigin('https://callout.example.com') // true
 * isOrigin('https://callout.example.com/console') // false
 */
export function isOrigin(value: string): boolean {
  try {
    const url = new URL(value)
    return (
      (url.protocol === 'https:' || url.protocol === 'http:') &&
      url.username === '' &&
      url.password === '' &&
      url.pathname === '/' &&
      url.search === '' &&
      url.hash === '' &&
      !/[/?#]$/.test(value.replace(/^https?:\/\//i, ''))
    )
  } catch {
    return false
  }
}

/** A TCP port a credential port listens on. */
const credentialPortSchema = whole('a TCP port, 1–65535', 1, 65_535)

/**
 * The `serve` section: options of `callout serve`, read by `callout serve -f <file>` (flags
 * override it). `callout apply` ignores this section; it is not stored.
 */
export const serveSchema = z.strictObject({
  host: z
    .string()
    .regex(/^[A-Za-z0-9.:_-]+$/, {
      error: 'is not a host — write an IP address or a host name, e.g. 127.0.0.1',
    })
    .optional(),
  port: whole('a TCP port, 0–65535; 0 picks a free one', 0, 65_535).optional(),
  credentialPorts: z.record(nameSchema, credentialPortSchema).nullish(),
  metricsToken: secretSchema
    .refine((value) => value.reveal().length >= 16, {
      error: 'is shorter than 16 characters — use a long random token, e.g. openssl rand -hex 32',
    })
    .optional(),
  noAuthUnsafeLoopback: z.boolean().optional(),
  publicUrl: z
    .string()
    .refine(isOrigin, {
      error:
        'is not an origin — write scheme, host and optional port only, e.g. https://callout.example.com',
    })
    .optional(),
  noConsole: z.boolean().optional(),
  consoleInsecureHttp: z.boolean().optional(),
  maxBodyBytes: whole('bytes', 1, Number.MAX_SAFE_INTEGER).optional(),
  maxHeaderBytes: whole('bytes', 1024, 1024 * 1024).optional(),
  clientTimeoutMs: whole('milliseconds', 1, 86_400_000).optional(),
  totalTimeoutMs: whole('milliseconds', 1, 86_400_000).optional(),
  shutdownTimeoutMs: whole('milliseconds', 0, 3_600_000).optional(),
  reloadIntervalMs: whole('milliseconds; 0 turns polling off', 0, 86_400_000).optional(),
  keyCacheMs: whole('milliseconds', 0, 3_600_000).optional(),
  leaseTtlMs: whole('milliseconds', 1_000, 3_600_000).optional(),
})

/** The whole configuration document. */
export const configSchema = z.strictObject({
  version: z.literal(1).optional(),
  authProviders: z.record(nameSchema, authProviderSchema).nullish(),
  externalCredentials: z.record(nameSchema, externalCredentialSchema).nullish(),
  namedCredentials: z.record(nameSchema, namedCredentialSchema).nullish(),
  serve: serveSchema.nullish(),
})

/** The validated document, before defaults, URL rules, cross-checks and legacy expansion. */
export type RawConfig = z.output<typeof configSchema>
/** One raw AuthProvider entry. */
export type RawAuthProvider = z.output<typeof authProviderSchema>
/** One raw ExternalCredential entry. */
export type RawExternalCredential = z.output<typeof externalCredentialSchema>
/** One raw NamedCredential entry. */
export type RawNamedCredential = z.output<typeof namedCredentialSchema>
/** The raw `serve` section. */
export type RawServe = z.output<typeof serveSchema>

/**
 * Validates a resolved document against {@link configSchema}.
 *
 * @returns the raw config, or every problem as a {@link ConfigIssue} (`path: problem — fix`).
 */
export function validateDocument(
  document: unknown,
):
  | { ok: true; config: RawConfig }
  | { ok: false; issues: ConfigIssue[]; unknownKeys: (string | number)[][] } {
  const result = configSchema.safeParse(document, { reportInput: true })
  if (result.success) return { ok: true, config: result.data }
  const unknownKeys = result.error.issues.flatMap((zodIssue) => {
    if (zodIssue.code !== 'unrecognized_keys') return []
    const path = zodIssue.path.filter((s): s is string | number => typeof s !== 'symbol')
    return zodIssue.keys.map((key) => [...path, key])
  })
  return { ok: false, issues: result.error.issues.flatMap(toIssues), unknownKeys }
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing'
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'a list'
  if (value instanceof Secret) return 'a string'
  if (typeof value === 'object') return 'a mapping'
  if (typeof value === 'boolean') return 'true/false'
  return `a ${typeof value}`
}

const EXPECTED: Record<string, string> = {
  object: 'a mapping (key: value)',
  array: 'a list',
  string: 'a string',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
}

function toIssues(zodIssue: z.core.$ZodIssue): ConfigIssue[] {
  const path = zodIssue.path.filter((s): s is string | number => typeof s !== 'symbol')
  switch (zodIssue.code) {
    case 'unrecognized_keys': {
      const valid = validKeysAt(configSchema, path)
      return zodIssue.keys.map((key) => {
        const suggestion = closest(key, valid)
        const fix =
          suggestion === undefined
            ? `valid keys: ${valid.join(', ')}`
            : `did you mean "${suggestion}"?`
        return issue([...path, key], `is not a known key — ${fix}`)
      })
    }
    case 'invalid_type': {
      const input = (zodIssue as { input?: unknown }).input
      if (input === undefined) return [issue(path, 'is required — add it')]
      const expected = EXPECTED[zodIssue.expected] ?? zodIssue.expected
      return [issue(path, `must be ${expected}, not ${describe(input)} — change the value`)]
    }
    case 'invalid_value': {
      const values = zodIssue.values.map((v) => JSON.stringify(v))
      const input = (zodIssue as { input?: unknown }).input
      const options = zodIssue.values.filter((v): v is string => typeof v === 'string')
      const suggestion = typeof input === 'string' ? closest(input, options) : undefined
      const hint = suggestion === undefined ? '' : ` (did you mean "${suggestion}"?)`
      return [issue(path, `must be one of ${values.join(', ')}${hint}`)]
    }
    case 'invalid_key':
      return [issue(path, `is not a valid name — ${NAME_RULE}; rename it`)]
    case 'invalid_union':
      return [issue(path, 'has the wrong shape — give a string or a list of strings')]
    case 'too_big':
    case 'too_small': {
      if (zodIssue.message.startsWith('Too ')) {
        const limit =
          zodIssue.code === 'too_big'
            ? `at most ${String(zodIssue.maximum)}`
            : `at least ${String(zodIssue.minimum)}`
        const unit =
          zodIssue.origin === 'array'
            ? ' entries'
            : zodIssue.origin === 'string'
              ? ' characters'
              : ''
        return [issue(path, `must be ${limit}${unit} — change the value`)]
      }
      return [issue(path, zodIssue.message)]
    }
    default:
      return [issue(path, zodIssue.message)]
  }
}

/** The keys an object schema accepts at `path` (for "did you mean" suggestions). */
function validKeysAt(schema: z.core.$ZodType, path: readonly (string | number)[]): string[] {
  let current: z.core.$ZodType | undefined = schema
  for (let i = 0; i <= path.length && current !== undefined;) {
    const def = current._zod.def as unknown as Record<string, unknown> & { type: string }
    if (def.type === 'optional' || def.type === 'nullable' || def.type === 'default') {
      current = def.innerType as z.core.$ZodType
      continue
    }
    if (def.type === 'pipe') {
      current = def.out as z.core.$ZodType
      continue
    }
    if (i === path.length) {
      return def.type === 'object' ? Object.keys(def.shape as object) : []
    }
    const segment = path[i]
    i++
    if (def.type === 'object' && typeof segment === 'string') {
      current = (def.shape as Record<string, z.core.$ZodType>)[segment]
    } else if (def.type === 'record') {
      current = def.valueType as z.core.$ZodType
    } else if (def.type === 'array') {
      current = def.element as z.core.$ZodType
    } else {
      current = undefined
    }
  }
  return []
}
