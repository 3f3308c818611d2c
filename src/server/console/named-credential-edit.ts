/**
 * The console's Named Credential Edit page (`/named-credentials/<name>/edit`): every field of the
 * config file's `namedCredentials` entry, prefilled from the stored one, with the client
 * certificate's key and passphrase write-only. Saved through {@link DefinitionsService} (the config
 * file's validation, its messages next to the fields, nothing stored on error; audited), then back
 * to the detail page.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { parsePath } from '../../definitions/index.ts'
import { DEFAULTS } from '../../definitions/model.ts'
import { isCalloutError, type CalloutError } from '../../errors.ts'
import type { ConsoleContext } from './console-plugin.ts'
import { changedBy, formOf, page } from './console-plugin.ts'
import { nameOptions } from './definition-pages.ts'
import { blankHeaderRows, HEADER_ROWS, SECTION_ERROR } from './external-credential-pages.ts'
import type { FormValues, HeaderRow } from './external-credential-form.ts'
import {
  namedCredentialField,
  namedCredentialValuesOf,
  readNamedCredential,
  type CertificateSecret,
} from './named-credential-form.ts'
import { checkbox, FORM_ERRORS, input, select, textarea } from './page-templates.ts'
import { addTemplates } from './views.ts'

/** Header rows the form offers beyond the stored ones. */
const BLANK_HEADER_ROWS = 2

const REDIRECTS = `[['', 'Default (follow-trusted)'], ['follow-trusted', 'Follow trusted (same origin or allowed hosts)'], ['manual', 'Manual (return 3xx to the caller)']]`

/** A write-only secret field: never prefilled, kept when left empty, with its remove box. */
const SECRET = (name: string, label: string, remove: string, control: string) => `
  <label for="${name}">${label}</label>
  ${control}
  <p class="hint"><% if (it.stored.includes('${name}')) { %>Stored and never shown; leave empty to keep it.<% } else { %>Never shown again after saving.<% } %></p>
  <% if (it.errors.${name}) { %><p class="field-error" id="${name}-error"><%= it.errors.${name} %></p><% } %>
  <% if (it.stored.includes('${name}')) { %>${remove}<% } %>`

const INVALID = (name: string) =>
  `<% if (it.errors.${name}) { %> aria-invalid="true" aria-describedby="${name}-error"<% } %>`

const NAMED_CREDENTIAL_EDIT = `<% layout('@layout', it) %>
${FORM_ERRORS}
<form method="post" action="<%= it.action %>" class="card" novalidate>
  <input type="hidden" name="_csrf" value="<%= it.csrf %>">
  ${input('label', 'Label', 'Empty means the name.')}
  ${input('url', 'URL', 'e.g. https://yourdomain.my.salesforce.com', 'url')}
  ${select('externalCredential', 'External Credential', 'it.ecOptions', 'Create one first on the External Credentials page.')}
  ${checkbox('enabled', 'Enabled (a disabled Named Credential refuses every callout)')}
  ${checkbox('generateAuthorizationHeader', 'Generate Authorization Header')}
  ${checkbox('allowMergeFieldsInHeader', 'Allow Merge Fields in HTTP Header')}
  ${checkbox('allowMergeFieldsInBody', 'Allow Merge Fields in HTTP Body')}
  ${input('checkPath', 'Check path', 'A path under the URL that needs the credential, e.g. <code>/me</code>: Run online checks calls it.')}
  <h2>Timeouts and redirects</h2>
  ${input('timeoutMs', 'Timeout (ms)', `Per attempt, 1\u2013${DEFAULTS.maxTimeoutMs}; empty means ${DEFAULTS.timeoutMs}.`)}
  ${input('deadlineMs', 'Deadline (ms)', `The whole callout with its retries and redirects, 1\u2013${DEFAULTS.maxDeadlineMs}; empty means none.`)}
  ${select('redirects', 'Redirects', REDIRECTS)}
  ${textarea('allowedHosts', 'Allowed hosts', 'One per line: a host or <code>*.</code> and a domain, e.g. <code>files.example.com</code> or <code>api.example.com:8443</code>. Redirects to them are followed, and callouts may name them.')}
  ${checkbox('allowRedirectsOutsideBasePath', 'Allow redirects outside the URL\u2019s path')}
  ${checkbox('allowInsecureHttp', 'Allow a plain http:// URL (unsafe: credentials travel unencrypted)')}
  <h2 id="headers-heading">Headers</h2>
  <p class="hint">Formula headers sent with every callout. A literal is quoted (<code>'application/json'</code>); <code>{!$Credential.&lt;External Credential&gt;.&lt;name&gt;}</code> reads a principal\u2019s parameter or secret; <code>&amp;</code> concatenates. Leave a row\u2019s name empty to leave it out.</p>
  ${SECTION_ERROR('authHeaders')}
${HEADER_ROWS}
  <h2>Client certificate (mutual TLS)</h2>
  <p class="hint">Empty every field to send no client certificate.</p>
  ${textarea('certificate', 'Certificate chain, PEM')}
  ${SECRET('certificateKey', 'Private key, PEM (write-only)', checkbox('removeCertificate', 'Remove the client certificate with its stored key and passphrase'), `<textarea id="certificateKey" name="certificateKey" autocomplete="off" spellcheck="false"${INVALID('certificateKey')}></textarea>`)}
  ${SECRET('certificatePassphrase', 'Key passphrase (write-only)', checkbox('removeCertificatePassphrase', 'Remove the stored passphrase'), `<input type="password" id="certificatePassphrase" name="certificatePassphrase" autocomplete="new-password" value=""${INVALID('certificatePassphrase')}>`)}
  ${textarea('certificateCa', 'CA bundle, PEM', 'Trusted instead of the system\u2019s CAs for this URL.')}
  <div class="actions"><button type="submit">Save</button><a href="<%= it.back %>">Cancel</a></div>
</form>
`

addTemplates({ '@named-credential-edit': NAMED_CREDENTIAL_EDIT })

/** Field errors and form-level errors from a failed change of Named Credential `name`. */
function errorsOf(
  error: CalloutError,
  name: string,
  rowOf: readonly number[],
): { errors: FormValues; formErrors: string[] } {
  const errors: FormValues = {}
  const formErrors: string[] = []
  const issues = (error.details.issues ?? []) as { path: string; message: string }[]
  for (const i of issues) {
    const parts = parsePath(i.path)
    const shown =
      parts[0] === 'namedCredentials' && parts[1] === name
        ? namedCredentialField(parts.slice(2), i.message, rowOf)
        : undefined
    if (shown === undefined) formErrors.push(`${i.path}: ${i.message}`)
    else errors[shown.key] ??= shown.message
  }
  if (issues.length === 0) formErrors.push(error.message)
  return { errors, formErrors }
}

/**
 * Registers the Named Credential Edit page on the console's signed-in scope (whose hook checks
 * every post's CSRF token).
 *
 * @example
 * registerNamedCredentialEdit(pages, context)
 */
export function registerNamedCredentialEdit(pages: FastifyInstance, context: ConsoleContext): void {
  const { definitions } = context
  const detailPath = (name: string): string => `/named-credentials/${encodeURIComponent(name)}`

  const form = (
    request: FastifyRequest,
    reply: FastifyReply,
    name: string,
    data: {
      values: FormValues
      headerRows: HeaderRow[]
      stored: readonly CertificateSecret[]
      errors?: FormValues
      formErrors?: string[]
    },
  ): FastifyReply =>
    page(reply, request, '@named-credential-edit', {
      title: `Edit Named Credential ${name}`,
      section: 'nc',
      action: `${detailPath(name)}/edit`,
      back: detailPath(name),
      ecOptions: nameOptions(definitions, 'externalCredential'),
      values: data.values,
      headerRows: [
        ...data.headerRows,
        ...blankHeaderRows(
          Math.max(0, BLANK_HEADER_ROWS - data.headerRows.filter((h) => h.name === '').length),
        ),
      ],
      stored: data.stored,
      errors: data.errors ?? {},
      formErrors: data.formErrors ?? [],
    })

  pages.get('/named-credentials/:name/edit', async (request, reply) => {
    const { name } = request.params as { name: string }
    return form(
      request,
      reply,
      name,
      namedCredentialValuesOf(definitions.get('namedCredential', name)),
    )
  })

  pages.post('/named-credentials/:name/edit', async (request, reply) => {
    const { name } = request.params as { name: string }
    const { stored } = namedCredentialValuesOf(definitions.get('namedCredential', name))
    const { values, headerRows, rowOf, entry, problems } = readNamedCredential(formOf(request))
    if (Object.keys(problems).length > 0) {
      reply.code(400)
      return form(request, reply, name, { values, headerRows, stored, errors: problems })
    }
    try {
      await definitions.put('namedCredential', name, entry, changedBy(request), 'update')
    } catch (error) {
      if (!isCalloutError(error) || error.code === 'DEFINITION_NOT_FOUND') throw error
      reply.code(error.status)
      return form(request, reply, name, {
        values,
        headerRows,
        stored,
        ...errorsOf(error, name, rowOf),
      })
    }
    return reply.redirect(`${detailPath(name)}?flash=saved`, 303)
  })
}
