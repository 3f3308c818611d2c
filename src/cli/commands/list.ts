import { resolveHome } from '../../secrets/index.ts'
import { openStore } from '../../store/index.ts'
import { println, type CliIo } from '../io.ts'

/** One row of `callout list`. */
export interface ListRow {
  readonly name: string
  readonly url: string
  readonly externalCredential: string
  readonly protocol: string
  readonly flow?: string
  readonly enabled: boolean
}

/**
 * `callout list [--json]`: the Named Credentials in the store with their URL and protocol.
 *
 * @example
 * // $ callout list
 * // Api  https://api.example.com/v1  ApiAuth oauth2/client-credentials
 */
export async function listCommand(io: CliIo, options: { json?: boolean }): Promise<void> {
  const store = await openStore({ home: resolveHome(io.env), env: io.env })
  let rows: ListRow[]
  try {
    const defs = await store.loadDefinitions()
    rows = [...defs.namedCredentials.values()]
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((nc) => {
        const ec = defs.externalCredentials.get(nc.externalCredential)
        return {
          name: nc.name,
          url: nc.url,
          externalCredential: nc.externalCredential,
          protocol: ec?.protocol ?? 'unknown',
          ...(ec?.flow === undefined ? {} : { flow: ec.flow }),
          enabled: nc.enabled,
        }
      })
  } finally {
    await store.close()
  }
  if (options.json === true) {
    println(io, JSON.stringify(rows, null, 2))
    return
  }
  if (rows.length === 0) {
    println(io, 'no named credentials yet: run `callout apply -f callout.yaml`')
    return
  }
  const width = Math.max(...rows.map((r) => r.name.length))
  for (const r of rows) {
    const how = r.flow === undefined ? r.protocol : `${r.protocol}/${r.flow}`
    const off = r.enabled ? '' : '  (disabled)'
    println(io, `${r.name.padEnd(width)}  ${r.url}  ${r.externalCredential} ${how}${off}`)
  }
}
