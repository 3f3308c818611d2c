/**
 * The console's templates (eta, auto-escaping: `<%= %>` escapes HTML, and the templates never
 * use the raw `<%~ %>` form for data). They live in this module, not in files, so that the built
 * package carries them. Every page shares one layout: skip link, navigation, one `<main>`.
 */
import { Eta } from 'eta'

/** What every page gets. */
export interface PageData {
  readonly title: string
  /** The signed-in admin, if any (shows the navigation and logout). */
  readonly user?: string
  /** A CSRF token for the page's forms (and the logout button). */
  readonly csrf: string
  /** The current navigation section. */
  readonly section?: string
  /** A message at the top of the page. */
  readonly flash?: { readonly kind: 'ok' | 'error' | 'info'; readonly text: string }
}

const LAYOUT = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title><%= it.title %> · Callout</title>
<link rel="stylesheet" href="/console/assets/console.css">
<script src="/console/assets/console.js" defer></script>
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="top">
  <a class="brand" href="/">Callout</a>
<% if (it.user) { %>
  <nav aria-label="Main">
    <ul>
<% for (const [href, label, key] of [['/', 'Named Credentials', 'nc'], ['/external-credentials', 'External Credentials', 'ec'], ['/auth-providers', 'Auth Providers', 'ap'], ['/client-keys', 'Client Keys', 'keys'], ['/audit', 'Audit Log', 'audit']]) { %>
      <li><a href="<%= href %>"<% if (it.section === key) { %> aria-current="page"<% } %>><%= label %></a></li>
<% } %>
    </ul>
  </nav>
  <div class="who">
    <span>Signed in as <strong><%= it.user %></strong></span>
    <form method="post" action="/logout" class="inline">
      <input type="hidden" name="_csrf" value="<%= it.csrf %>">
      <button type="submit">Log out</button>
    </form>
  </div>
<% } %>
</header>
<main id="main">
<h1><%= it.title %></h1>
<% if (it.flash) { %><div class="alert <%= it.flash.kind %>" role="<%= it.flash.kind === 'error' ? 'alert' : 'status' %>"><%= it.flash.text %></div><% } %>
<%~ it.body %>
</main>
</body>
</html>
`

const LOGIN = `<% layout('@layout', it) %>
<div class="card narrow">
<% if (!it.hasAdmins) { %>
  <div class="alert info" role="status">No admin exists yet. On the server, run <code>callout admin create --username &lt;name&gt;</code>, then log in here.</div>
<% } %>
  <form method="post" action="/login" novalidate>
    <input type="hidden" name="_csrf" value="<%= it.csrf %>">
    <input type="hidden" name="next" value="<%= it.next %>">
    <label for="username">Username</label>
    <input type="text" id="username" name="username" autocomplete="username" required value="<%= it.username %>">
    <label for="password">Password</label>
    <input type="password" id="password" name="password" autocomplete="current-password" required>
    <div class="actions"><button type="submit">Log in</button></div>
  </form>
</div>
`

const NAMED_CREDENTIALS = `<% layout('@layout', it) %>
<div class="actions">
  <a class="button" href="/named-credentials/new">New Named Credential</a>
  <a class="button secondary" href="/named-credentials/new-full">New Named Credential (full form)</a>
</div>
<h2>Named Credentials</h2>
<% if (it.reports.length === 0) { %>
<p>No Named Credentials yet. Create one here, or apply a config file with <code>callout apply -f callout.yaml</code>.</p>
<% } else { %>
<div class="table-wrap">
<table>
  <thead><tr><th scope="col">Name</th><th scope="col">URL</th><th scope="col">Authentication</th><th scope="col">Principals</th></tr></thead>
  <tbody>
<% for (const nc of it.reports) { %>
    <tr>
      <td><a href="/named-credentials/<%= encodeURIComponent(nc.name) %>"><%= nc.label %></a><br><code><%= nc.name %></code><% if (!nc.enabled) { %> <span class="badge not-configured">disabled</span><% } %></td>
      <td><code><%= nc.url %></code></td>
      <td><%= nc.protocol %><% if (nc.flow) { %> / <%= nc.flow %><% } %></td>
      <td>
<% if (nc.principals.length === 0) { %>—<% } %>
<% for (const p of nc.principals) { %>
        <div><%= p.principal %><% if (p.userId) { %> (<%= p.userId %>)<% } %>: <span class="badge <%= p.status %>"><%= it.statusLabel(p.status) %></span>
<% if (p.lastRefreshAt) { %><span class="hint">refreshed <%= new Date(p.lastRefreshAt).toISOString() %></span><% } %>
<% if (p.status === 'timed-out') { %><div class="field-error"><%= p.summary %></div><% } else if (p.lastError) { %><div class="field-error"><%= p.lastError.code %>: <%= p.lastError.message %></div><% } %>
        </div>
<% } %>
      </td>
    </tr>
<% } %>
  </tbody>
</table>
</div>
<% } %>
`

const AUDIT = `<% layout('@layout', it) %>
<p>Every change made through the console, the admin API and the <code>callout admin</code> commands: who, what and when. Secrets are never recorded.</p>
<% if (it.entries.length === 0) { %>
<p>No entries yet.</p>
<% } else { %>
<div class="table-wrap" tabindex="0" role="region" aria-label="Audit entries">
<table>
  <thead><tr><th scope="col">When (UTC)</th><th scope="col">Who</th><th scope="col">What</th><th scope="col">Target</th><th scope="col">Details</th></tr></thead>
  <tbody>
<% for (const e of it.entries) { %>
    <tr>
      <td><%= new Date(e.at).toISOString() %></td>
      <td><%= e.actor %><% if (e.remote) { %><br><span class="hint"><%= e.remote %></span><% } %></td>
      <td><code><%= e.action %></code></td>
      <td><%= e.target %></td>
      <td><% for (const [k, v] of Object.entries(e.details)) { %><div><%= k %>: <%= Array.isArray(v) ? v.join(', ') : String(v) %></div><% } %></td>
    </tr>
<% } %>
  </tbody>
</table>
</div>
<% if (it.older) { %><p><a href="/audit?before=<%= it.older %>">Older entries</a></p><% } %>
<% } %>
`

const ERROR = `<% layout('@layout', it) %>
<div class="card">
  <p><strong><%= it.code %></strong>: <%= it.message %></p>
<% if (it.advice) { %>  <p><%= it.advice %></p><% } %>
  <p><a href="<%= it.back %>">Back</a></p>
</div>
`

/** The templates by name; pages add theirs with {@link addTemplates}. */
const TEMPLATES: Record<string, string> = {
  '@layout': LAYOUT,
  '@login': LOGIN,
  '@named-credentials': NAMED_CREDENTIALS,
  '@audit': AUDIT,
  '@error': ERROR,
}

let eta: Eta | undefined

function engine(): Eta {
  if (eta !== undefined) return eta
  const created = new Eta({ autoEscape: true, autoTrim: false, cache: true, useWith: false })
  for (const [name, template] of Object.entries(TEMPLATES)) created.loadTemplate(name, template)
  eta = created
  return created
}

/**
 * Registers more templates (each page module brings its own).
 *
 * @example
 * addTemplates({ '@auth-providers': '<% layout("@layout", it) %>…' })
 */
export function addTemplates(templates: Readonly<Record<string, string>>): void {
  for (const [name, template] of Object.entries(templates)) {
    TEMPLATES[name] = template
    eta?.loadTemplate(name, template)
  }
}

/**
 * Renders a page template with the shared layout. Data is escaped by the template.
 *
 * @example
 * render('@login', { title: 'Log in', csrf, next: '/', username: '', hasAdmins: true })
 */
export function render(template: string, data: PageData & Record<string, unknown>): string {
  return engine().render(template, data)
}
