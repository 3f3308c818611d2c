import { credentialNotFound } from '../../callout/callout-url.ts'
import { openBroker } from '../../callout/open-broker.ts'
import { buildStatusReports } from '../../callout/status-report.ts'
import { loadMasterKey, resolveHome, type MasterKey } from '../../secrets/index.ts'
import { LATEST_SCHEMA_VERSION, openStore, type KyselyStore } from '../../store/index.ts'
import { onlineFindings } from '../../callout/doctor-checks.ts'
import {
  CLI_VOICE,
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
            online.push(await onlineFindings(broker, report, defs, CLI_VOICE))
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
