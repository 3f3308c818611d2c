/**
 * Templates of the definition pages: Auth Providers, the classic "New Named Credential" screen,
 * the Named Credential detail page (status, authenticate, test panel) and Client Keys. Escaped by
 * eta (`<%= %>`); no inline script or style.
 */

/** A text input with its label, hint and field error (template source). */
export function input(name: string, label: string, hint = '', type = 'text'): string {
  return `<label for="${name}">${label}</label>
<input type="${type}" id="${name}" name="${name}" value="<%= it.values.${name} ?? '' %>"<% if (it.errors.${name}) { %> aria-invalid="true" aria-describedby="${name}-error"<% } %>>
${hint === '' ? '' : `<p class="hint">${hint}</p>`}
<% if (it.errors.${name}) { %><p class="field-error" id="${name}-error"><%= it.errors.${name} %></p><% } %>`
}

/** A textarea with its label, hint and field error (template source). */
export function textarea(name: string, label: string, hint = ''): string {
  return `<label for="${name}">${label}</label>
<textarea id="${name}" name="${name}"<% if (it.errors.${name}) { %> aria-invalid="true" aria-describedby="${name}-error"<% } %>><%= it.values.${name} ?? '' %></textarea>
${hint === '' ? '' : `<p class="hint">${hint}</p>`}
<% if (it.errors.${name}) { %><p class="field-error" id="${name}-error"><%= it.errors.${name} %></p><% } %>`
}

/** A checkbox with its label (template source). */
export function checkbox(name: string, label: string): string {
  return `<div class="check"><input type="checkbox" id="${name}" name="${name}" value="on"<% if (it.values.${name}) { %> checked<% } %>><label for="${name}">${label}</label></div>`
}

/** A select of `[value, text]` options with its label, hint and field error (template source). */
export function select(name: string, label: string, options: string, hint = ''): string {
  return `<label for="${name}">${label}</label>
<select id="${name}" name="${name}"<% if (it.errors.${name}) { %> aria-invalid="true" aria-describedby="${name}-error"<% } %>>
<% for (const [value, text] of ${options}) { %><option value="<%= value %>"<% if (it.values.${name} === value) { %> selected<% } %>><%= text %></option><% } %>
</select>
${hint === '' ? '' : `<p class="hint">${hint}</p>`}
<% if (it.errors.${name}) { %><p class="field-error" id="${name}-error"><%= it.errors.${name} %></p><% } %>`
}

/**
 * The end of an edit form: Save and Cancel (back to `listPath`), then, for an existing definition,
 * a separate Delete form (CSRF token, confirmation naming the `kind`) posting to `<action>/delete`.
 */
export function saveOrDelete(listPath: string, kind: string): string {
  return `  <div class="actions"><button type="submit">Save</button><a href="${listPath}">Cancel</a></div>
</form>
<% if (!it.isNew) { %>
<form method="post" action="<%= it.action %>/delete" data-confirm="Delete this ${kind}?">
  <input type="hidden" name="_csrf" value="<%= it.csrf %>">
  <button type="submit" class="danger">Delete</button>
</form>
<% } %>`
}

/** The "Nothing was saved" alert with the form-level errors (template source). */
export const FORM_ERRORS = `<% if (it.formErrors.length > 0 || Object.keys(it.errors).length > 0) { %><div class="alert error" role="alert"><p>Nothing was saved: correct the fields marked below.</p><% if (it.formErrors.length > 0) { %><ul><% for (const e of it.formErrors) { %><li><%= e %></li><% } %></ul><% } %></div><% } %>`

const AUTH_PROVIDERS = `<% layout('@layout', it) %>
<div class="actions"><a class="button" href="/auth-providers/new">New Auth Provider</a></div>
<% if (it.providers.length === 0) { %>
<p>No Auth Providers yet.</p>
<% } else { %>
<div class="table-wrap"><table>
<thead><tr><th scope="col">Name</th><th scope="col">Type</th><th scope="col">Consumer key</th><th scope="col">Callback URL</th></tr></thead>
<tbody>
<% for (const p of it.providers) { %>
<tr><td><a href="/auth-providers/<%= encodeURIComponent(p.name) %>"><%= p.name %></a></td><td><%= p.type %></td><td><code><%= p.consumerKey %></code></td><td><code><%= p.callbackUrl %></code></td></tr>
<% } %>
</tbody></table></div>
<% } %>
`

const AUTH_PROVIDER_FORM = `<% layout('@layout', it) %>
${FORM_ERRORS}
<% if (it.callbackUrl) { %>
<div class="card">
  <label for="callback-url">Callback URL (paste it into the Connected App)</label>
  <div class="copy-row"><input type="text" id="callback-url" readonly value="<%= it.callbackUrl %>"><button type="button" class="secondary" data-copy="callback-url">Copy</button></div>
</div>
<% } %>
<form method="post" action="<%= it.action %>" class="card" novalidate>
  <input type="hidden" name="_csrf" value="<%= it.csrf %>">
<% if (it.isNew) { %>
  ${input('name', 'Name', 'Letters, digits and _; starts with a letter. Used in the callback URL.')}
<% } %>
  ${select('type', 'Provider type', "[['salesforce', 'Salesforce'], ['oidc', 'OpenID Connect'], ['oauth2', 'OAuth 2.0']]")}
  ${input('consumerKey', 'Consumer key', 'The Connected App\u2019s consumer key (client id).')}
  <label for="consumerSecret">Consumer secret</label>
  <input type="password" id="consumerSecret" name="consumerSecret" autocomplete="new-password" value=""<% if (it.errors.consumerSecret) { %> aria-invalid="true" aria-describedby="consumerSecret-error"<% } %>>
  <p class="hint"><% if (it.stored.includes('consumerSecret')) { %>A secret is stored and never shown. Type a new one to replace it; leave empty to keep it.<% } else { %>Never shown again after saving.<% } %></p>
  <% if (it.errors.consumerSecret) { %><p class="field-error" id="consumerSecret-error"><%= it.errors.consumerSecret %></p><% } %>
  <% if (it.stored.includes('consumerSecret')) { %>${checkbox('removeConsumerSecret', 'Remove the stored consumer secret')}<% } %>
  <label for="clientPrivateKey">Client private key, PEM (write-only)</label>
  <textarea id="clientPrivateKey" name="clientPrivateKey" autocomplete="off" spellcheck="false"<% if (it.errors.clientPrivateKey) { %> aria-invalid="true" aria-describedby="clientPrivateKey-error"<% } %>></textarea>
  <p class="hint">For client authentication <code>private_key_jwt</code>: paste the whole PEM (<code>-----BEGIN PRIVATE KEY-----</code> \u2026). <% if (it.stored.includes('clientPrivateKey')) { %>A key is stored and never shown; leave empty to keep it.<% } else { %>Never shown again after saving.<% } %></p>
  <% if (it.errors.clientPrivateKey) { %><p class="field-error" id="clientPrivateKey-error"><%= it.errors.clientPrivateKey %></p><% } %>
  <% if (it.stored.includes('clientPrivateKey')) { %>${checkbox('removeClientPrivateKey', 'Remove the stored client private key')}<% } %>
  ${select('clientAuth', 'Client authentication', "[['', 'Default (secret: client_secret_post; key only: private_key_jwt; neither: none)'], ['client_secret_post', 'client_secret_post'], ['client_secret_basic', 'client_secret_basic'], ['private_key_jwt', 'private_key_jwt'], ['none', 'none (public client)']]")}
  ${select('usePkce', 'Use PKCE', "[['true', 'Yes (recommended)'], ['false', 'No']]")}
  <h2>Endpoints</h2>
  ${input('loginUrl', 'Login URL (Salesforce)', 'https://login.salesforce.com, https://test.salesforce.com or the target org\u2019s My Domain; the authorize, token, userinfo, revoke and introspect endpoints are derived from it unless given below.', 'url')}
  ${input('issuer', 'Issuer (OpenID Connect)', 'Read through the issuer\u2019s discovery document.', 'url')}
  ${input('authorizeUrl', 'Authorize URL', 'Required for OAuth 2.0; overrides the derived or discovered one otherwise.', 'url')}
  ${input('tokenUrl', 'Token URL', 'Required for OAuth 2.0; overrides the derived or discovered one otherwise.', 'url')}
  ${input('userInfoUrl', 'UserInfo URL', '', 'url')}
  ${input('revokeUrl', 'Revocation URL', 'Where Revoke sends a token (RFC 7009).', 'url')}
  ${input('introspectUrl', 'Introspection URL', '', 'url')}
  ${input('defaultScopes', 'Default scopes', 'Space-separated, e.g. <code>api refresh_token</code>.')}
  ${textarea('trustedInstanceHosts', 'Trusted instance hosts (Salesforce)', 'One per line: a host or <code>*.</code> and a domain, e.g. <code>*.my.salesforce.com</code>.')}
  ${checkbox('allowInsecureHttp', 'Allow plain http:// endpoints (unsafe: tokens and secrets travel unencrypted)')}
${saveOrDelete('/auth-providers', 'Auth Provider')}
`

const NAMED_CREDENTIAL_NEW = `<% layout('@layout', it) %>
${FORM_ERRORS}
<form method="post" action="/named-credentials" class="card" novalidate>
  <input type="hidden" name="_csrf" value="<%= it.csrf %>">
  ${input('label', 'Label')}
  ${input('name', 'Name', 'Used in callout:Name/path. Letters, digits and _; starts with a letter.')}
  ${input('url', 'URL', 'e.g. https://yourdomain.my.salesforce.com', 'url')}
  ${select('identityType', 'Identity Type', "[['named-principal', 'Named Principal'], ['per-user', 'Per User'], ['anonymous', 'Anonymous']]")}
  ${select('protocol', 'Authentication Protocol', "[['oauth2', 'OAuth 2.0'], ['none', 'No Authentication']]")}
  ${select('authProvider', 'Authentication Provider', 'it.providerOptions', 'Create one first on the Auth Providers page.')}
  ${input('scope', 'Scope', 'Overrides the provider\u2019s default scopes, e.g. <code>refresh_token api</code>.')}
  ${checkbox('startAuth', 'Start Authentication Flow on Save')}
  ${checkbox('generateAuthorizationHeader', 'Generate Authorization Header')}
  ${checkbox('allowMergeFieldsInHeader', 'Allow Merge Fields in HTTP Header')}
  ${checkbox('allowMergeFieldsInBody', 'Allow Merge Fields in HTTP Body')}
  <div class="actions"><button type="submit">Save</button><a href="/">Cancel</a></div>
</form>
`

const NAMED_CREDENTIAL_DETAIL = `<% layout('@layout', it) %>
<div class="grid">
<section class="card" aria-labelledby="status-heading">
  <h2 id="status-heading">Authentication</h2>
  <dl class="facts">
    <dt>Name</dt><dd><code><%= it.report.name %></code></dd>
    <dt>URL</dt><dd><code><%= it.report.url %></code></dd>
    <dt>Protocol</dt><dd><%= it.report.protocol %><% if (it.report.flow) { %> / <%= it.report.flow %><% } %></dd>
    <dt>Enabled</dt><dd id="nc-enabled"><%= it.report.enabled ? 'Yes' : 'No' %></dd>
<% if (it.settings) { %>    <dt>Timeout</dt><dd id="nc-timeout"><%= it.settings.timeoutMs %> ms</dd>
<% if (it.settings.checkPath) { %>    <dt>Check path</dt><dd><code><%= it.settings.checkPath %></code></dd>
<% } %><% } %>  </dl>
  <div class="actions"><a class="button secondary" href="/named-credentials/<%= encodeURIComponent(it.report.name) %>/edit">Edit</a></div>
<% for (const p of it.report.principals) { %>
  <h3><%= p.principal %><% if (p.userId) { %> (<%= p.userId %>)<% } %> <span class="badge <%= p.status %>"><%= it.statusLabel(p.status) %></span></h3>
  <p><strong><%= it.say(p.summary) %></strong></p>
<% if (p.advice) { %>  <div class="alert error" role="status"><p><%= p.advice %></p></div>
<% } %>
  <dl class="facts">
<% if (p.orgId) { %><dt>Org</dt><dd><%= p.orgId %></dd><% } %>
<% if (p.instanceUrl) { %><dt>Instance</dt><dd><%= p.instanceUrl %></dd><% } %>
<% if (p.expiresAt) { %><dt>Expires</dt><dd><%= new Date(p.expiresAt).toISOString() %></dd><% } %>
<% if (p.flowStartedAt) { %><dt>Flow started</dt><dd><%= new Date(p.flowStartedAt).toISOString() %></dd><% } %>
<% if (p.lastRefreshAt) { %><dt>Last refresh</dt><dd><%= new Date(p.lastRefreshAt).toISOString() %></dd><% } %>
<% if (p.lastError) { %><dt>Last error</dt><dd class="field-error"><%= p.lastError.code %>: <%= it.say(p.lastError.message) %></dd><% } %>
  </dl>
<% } %>
<% if (it.browserFlow) { %>
  <form method="post" action="/named-credentials/<%= encodeURIComponent(it.report.name) %>/authenticate">
    <input type="hidden" name="_csrf" value="<%= it.csrf %>">
    <button type="submit"><%= it.authenticated ? 'Re-authenticate' : 'Authenticate' %></button>
  </form>
<% if (it.report.principals.some((p) => p.status === 'pending' || p.status === 'timed-out')) { %>
  <label for="callback-url">The Connected App must list exactly this Callback URL (a login page that shows redirect_uri_mismatch never comes back)</label>
  <div class="copy-row"><input type="text" id="callback-url" readonly value="<%= it.callbackUrl %>"><button type="button" class="secondary" data-copy="callback-url">Copy</button></div>
<% } else { %>
  <p class="hint">Callback URL: <code><%= it.callbackUrl %></code></p>
<% } %>
<% } %>
<%~ include('@revoke-action', it) %>
</section>
<section class="card" aria-labelledby="test-heading">
  <h2 id="test-heading">Test a callout</h2>
  <form method="post" action="/named-credentials/<%= encodeURIComponent(it.report.name) %>/test">
    <input type="hidden" name="_csrf" value="<%= it.csrf %>">
    <label for="method">Method</label>
    <select id="method" name="method"><% for (const m of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD']) { %><option<% if (it.test.method === m) { %> selected<% } %>><%= m %></option><% } %></select>
    <label for="path">Path</label>
    <input type="text" id="path" name="path" value="<%= it.test.path %>">
    <label for="headers">Headers (one <code>Name: value</code> per line)</label>
    <textarea id="headers" name="headers"><%= it.test.headers %></textarea>
    <label for="body">Body</label>
    <textarea id="body" name="body"><%= it.test.body %></textarea>
<% if (it.perUser) { %>
    <label for="test-user">End user</label>
    <input type="text" id="test-user" name="user" value="<%= it.test.user %>" aria-describedby="test-user-hint<% if (it.testErrors.user) { %> test-user-error<% } %>"<% if (it.testErrors.user) { %> aria-invalid="true"<% } %>>
    <p class="hint" id="test-user-hint">The user whose connection sends the call (required: the principal is per-user).</p>
<% if (it.testErrors.user) { %>    <p class="field-error" id="test-user-error"><%= it.testErrors.user %></p>
<% } %>
<% } %>
    <div class="actions">
      <button type="submit">Send</button>
<% if (it.salesforce) { %>
      <button type="submit" class="secondary" name="preset" value="resources">List REST resources</button>
<% } %>
    </div>
  </form>
<% if (it.result) { %>
  <h3>Response: <span id="test-status"><%= it.result.status %></span></h3>
  <pre tabindex="0" aria-label="Response headers"><%= it.result.headers %></pre>
  <pre tabindex="0" aria-label="Response body" id="test-body"><%= it.result.body %></pre>
<%~ include('@open-record', it) %>
<% } %>
<% if (it.testError) { %><div class="alert error" role="alert"><%= it.testError %></div><% } %>
</section>
<%~ include('@doctor-panel', it) %>
<%~ include('@open-in-org', it) %>
<%~ include('@connect-link-form', it) %>
</div>
<form method="post" action="/named-credentials/<%= encodeURIComponent(it.report.name) %>/delete" data-confirm="Delete this Named Credential?">
  <input type="hidden" name="_csrf" value="<%= it.csrf %>">
  <button type="submit" class="danger">Delete Named Credential</button>
</form>
`

const AUTH_ERROR = `<% layout('@layout', it) %>
<div class="alert error" role="alert">
  <p><strong><%= it.code %></strong></p>
  <p><%= it.message %></p>
</div>
<% if (it.advice) { %><div class="card"><p><%= it.advice %></p></div><% } %>
<% if (it.callbackUrl) { %>
<div class="card">
  <label for="callback-url">Register exactly this Callback URL in the Connected App</label>
  <div class="copy-row"><input type="text" id="callback-url" readonly value="<%= it.callbackUrl %>"><button type="button" class="secondary" data-copy="callback-url">Copy</button></div>
</div>
<% } %>
<p><a href="<%= it.back %>">Back</a></p>
`

const CLIENT_KEYS = `<% layout('@layout', it) %>
<% if (it.newKey) { %>
<div class="card">
  <label for="new-key">The new key (shown only now)</label>
  <div class="copy-row"><input type="text" id="new-key" readonly value="<%= it.newKey %>"><button type="button" class="secondary" data-copy="new-key">Copy</button></div>
</div>
<% } %>
${FORM_ERRORS}
<form method="post" action="/client-keys" class="card" novalidate>
  <input type="hidden" name="_csrf" value="<%= it.csrf %>">
  ${input('name', 'Name', 'e.g. ci-bot')}
  ${input('allow', 'Allow', 'Rules, comma-separated: <code>Name[:METHODS[:/path/prefix*]]</code>')}
  ${checkbox('anyUser', 'May act for end users (Callout-User)')}
  <div class="actions"><button type="submit">Create key</button></div>
</form>
<div class="table-wrap"><table>
<thead><tr><th scope="col">Id</th><th scope="col">Name</th><th scope="col">Rules</th><th scope="col">State</th><th scope="col"><span class="skip-label">Actions</span></th></tr></thead>
<tbody>
<% for (const k of it.keys) { %>
<tr><td><code><%= k.id %></code></td><td><%= k.name %></td><td><%= k.rules.join(', ') %></td><td><%= k.state %></td>
<td><% if (k.state === 'active') { %><form method="post" action="/client-keys/<%= k.id %>/revoke" data-confirm="Revoke this key?"><input type="hidden" name="_csrf" value="<%= it.csrf %>"><button type="submit" class="secondary">Revoke</button></form><% } %></td></tr>
<% } %>
</tbody></table></div>
`

/** The templates of the definition pages. */
export const PAGE_TEMPLATES: Readonly<Record<string, string>> = Object.freeze({
  '@auth-providers': AUTH_PROVIDERS,
  '@auth-provider-form': AUTH_PROVIDER_FORM,
  '@named-credential-new': NAMED_CREDENTIAL_NEW,
  '@named-credential': NAMED_CREDENTIAL_DETAIL,
  '@auth-error': AUTH_ERROR,
  '@client-keys': CLIENT_KEYS,
})
