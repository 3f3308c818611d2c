/**
 * The console's two static assets, served from `/console/assets/`: one small stylesheet and one
 * script (copy buttons, confirm prompts). The CSP allows scripts and styles from this origin only,
 * and no page carries inline script or style.
 */

/** The stylesheet: responsive, system fonts, WCAG AA contrast on every text colour. */
export const CONSOLE_CSS = `
:root { --fg: #1b1f24; --muted: #4a5360; --bg: #f6f7f9; --card: #fff; --line: #d3d8de;
  --brand: #0b5cad; --ok: #116329; --ok-bg: #dafbe1; --warn: #7d4e00; --warn-bg: #fff8c5;
  --bad: #a40e26; --bad-bg: #ffebe9; --idle: #3d4450; --idle-bg: #eaeef2; }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: var(--fg); background: var(--bg); }
a { color: var(--brand); }
.skip { position: absolute; left: -999px; top: 0; background: var(--card); padding: .5rem; }
.skip:focus { left: .5rem; z-index: 10; }
header.top { display: flex; flex-wrap: wrap; gap: .5rem 1.5rem; align-items: center;
  padding: .75rem 1.5rem; background: #0d2840; color: #fff; }
header.top a { color: #fff; text-decoration: none; }
header.top a:hover, header.top a:focus { text-decoration: underline; }
header.top .brand { font-weight: 700; font-size: 1.1rem; }
header.top nav ul { display: flex; flex-wrap: wrap; gap: 1rem; list-style: none; margin: 0; padding: 0; }
header.top .who { margin-left: auto; display: flex; gap: .75rem; align-items: center; }
header.top .who button { background: transparent; color: #fff; border: 1px solid #9fb3c8; }
main { max-width: 72rem; margin: 0 auto; padding: 1.5rem; }
h1 { font-size: 1.6rem; margin: 0 0 1rem; }
h2 { font-size: 1.2rem; margin: 1.5rem 0 .75rem; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 1.25rem;
  margin-bottom: 1rem; }
.narrow { max-width: 28rem; margin: 3rem auto; }
table { width: 100%; border-collapse: collapse; background: var(--card); }
th, td { text-align: left; padding: .5rem .75rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-size: .85rem; text-transform: uppercase; letter-spacing: .03em; color: var(--muted); }
.table-wrap { overflow-x: auto; border: 1px solid var(--line); border-radius: 8px; }
label { display: block; font-weight: 600; margin: .75rem 0 .25rem; }
.hint { color: var(--muted); font-size: .9rem; margin: .25rem 0 0; }
input[type=text], input[type=password], input[type=url], select, textarea {
  width: 100%; padding: .5rem .6rem; font: inherit; border: 1px solid #8c959f; border-radius: 6px;
  background: #fff; color: var(--fg); }
textarea { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; min-height: 6rem; }
input:focus, select:focus, textarea:focus, button:focus, a:focus { outline: 3px solid #80b3e6; outline-offset: 1px; }
.check { display: flex; gap: .5rem; align-items: center; font-weight: 600; margin: .75rem 0; }
.check input { width: 1.1rem; height: 1.1rem; }
button, .button { display: inline-block; padding: .5rem 1rem; font: inherit; font-weight: 600;
  border-radius: 6px; border: 1px solid var(--brand); background: var(--brand); color: #fff;
  cursor: pointer; text-decoration: none; }
button.secondary, .button.secondary { background: #fff; color: var(--brand); }
button.danger { background: var(--bad); border-color: var(--bad); }
.actions { display: flex; flex-wrap: wrap; gap: .75rem; margin-top: 1rem; align-items: center; }
.inline { display: inline; }
.badge { display: inline-block; padding: .1rem .6rem; border-radius: 999px; font-size: .85rem;
  font-weight: 600; white-space: nowrap; }
.badge.authenticated { color: var(--ok); background: var(--ok-bg); }
.badge.needs-reauth, .badge.error, .badge.timed-out { color: var(--bad); background: var(--bad-bg); }
.badge.pending { color: var(--warn); background: var(--warn-bg); }
.badge.not-configured { color: var(--idle); background: var(--idle-bg); }
.badge.ok { color: var(--ok); background: var(--ok-bg); }
.badge.warn { color: var(--warn); background: var(--warn-bg); }
.badge.fail { color: var(--bad); background: var(--bad-bg); }
ul.findings { list-style: none; padding: 0; margin: 0; }
ul.findings li { padding: .5rem 0; border-bottom: 1px solid var(--line); overflow-wrap: anywhere; }
.alert { border-radius: 8px; padding: .75rem 1rem; margin-bottom: 1rem; border: 1px solid; }
.alert.error { color: var(--bad); background: var(--bad-bg); border-color: #e5a1a9; }
.alert.ok { color: var(--ok); background: var(--ok-bg); border-color: #8dd1a0; }
.alert.info { color: var(--warn); background: var(--warn-bg); border-color: #d4b44a; }
.field-error { color: var(--bad); font-size: .9rem; margin: .25rem 0 0; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: .9rem; }
pre { background: #0d1117; color: #e6edf3; padding: 1rem; border-radius: 8px; overflow: auto;
  max-height: 32rem; white-space: pre-wrap; word-break: break-word; }
.copy-row { display: flex; gap: .5rem; align-items: stretch; }
.copy-row input { flex: 1; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; margin: 0; }
dl.facts dt { font-weight: 600; color: var(--muted); }
dl.facts dd { margin: 0; overflow-wrap: anywhere; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(20rem, 1fr)); gap: 1rem; }
@media (max-width: 40rem) { main { padding: 1rem; } header.top .who { margin-left: 0; } }
`

/**
 * The script: copy buttons (`data-copy="<element id>"`) and confirmations
 * (`data-confirm="<question>"` on forms). Pages work without it.
 */
export const CONSOLE_JS = `'use strict'
document.addEventListener('click', function (event) {
  var button = event.target.closest('[data-copy]')
  if (!button) return
  var source = document.getElementById(button.getAttribute('data-copy'))
  if (!source) return
  var text = 'value' in source ? source.value : source.textContent
  var done = function () {
    var before = button.textContent
    button.textContent = 'Copied'
    setTimeout(function () { button.textContent = before }, 1500)
  }
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(done, function () { source.select && source.select() })
  } else if (source.select) {
    source.select()
    document.execCommand('copy')
    done()
  }
})
document.addEventListener('submit', function (event) {
  var form = event.target
  var question = form.getAttribute && form.getAttribute('data-confirm')
  if (question && !window.confirm(question)) event.preventDefault()
})
`
