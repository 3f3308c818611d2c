import type { Broker } from '../../callout/broker.ts'
import { credentialNotFound } from '../../callout/callout-url.ts'
import { openBroker } from '../../callout/open-broker.ts'
import { buildStatusReports, type StatusReport } from '../../callout/status-report.ts'
import type { Definitions } from '../../definitions/model.ts'
import { loadMasterKey, resolveHome, type MasterKey } from '../../secrets/index.ts'
import { LATEST_SCHEMA_VERSION, openStore, type KyselyStore } from '../../store/index.ts'
import {
  apiCheckFinding,
  credentialFindings,
  errorFinding,
  formatFinding,
  hasFailure,
  type Finding,
} from '../doctor-checks.ts'
import { EXIT, println, type CliIo } from '../io.ts'

/** Options of `callout doctor`. */
export interface DoctorOptions {
  /** Check one Named Credential; default all. */
  readonly name?: string
  /** Also obtain tokens now and call an endpoint that needs them. */
  readonly online?: boolean
  /** Print the findings as a JSON array. */
  readonly json?: boolean
}

/** Opens the store step by step, recording a finding for each step. */
async function openChecked(io: CliIo, findings: Finding[]): Promise<KyselyStore | undefined> {
  const home = resolveHome(io.env)
  let key: MasterKey
  try {
    key = await loadMasterKey({ env: io.env, home })
  } catch (error) {
    findings.push(errorFinding('master key', error, 'cannot load'))
    return undefined
  }
  const source =
    io.env.CALLOUT_MASTER_KEY !== undefined && io.env.CALLOUT_MASTER_KEY.trim() !== ''
      ? 'CALLOUT_MASTER_KEY'
      : `${home}/master.key`
  findings.push({ level: 'ok', subject: 'master key', what: `loaded from ${source}` })
  // The store reports "Applying migration …" only when it had to migrate.
  let migrated = false
  let store: KyselyStore
  try {
    store = await openStore({
      home,
      env: io.env,
      masterKey: key,
      onMigrationProgress: (message) => {
        if (message.startsWith('Applying migration')) migrated = true
      },
    })
  } catch (error) {
    findings.push(errorFinding('store', error, 'cannot open'))
    return undefined
  }
  findings.push({
    level: 'ok',
    subject: 'store',
    what: `${store.dialect} ${store.location} opened; the master key matches its data keys`,
  })
  findings.push({
    level: 'ok',
    subject: 'store',
    what: !migrated
      ? `schema version ${LATEST_SCHEMA_VERSION} (up to date)`
      : `schema migrated to version ${LATEST_SCHEMA_VERSION} just now`,
  })
  return store
}

/** The API version of the Salesforce check: `GET /services/data/v61.0/` needs a valid session. */
export const SALESFORCE_CHECK_PATH = '/services/data/v61.0/'

/**
 * The online checks of one Named Credential: a real token request now (flows without a browser),
 * then a GET of a path that answers only to a valid credential — Salesforce's
 * `/services/data/v61.0/`, or the Named Credential's `checkPath`.
 */
async function onlineFindings(
  broker: Broker,
  report: StatusReport,
  defs: Definitions,
): Promise<Finding[]> {
  const name = report.name
  const nc = defs.namedCredentials.get(name)
  const ec = defs.externalCredentials.get(report.externalCredential)
  if (!report.enabled || ec === undefined || nc === undefined) return []
  const provider =
    ec.authProvider === undefined ? undefined : defs.authProviders.get(ec.authProvider)
  const salesforce = provider?.type === 'salesforce'
  const out: Finding[] = []
  const named = ec.principals.some((p) => p.type === 'named')
  if (!named) return out
  if (ec.protocol === 'oauth2' && ec.flow !== 'browser') {
    try {
      const fresh = await broker.authenticate(name, { fresh: true })
      const summary = fresh.principals.map((p) => p.summary).join('; ')
      out.push({ level: 'ok', subject: name, what: `obtained a token now (${summary})` })
    } catch (error) {
      out.push(errorFinding(name, error, 'could not obtain a token', salesforce))
      return out
    }
  }
  const path = nc.checkPath ?? (salesforce ? SALESFORCE_CHECK_PATH : undefined)
  if (path === undefined) {
    out.push({
      level: 'ok',
      subject: name,
      what: 'no endpoint called: the Named Credential has no checkPath',
      todo: 'set checkPath (a path that needs the credential, e.g. /me) to have doctor --online call it',
    })
    return out
  }
  const usable =
    ec.protocol !== 'oauth2' ||
    ec.flow !== 'browser' ||
    report.principals.some((p) => p.status === 'authenticated')
  if (!usable) return out
  try {
    const res = await broker.fetch(`callout:${name}${path}`)
    const body = await res.text()
    out.push(
      apiCheckFinding(name, path, res.status, body, {
        salesforce,
        ...(res.headers.get('callout-advice') === null
          ? {}
          : { advice: res.headers.get('callout-advice')! }),
      }),
    )
  } catch (error) {
    out.push(errorFinding(name, error, `GET ${path} failed`, salesforce))
  }
  return out
}

/**
 * `callout doctor [Name] [--online] [--json]`: checks the master key, the store and each Named
 * Credential (or the one named) and prints one line per finding,
 * `ok|warn|fail <subject>: <what> — <what to do>`. Offline by default; `--online` also makes a
 * real token request (non-browser flows) and GETs a path that needs the credential (Salesforce's
 * `/services/data/v61.0/`, or the Named Credential's `checkPath`). Returns 0 when nothing
 * failed, 1 otherwise. Never prints a secret or a token.
 *
 * @example
 * // $ callout doctor Target
 * // ok   master key: loaded from CALLOUT_MASTER_KEY
 * // warn Target: the URL https://acme.lightning.force.com is a Lightning/… host … — set the Named Credential URL to …
 */
export async function doctorCommand(io: CliIo, options: DoctorOptions): Promise<number> {
  const findings: Finding[] = []
  const store = await openChecked(io, findings)
  if (store !== undefined) {
    try {
      const defs = await store.loadDefinitions()
      if (options.name !== undefined && !defs.namedCredentials.has(options.name)) {
        throw credentialNotFound(options.name, defs.namedCredentials.keys())
      }
      if (defs.namedCredentials.size === 0) {
        findings.push({
          level: 'warn',
          subject: 'definitions',
          what: 'no Named Credentials yet',
          todo: 'run callout apply -f callout.yaml',
        })
      }
      const online: Finding[][] = []
      if (options.online === true) {
        const broker = await openBroker({ store, env: io.env })
        try {
          for (const report of await buildStatusReports(defs, store, options.name)) {
            online.push(await onlineFindings(broker, report, defs))
          }
        } finally {
          await broker.close()
        }
      }
      // After the online checks, so the principals' status reflects the tokens just obtained.
      const reports = await buildStatusReports(defs, store, options.name)
      reports.forEach((report, i) => {
        findings.push(...credentialFindings(report, defs), ...(online[i] ?? []))
      })
    } finally {
      await store.close()
    }
  }
  if (options.json === true) println(io, JSON.stringify(findings, null, 2))
  else for (const f of findings) println(io, formatFinding(f))
  return hasFailure(findings) ? EXIT.error : EXIT.ok
}
