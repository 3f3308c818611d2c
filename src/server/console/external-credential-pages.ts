/**
 * The console's External Credential pages — list, new, edit, delete, with every field of the
 * config file's `externalCredentials` entry: protocol, flow, Auth Provider, scope, refresh
 * statuses, session timeout, AWS Signature V4, the JWT settings (`jwt`), the formula headers
 * (`authHeaders`) and principals (named or per-user, sequence numbers, parameters, write-only
 * secrets and a write-only PEM private key) — and the full "New Named Credential" form that picks
 * an existing External Credential. Both create the same records as the config file: every change
 * goes through {@link DefinitionsService} (the config file's validation, "did you mean", nothing
 * stored on error).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { parsePath } from '../../definitions/index.ts'
import { isCalloutError, type CalloutError } from '../../errors.ts'
import type { ConsoleContext } from './console-plugin.ts'
import { changedBy, field, formOf, page, trimmedField } from './console-plugin.ts'
import {
  errorsOf as namedCredentialErrors,
  nameOptions,
  namedCredentialFlags,
  withFlash,
} from './definition-pages.ts'
import { WRITE_ONLY } from './definitions-service.ts'
import {
  fieldOfIssue,
  headerRowsOf,
  jwtValuesOf,
  literal,
  readHeaders,
  readJwt,
  typed,
  wholeNumber,
  type HeaderRow,
  pemField,
} from './external-credential-form.ts'
import { checkbox, FORM_ERRORS, input, saveOrDelete, select, textarea } from './page-templates.ts'
import { addTemplates } from './views.ts'

/** Principal and header rows the form offers beyond the stored ones. */
const BLANK_ROWS = 2
/** The most principal rows a form may post. */
const MAX_ROWS = 50

type Values = Record<string, string | boolean | undefined>

/** One principal row of the form. */
interface Row {
  name: string
  type: string
  sequence: string
  parameters: string
  /** Names of the secrets stored for this principal (never their values). */
  storedSecrets: string[]
  /** Stored secrets the admin marked for removal. */
  removed: string[]
}

const ALGORITHMS =
  "[['', 'Default (RS256)'], ['RS256', 'RS256'], ['ES256', 'ES256'], ['HS256', 'HS256 (protocol JWT only)']]"

const PROTOCOLS =
  "[['oauth2', 'OAuth 2.0'], ['basic', 'Basic'], ['jwt', 'JWT (signed per call)'], ['aws-sigv4', 'AWS Signature V4'], ['custom', 'Custom (formula headers)'], ['none', 'No Authentication']]"
const FLOWS =
  "[['', '—'], ['browser', 'Browser (authorization code)'], ['client-credentials', 'Client credentials'], ['jwt-bearer', 'JWT bearer'], ['password', 'Password (legacy)']]"

const ROW_FIELD = (i: string, key: string, label: string, control: string) => `
  <label for="p<%= ${i} %>-${key}">${label}</label>
  ${control}
  <% if (it.errors['p' + ${i} + '.${key}']) { %><p class="field-error" id="p<%= ${i} %>-${key}-error"><%= it.errors['p' + ${i} + '.${key}'] %></p><% } %>`

const INVALID = (i: string, key: string) =>
  `<% if (it.errors['p' + ${i} + '.${key}']) { %> aria-invalid="true" aria-describedby="p<%= ${i} %>-${key}-error"<% } %>`

/** A section's own error (e.g. `jwt` on a protocol that signs none), shown under its heading. */
export const SECTION_ERROR = (key: string) =>
  `<% if (it.errors.${key}) { %><p class="field-error" id="${key}-error"><%= it.errors.${key} %></p><% } %>`

const HEADER_FIELD = (key: string, label: string, control: string) => `
  <label for="h<%= i %>-${key}">${label}</label>
  ${control}
  <% if (it.errors['h' + i + '.${key}']) { %><p class="field-error" id="h<%= i %>-${key}-error"><%= it.errors['h' + i + '.${key}'] %></p><% } %>`

const HEADER_INVALID = (key: string) =>
  `<% if (it.errors['h' + i + '.${key}']) { %> aria-invalid="true" aria-describedby="h<%= i %>-${key}-error"<% } %>`

/**
 * The formula header rows of a form (template source): `h<i>.name`, `h<i>.formula` and
 * `h<i>.sequence` for each of `it.headerRows`, with their field errors.
 */
export const HEADER_ROWS = `<% it.headerRows.forEach((h, i) => { %>
  <fieldset class="principal">
  <legend>Header <%= i + 1 %></legend>
  ${HEADER_FIELD('name', 'Name', `<input type="text" id="h<%= i %>-name" name="h<%= i %>.name" value="<%= h.name %>"${HEADER_INVALID('name')}>`)}
  ${HEADER_FIELD('formula', 'Formula', `<input type="text" id="h<%= i %>-formula" name="h<%= i %>.formula" value="<%= h.formula %>"${HEADER_INVALID('formula')}>`)}
  ${HEADER_FIELD('sequence', 'Sequence number', `<input type="text" inputmode="numeric" id="h<%= i %>-sequence" name="h<%= i %>.sequence" value="<%= h.sequence %>"${HEADER_INVALID('sequence')}>`)}
  </fieldset>
<% }) %>`

const EXTERNAL_CREDENTIALS = `<% layout('@layout', it) %>
<div class="actions"><a class="button" href="/external-credentials/new">New External Credential</a><a class="button secondary" href="/named-credentials/new-full">New Named Credential (full form)</a></div>
<% if (it.items.length === 0) { %>
<p>No External Credentials yet.</p>
<% } else { %>
<div class="table-wrap" tabindex="0" role="region" aria-label="External Credentials"><table>
<thead><tr><th scope="col">Name</th><th scope="col">Protocol</th><th scope="col">Auth Provider</th><th scope="col">Principals</th></tr></thead>
<tbody>
<% for (const e of it.items) { %>
<tr><td><a href="/external-credentials/<%= encodeURIComponent(e.name) %>"><%= e.name %></a></td><td><%= e.protocol %><% if (e.flow) { %> / <%= e.flow %><% } %></td><td><%= e.authProvider %></td><td><%= e.principals %></td></tr>
<% } %>
</tbody></table></div>
<% } %>
`

const EXTERNAL_CREDENTIAL_FORM = `<% layout('@layout', it) %>
${FORM_ERRORS}
<form method="post" action="<%= it.action %>" class="card" novalidate>
  <input type="hidden" name="_csrf" value="<%= it.csrf %>">
<% if (it.isNew) { %>
  ${input('name', 'Name', 'Letters, digits and _; starts with a letter. Named Credentials refer to it.')}
<% } %>
  ${select('protocol', 'Authentication Protocol', PROTOCOLS)}
  ${select('flow', 'OAuth 2.0 flow', FLOWS, 'OAuth 2.0 only.')}
  ${select('authProvider', 'Authentication Provider', 'it.providerOptions', 'OAuth 2.0 only.')}
  ${input('scope', 'Scope', 'Overrides the provider\u2019s default scopes, e.g. <code>refresh_token api</code>.')}
  ${input('additionalRefreshStatusCodes', 'Additional refresh status codes', 'Comma-separated statuses besides 401 that refresh the token once, e.g. <code>403</code>.')}
  ${input('sessionTimeoutSeconds', 'Session timeout (seconds)', 'Salesforce sends no expiry: the org\u2019s session timeout, for refreshing ahead of it.')}
  ${input('sigv4Region', 'AWS region (Signature V4)')}
  ${input('sigv4Service', 'AWS service (Signature V4)')}
  <h2 id="jwt-heading">JWT</h2>
  <p class="hint">For protocol JWT (a JWT signed per call) and the OAuth 2.0 flow JWT bearer; leave every field empty otherwise. The signing key is a principal\u2019s write-only <code>privateKey</code> (or <code>sharedSecret</code> for HS256).</p>
  ${SECTION_ERROR('jwt')}
  ${input('jwtIssuer', 'Issuer (<code>iss</code>)', 'JWT bearer: empty means the Auth Provider\u2019s consumer key.')}
  ${input('jwtSubject', 'Subject (<code>sub</code>)', 'Used when the principal has no <code>username</code> or <code>subject</code> parameter. Per-user principals need a formula such as <code>{!$User.Username}</code>.')}
  ${textarea('jwtAudience', 'Audience (<code>aud</code>)', 'One per line. JWT bearer: empty means the login host (Salesforce) or the issuer.')}
  ${input('jwtValiditySeconds', 'Lifetime (seconds)', 'How long each JWT is valid, 1\u201386400; empty means 300.')}
  ${select('jwtAlgorithm', 'Signing algorithm', ALGORITHMS)}
  ${input('jwtKeyId', 'Key ID (<code>kid</code>)')}
  ${textarea('jwtAdditionalClaims', 'Additional claims', 'A JSON object, e.g. <code>{"scope": "api"}</code>. Not <code>iss</code>, <code>sub</code>, <code>aud</code>, <code>exp</code>, <code>iat</code>, <code>nbf</code> or <code>jti</code>.')}
  <h2 id="auth-headers-heading">Authentication headers</h2>
  <p class="hint">Formula headers added after the Authorization header. A literal is quoted (<code>'application/json'</code>); <code>{!$Credential.&lt;External Credential&gt;.&lt;name&gt;}</code> reads a principal\u2019s parameter or secret; <code>&amp;</code> concatenates. These values are not secret: put secrets in a principal and refer to them. Leave a row\u2019s name empty to leave it out.</p>
  ${SECTION_ERROR('authHeaders')}
${HEADER_ROWS}
  <h2>Principals</h2>
  <p class="hint">Leave a row\u2019s name empty to leave it out. Parameters and secrets: one <code>name=value</code> per line; formulas read them as <code>{!$Credential.&lt;External Credential&gt;.&lt;name&gt;}</code>. Secrets are write-only: a stored secret is kept unless a new value is typed or it is marked for removal.</p>
<% it.rows.forEach((r, i) => { %>
  <fieldset class="principal">
  <legend>Principal <%= i + 1 %></legend>
  ${ROW_FIELD('i', 'name', 'Name', `<input type="text" id="p<%= i %>-name" name="p<%= i %>.name" value="<%= r.name %>"${INVALID('i', 'name')}>`)}
  ${ROW_FIELD('i', 'type', 'Identity type', `<select id="p<%= i %>-type" name="p<%= i %>.type"${INVALID('i', 'type')}><% for (const [v, t] of [['named', 'Named Principal'], ['per-user', 'Per User']]) { %><option value="<%= v %>"<% if (r.type === v) { %> selected<% } %>><%= t %></option><% } %></select>`)}
  ${ROW_FIELD('i', 'sequence', 'Sequence number', `<input type="text" inputmode="numeric" id="p<%= i %>-sequence" name="p<%= i %>.sequence" value="<%= r.sequence %>"${INVALID('i', 'sequence')}>`)}
  ${ROW_FIELD('i', 'parameters', 'Parameters', `<textarea id="p<%= i %>-parameters" name="p<%= i %>.parameters"${INVALID('i', 'parameters')}><%= r.parameters %></textarea>`)}
  ${ROW_FIELD('i', 'secrets', 'Secrets (write-only)', `<textarea id="p<%= i %>-secrets" name="p<%= i %>.secrets" autocomplete="off"${INVALID('i', 'secrets')}></textarea>`)}
  ${ROW_FIELD('i', 'privateKey', 'Private key, PEM (write-only)', `<textarea id="p<%= i %>-privateKey" name="p<%= i %>.privateKey" autocomplete="off" spellcheck="false"${INVALID('i', 'privateKey')}></textarea>`)}
  <p class="hint">The <code>privateKey</code> secret of protocol JWT and flow JWT bearer: paste the whole PEM (<code>-----BEGIN PRIVATE KEY-----</code> \u2026).</p>
  <% if (r.storedSecrets.length > 0) { %><p class="hint">Stored, never shown: <%= r.storedSecrets.join(', ') %>.</p><% } %>
  <% for (const s of r.storedSecrets) { %><div class="check"><input type="checkbox" id="p<%= i %>-remove-<%= s %>" name="p<%= i %>.remove.<%= s %>" value="on"<% if (r.removed.includes(s)) { %> checked<% } %>><label for="p<%= i %>-remove-<%= s %>">Remove the stored <%= s %></label></div><% } %>
  </fieldset>
<% }) %>
${saveOrDelete('/external-credentials', 'External Credential')}
`

const NAMED_CREDENTIAL_FULL = `<% layout('@layout', it) %>
${FORM_ERRORS}
<form method="post" action="/named-credentials/new-full" class="card" novalidate>
  <input type="hidden" name="_csrf" value="<%= it.csrf %>">
  ${input('label', 'Label')}
  ${input('name', 'Name', 'Used in callout:Name/path. Letters, digits and _; starts with a letter.')}
  ${input('url', 'URL', 'e.g. https://yourdomain.my.salesforce.com', 'url')}
  ${select('externalCredential', 'External Credential', 'it.ecOptions', 'Create one first on the External Credentials page.')}
  ${checkbox('generateAuthorizationHeader', 'Generate Authorization Header')}
  ${checkbox('allowMergeFieldsInHeader', 'Allow Merge Fields in HTTP Header')}
  ${checkbox('allowMergeFieldsInBody', 'Allow Merge Fields in HTTP Body')}
  <div class="actions"><button type="submit">Save</button><a href="/">Cancel</a></div>
</form>
`

addTemplates({
  '@external-credentials': EXTERNAL_CREDENTIALS,
  '@external-credential-form': EXTERNAL_CREDENTIAL_FORM,
  '@named-credential-full': NAMED_CREDENTIAL_FULL,
})

/** A form-level problem found before the definitions are validated. */
class FormProblem extends Error {
  constructor(
    readonly key: string,
    message: string,
  ) {
    super(message)
  }
}

/** `name=value` lines as a mapping; a line without `=` or a repeated name is a form problem. */
function pairs(source: string, key: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const raw of source.split(/\r?\n/)) {
    const line = raw.trim()
    if (line === '') continue
    const eq = line.indexOf('=')
    if (eq <= 0) throw new FormProblem(key, `"${line.slice(0, 40)}" is not a name=value line.`)
    const name = line.slice(0, eq).trim()
    if (Object.hasOwn(out, name)) throw new FormProblem(key, `${name} is given twice.`)
    out[name] = line.slice(eq + 1).trim()
  }
  return out
}

/** The stored principal rows of an entry (parameters as lines, secret names only). */
function rowsOf(entry: Record<string, unknown>): Row[] {
  const principals = (entry.principals ?? {}) as Record<string, Record<string, unknown>>
  return Object.entries(principals).map(([name, p]) => ({
    name,
    type: String(p.type ?? 'named'),
    sequence: p.sequence === undefined ? '' : String(p.sequence),
    parameters: Object.entries((p.parameters ?? {}) as Record<string, string>)
      .map(([k, v]) => `${k}=${v}`)
      .join('\n'),
    storedSecrets: Object.keys((p.secrets ?? {}) as Record<string, unknown>),
    removed: [],
  }))
}

function blankRows(count: number): Row[] {
  return Array.from({ length: count }, () => ({
    name: '',
    type: 'named',
    sequence: '',
    parameters: '',
    storedSecrets: [],
    removed: [],
  }))
}

/** `count` empty formula header rows. */
export function blankHeaderRows(count: number): HeaderRow[] {
  return Array.from({ length: count }, () => ({ name: '', formula: '', sequence: '' }))
}

/**
 * Field errors (by form field; principal rows as `p<i>.<field>`, header rows as `h<i>.<field>`)
 * from a failed change. `headerRowOf` maps each posted header to its form row.
 */
function errorsOf(
  error: CalloutError,
  name: string,
  rows: readonly Row[],
  headerRowOf: readonly number[],
): { errors: Values; formErrors: string[] } {
  const errors: Values = {}
  const formErrors: string[] = []
  const issues = (error.details.issues ?? []) as { path: string; message: string }[]
  if (error.code === 'DEFINITION_EXISTS') errors.name = error.message
  for (const i of issues) {
    const parts = parsePath(i.path)
    if (parts[0] !== 'externalCredentials' || parts[1] !== name) {
      formErrors.push(`${i.path}: ${i.message}`)
    } else if (parts.length === 2) {
      errors.name ??= i.message
    } else if (parts[2] === 'principals' && parts[3] !== undefined) {
      const row = rows.findIndex((r) => r.name === parts[3])
      const [, , , , group, key] = parts
      if (row < 0) formErrors.push(`${i.path}: ${i.message}`)
      else if (group === 'secrets' && key === 'privateKey')
        errors[`p${row}.privateKey`] ??= i.message
      else if ((group === 'parameters' || group === 'secrets') && key !== undefined)
        errors[`p${row}.${group}`] ??= `${key} ${i.message}`
      else errors[`p${row}.${group ?? 'name'}`] ??= i.message
    } else if (parts[2] === 'sigv4') {
      errors[parts[3] === 'service' ? 'sigv4Service' : 'sigv4Region'] ??= i.message
    } else if (fieldOfIssue(parts.slice(2), i.message, headerRowOf) !== undefined) {
      const shown = fieldOfIssue(parts.slice(2), i.message, headerRowOf)!
      errors[shown.key] ??= shown.message
    } else {
      errors[parts[2]!] ??= i.message
    }
  }
  if (issues.length === 0 && error.code !== 'DEFINITION_EXISTS') formErrors.push(error.message)
  return { errors, formErrors }
}

/**
 * Registers the External Credential pages and the full Named Credential form on the console's
 * signed-in scope.
 *
 * @example
 * registerExternalCredentialPages(pages, context)
 */
export function registerExternalCredentialPages(
  pages: FastifyInstance,
  context: ConsoleContext,
): void {
  const { definitions } = context

  pages.get('/external-credentials', async (request, reply) => {
    const items = Object.entries(definitions.list('externalCredential')).map(([name, e]) => ({
      name,
      protocol: String(e.protocol),
      flow: e.flow === undefined ? '' : String(e.flow),
      authProvider: e.authProvider === undefined ? '—' : String(e.authProvider),
      principals: Object.keys((e.principals ?? {}) as object).join(', ') || '—',
    }))
    return page(reply, request, '@external-credentials', {
      title: 'External Credentials',
      section: 'ec',
      items,
      ...withFlash(request),
    })
  })

  const form = (
    request: FastifyRequest,
    reply: FastifyReply,
    data: {
      name?: string
      values: Values
      rows: Row[]
      headerRows: HeaderRow[]
      errors?: Values
      formErrors?: string[]
    },
  ): FastifyReply =>
    page(reply, request, '@external-credential-form', {
      title:
        data.name === undefined ? 'New External Credential' : `External Credential ${data.name}`,
      section: 'ec',
      isNew: data.name === undefined,
      action:
        data.name === undefined
          ? '/external-credentials'
          : `/external-credentials/${encodeURIComponent(data.name)}`,
      providerOptions: nameOptions(definitions, 'authProvider'),
      values: data.values,
      rows: data.rows,
      headerRows: data.headerRows,
      errors: data.errors ?? {},
      formErrors: data.formErrors ?? [],
      ...withFlash(request),
    })

  pages.get('/external-credentials/new', async (request, reply) =>
    form(request, reply, {
      values: { protocol: 'oauth2', flow: 'browser' },
      rows: blankRows(BLANK_ROWS + 1),
      headerRows: blankHeaderRows(BLANK_ROWS),
    }),
  )

  pages.get('/external-credentials/:name', async (request, reply) => {
    const { name } = request.params as { name: string }
    const entry = typed(definitions.get('externalCredential', name))
    const sigv4 = (entry.sigv4 ?? {}) as Record<string, unknown>
    const values: Values = {
      protocol: String(entry.protocol),
      flow: entry.flow === undefined ? '' : String(entry.flow),
      authProvider: entry.authProvider === undefined ? '' : String(entry.authProvider),
      scope: entry.scope === undefined ? '' : String(entry.scope),
      additionalRefreshStatusCodes: ((entry.additionalRefreshStatusCodes ?? []) as number[]).join(
        ', ',
      ),
      sessionTimeoutSeconds:
        entry.sessionTimeoutSeconds === undefined ? '' : String(entry.sessionTimeoutSeconds),
      sigv4Region: sigv4.region === undefined ? '' : String(sigv4.region),
      sigv4Service: sigv4.service === undefined ? '' : String(sigv4.service),
      ...jwtValuesOf(entry),
    }
    return form(request, reply, {
      name,
      values,
      rows: [...rowsOf(entry), ...blankRows(BLANK_ROWS)],
      headerRows: [...headerRowsOf(entry), ...blankHeaderRows(BLANK_ROWS)],
    })
  })

  /**
   * The entry a posted form describes (stored secrets a row leaves out stay as they are, as
   * their stored reference).
   */
  const entryOf = (
    body: Record<string, unknown>,
    stored: Record<string, unknown> | undefined,
  ): {
    values: Values
    rows: Row[]
    headerRows: HeaderRow[]
    headerRowOf: number[]
    entry: Record<string, unknown>
    problems: Values
  } => {
    const values: Values = {}
    for (const key of [
      'protocol',
      'flow',
      'authProvider',
      'scope',
      'additionalRefreshStatusCodes',
      'sessionTimeoutSeconds',
      'sigv4Region',
      'sigv4Service',
    ]) {
      values[key] = trimmedField(body, key)
    }
    const problems: Values = {}
    const entry: Record<string, unknown> = {}
    entry.protocol = values.protocol
    for (const key of ['flow', 'authProvider', 'scope'] as const) {
      if (values[key] !== '') entry[key] = values[key]
    }
    const codes = String(values.additionalRefreshStatusCodes)
    if (codes !== '') {
      const list = codes.split(/[\s,]+/).filter((c) => c !== '')
      if (list.every((c) => /^\d{3}$/.test(c)))
        entry.additionalRefreshStatusCodes = list.map(Number)
      else problems.additionalRefreshStatusCodes = 'Three-digit status codes, comma-separated.'
    }
    const timeout = wholeNumber(
      String(values.sessionTimeoutSeconds),
      'sessionTimeoutSeconds',
      'A whole number of seconds (60–86400).',
      problems,
    )
    if (timeout !== undefined) entry.sessionTimeoutSeconds = timeout
    if (values.sigv4Region !== '' || values.sigv4Service !== '') {
      entry.sigv4 = { region: values.sigv4Region, service: values.sigv4Service }
    }
    const jwt = readJwt(body, values, problems, stored)
    if (jwt !== undefined) entry.jwt = jwt
    const headers = readHeaders(body, problems)
    if (headers.headers.length > 0) entry.authHeaders = headers.headers
    const storedPrincipals = (stored?.principals ?? {}) as Record<string, Record<string, unknown>>
    const rows: Row[] = []
    const principals: Record<string, unknown> = {}
    for (let i = 0; i < MAX_ROWS && body[`p${i}.name`] !== undefined; i++) {
      const row: Row = {
        name: trimmedField(body, `p${i}.name`),
        type: trimmedField(body, `p${i}.type`) || 'named',
        sequence: trimmedField(body, `p${i}.sequence`),
        parameters: field(body, `p${i}.parameters`),
        storedSecrets: [],
        removed: [],
      }
      rows.push(row)
      const secrets = field(body, `p${i}.secrets`)
      if (row.name === '') {
        if (row.sequence !== '' || row.parameters.trim() !== '' || secrets.trim() !== '')
          problems[`p${i}.name`] =
            'A principal with parameters, secrets or a sequence needs a name.'
        continue
      }
      if (Object.hasOwn(principals, row.name)) {
        problems[`p${i}.name`] = `Principal ${row.name} is given twice; principal names are unique.`
        continue
      }
      const principal: Record<string, unknown> = { type: row.type }
      if (row.sequence !== '') {
        if (/^\d{1,5}$/.test(row.sequence)) principal.sequence = Number(row.sequence)
        else problems[`p${i}.sequence`] = 'A whole number (0–10000).'
      }
      try {
        const parameters = pairs(row.parameters, `p${i}.parameters`)
        if (Object.keys(parameters).length > 0) principal.parameters = parameters
        const given = pairs(secrets, `p${i}.secrets`)
        const privateKey = pemField(body, `p${i}.privateKey`)
        if (privateKey !== '') {
          if (Object.hasOwn(given, 'privateKey'))
            throw new FormProblem(
              `p${i}.privateKey`,
              'privateKey is given twice: here and under Secrets; give it once.',
            )
          given.privateKey = privateKey
        }
        // Write-only: a stored secret the row leaves out is kept (as its stored reference),
        // unless it is marked for removal (null); a new value replaces it either way.
        const keep = Object.keys((storedPrincipals[row.name]?.secrets ?? {}) as object)
        row.storedSecrets = keep
        row.removed = keep.filter((k) => field(body, `p${i}.remove.${k}`) === 'on')
        const all: Record<string, string | null> = {}
        for (const k of keep) all[k] = row.removed.includes(k) ? null : WRITE_ONLY
        Object.assign(all, given)
        if (Object.keys(all).length > 0) principal.secrets = all
      } catch (error) {
        if (!(error instanceof FormProblem)) throw error
        problems[error.key] = error.message
      }
      principals[row.name] = principal
    }
    if (Object.keys(principals).length > 0) entry.principals = principals
    return {
      values,
      rows,
      headerRows: headers.rows,
      headerRowOf: headers.rowOf,
      entry: literal(entry),
      problems,
    }
  }

  const save = async (
    request: FastifyRequest,
    reply: FastifyReply,
    name: string,
    mode: 'create' | 'update',
  ): Promise<FastifyReply> => {
    const body = formOf(request)
    const stored = mode === 'update' ? definitions.get('externalCredential', name) : undefined
    const { values, rows, headerRows, headerRowOf, entry, problems } = entryOf(body, stored)
    const shown = mode === 'create' ? { ...values, name } : values
    const again = (errors: Values, formErrors: string[]) =>
      form(request, reply, {
        ...(mode === 'update' ? { name } : {}),
        values: shown,
        rows: [
          ...rows,
          ...blankRows(Math.max(0, BLANK_ROWS - rows.filter((r) => r.name === '').length)),
        ],
        headerRows: [
          ...headerRows,
          ...blankHeaderRows(
            Math.max(0, BLANK_ROWS - headerRows.filter((h) => h.name === '').length),
          ),
        ],
        errors,
        formErrors,
      })
    if (Object.keys(problems).length > 0) {
      reply.code(400)
      return again(problems, [])
    }
    try {
      await definitions.put('externalCredential', name, entry, changedBy(request), mode)
    } catch (error) {
      if (!isCalloutError(error) || error.code === 'DEFINITION_NOT_FOUND') throw error
      reply.code(error.status)
      const { errors, formErrors } = errorsOf(error, name, rows, headerRowOf)
      return again(errors, formErrors)
    }
    return reply.redirect(`/external-credentials/${encodeURIComponent(name)}?flash=saved`, 303)
  }

  pages.post('/external-credentials', async (request, reply) =>
    save(request, reply, trimmedField(formOf(request), 'name'), 'create'),
  )
  pages.post('/external-credentials/:name', async (request, reply) =>
    save(request, reply, (request.params as { name: string }).name, 'update'),
  )
  pages.post('/external-credentials/:name/delete', async (request, reply) => {
    const { name } = request.params as { name: string }
    await definitions.remove('externalCredential', name, changedBy(request))
    return reply.redirect('/external-credentials?flash=deleted', 303)
  })

  // The full Named Credential form: an existing External Credential.
  const ncForm = (
    request: FastifyRequest,
    reply: FastifyReply,
    data: { values: Values; errors?: Values; formErrors?: string[] },
  ): FastifyReply =>
    page(reply, request, '@named-credential-full', {
      title: 'New Named Credential',
      section: 'nc',
      ecOptions: nameOptions(definitions, 'externalCredential'),
      values: data.values,
      errors: data.errors ?? {},
      formErrors: data.formErrors ?? [],
    })

  pages.get('/named-credentials/new-full', async (request, reply) =>
    ncForm(request, reply, { values: { generateAuthorizationHeader: true } }),
  )

  pages.post('/named-credentials/new-full', async (request, reply) => {
    const body = formOf(request)
    const values: Values = {}
    for (const key of ['label', 'name', 'url', 'externalCredential'])
      values[key] = trimmedField(body, key)
    const flags = namedCredentialFlags(body)
    Object.assign(values, flags)
    const name = String(values.name)
    const entry: Record<string, unknown> = { url: values.url, ...flags }
    if (values.label !== '') entry.label = values.label
    if (values.externalCredential !== '') entry.externalCredential = values.externalCredential
    try {
      await definitions.put('namedCredential', name, literal(entry), changedBy(request), 'create')
    } catch (error) {
      if (!isCalloutError(error)) throw error
      reply.code(error.status)
      return ncForm(request, reply, { values, ...namedCredentialErrors(error, 'namedCredentials') })
    }
    return reply.redirect(`/named-credentials/${encodeURIComponent(name)}?flash=saved`, 303)
  })
}
