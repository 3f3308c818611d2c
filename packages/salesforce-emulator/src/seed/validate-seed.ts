/**
 * Validates an untrusted seed (parsed JSON/YAML or a programmatic object) once, at the edge, and
 * returns it typed. Every error names its path and what to write instead.
 */
import type { CustomFieldDef, CustomObjectDef } from '../data/org-data.ts'
import { SeedError } from './seed-error.ts'
import type {
  ConnectedAppSeed,
  EmulatorSeed,
  OrgSeed,
  RefreshTokenPolicy,
  UserSeed,
} from './seed-types.ts'

type Obj = Record<string, unknown>

const FIELD_TYPES = new Set([
  'string',
  'double',
  'boolean',
  'date',
  'datetime',
  'reference',
  'id',
  'picklist',
  'textarea',
  'email',
  'currency',
  'int',
  'percent',
  'phone',
  'url',
])

const API_NAME = /^[A-Za-z][A-Za-z0-9_]*__c$/

/** Field types Salesforce allows as external ids. */
const EXTERNAL_ID_TYPES = new Set(['string', 'email', 'int', 'double'])

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function obj(v: unknown, path: string): Obj {
  if (!isObj(v)) throw new SeedError(path, 'expected an object')
  return v
}

function allowKeys(o: Obj, path: string, keys: readonly string[]): void {
  for (const k of Object.keys(o)) {
    if (!keys.includes(k))
      throw new SeedError(`${path}.${k}`, `unknown property; allowed: ${keys.join(', ')}`)
  }
}

function str(o: Obj, key: string, path: string, required: true): string
function str(o: Obj, key: string, path: string, required?: false): string | undefined
function str(o: Obj, key: string, path: string, required = false): string | undefined {
  const v = o[key]
  if (v === undefined || v === null) {
    if (required) throw new SeedError(`${path}.${key}`, 'is required (a non-empty string)')
    return undefined
  }
  if (typeof v !== 'string' || v.trim() === '')
    throw new SeedError(`${path}.${key}`, 'expected a non-empty string')
  return v
}

function bool(o: Obj, key: string, path: string): boolean | undefined {
  const v = o[key]
  if (v === undefined || v === null) return undefined
  if (typeof v !== 'boolean') throw new SeedError(`${path}.${key}`, 'expected true or false')
  return v
}

function int(o: Obj, key: string, path: string, min: number, max: number): number | undefined {
  const v = o[key]
  if (v === undefined || v === null) return undefined
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new SeedError(`${path}.${key}`, `expected an integer from ${min} to ${max}`)
  }
  return v
}

function strList(o: Obj, key: string, path: string, required: boolean): string[] | undefined {
  const v = o[key]
  if (v === undefined || v === null) {
    if (required) throw new SeedError(`${path}.${key}`, 'is required (a non-empty list of strings)')
    return undefined
  }
  const list = typeof v === 'string' ? v.split(/\s+/).filter(Boolean) : v
  if (
    !Array.isArray(list) ||
    list.length === 0 ||
    list.some((s) => typeof s !== 'string' || s === '')
  ) {
    throw new SeedError(`${path}.${key}`, 'expected a non-empty list of non-empty strings')
  }
  return list as string[]
}

function policy(v: unknown, path: string): RefreshTokenPolicy | undefined {
  if (v === undefined || v === null) return undefined
  const o = obj(v, path)
  switch (o['kind']) {
    case 'until-revoked':
      return { kind: 'until-revoked' }
    case 'immediately':
      return { kind: 'immediately' }
    case 'expire-after':
    case 'expire-if-unused': {
      const seconds = int(o, 'seconds', path, 1, 10 * 365 * 86400)
      if (seconds === undefined) throw new SeedError(`${path}.seconds`, 'is required for this kind')
      return { kind: o['kind'], seconds }
    }
    default:
      throw new SeedError(
        `${path}.kind`,
        "expected 'until-revoked', 'expire-after', 'expire-if-unused' or 'immediately'",
      )
  }
}

function pem(v: string, path: string): string {
  if (!/-----BEGIN (CERTIFICATE|PUBLIC KEY)-----/.test(v)) {
    throw new SeedError(
      path,
      'expected a PEM X.509 certificate or public key (-----BEGIN CERTIFICATE-----)',
    )
  }
  return v
}

/**
 * Validates a user definition (seed entry or run-time `addUser`).
 *
 * @throws {SeedError} naming the path of the first problem.
 */
export function validateUserSeed(v: unknown, path: string): UserSeed {
  const o = obj(v, path)
  allowKeys(o, path, ['username', 'password', 'name', 'email', 'profile', 'active'])
  const out: UserSeed = { username: str(o, 'username', path, true) }
  if (!/^[^\s@]+@[^\s@]+$/.test(out.username)) {
    throw new SeedError(
      `${path}.username`,
      'expected an e-mail-shaped username such as admin@acme.example',
    )
  }
  const password = str(o, 'password', path)
  if (password !== undefined) out.password = password
  const name = str(o, 'name', path)
  if (name !== undefined) out.name = name
  const email = str(o, 'email', path)
  if (email !== undefined) out.email = email
  const profile = str(o, 'profile', path)
  if (profile !== undefined) out.profile = profile
  const active = bool(o, 'active', path)
  if (active !== undefined) out.active = active
  return out
}

/**
 * Validates a connected-app definition (seed entry or run-time `addConnectedApp`). `readFile`
 * resolves `certificateFile` (seed files only).
 *
 * @throws {SeedError} naming the path of the first problem.
 */
export function validateConnectedAppSeed(
  v: unknown,
  path: string,
  readFile?: (file: string) => string,
): ConnectedAppSeed {
  const o = obj(v, path)
  allowKeys(o, path, [
    'name',
    'consumerKey',
    'consumerSecret',
    'callbackUrls',
    'scopes',
    'pkceRequired',
    'requireSecret',
    'requireSecretForRefresh',
    'refreshTokenPolicy',
    'rotation',
    'certificate',
    'certificateFile',
    'adminPreAuthorized',
    'clientCredentialsUser',
    'deviceFlow',
  ])
  const callbackUrls = strList(o, 'callbackUrls', path, true) ?? []
  const out: ConnectedAppSeed = { name: str(o, 'name', path, true), callbackUrls }
  const set = <K extends keyof ConnectedAppSeed>(
    k: K,
    value: ConnectedAppSeed[K] | undefined,
  ): void => {
    if (value !== undefined) out[k] = value
  }
  set('consumerKey', str(o, 'consumerKey', path))
  set('consumerSecret', str(o, 'consumerSecret', path))
  set('scopes', strList(o, 'scopes', path, false))
  set('pkceRequired', bool(o, 'pkceRequired', path))
  set('requireSecret', bool(o, 'requireSecret', path))
  set('requireSecretForRefresh', bool(o, 'requireSecretForRefresh', path))
  set('refreshTokenPolicy', policy(o['refreshTokenPolicy'], `${path}.refreshTokenPolicy`))
  set('rotation', bool(o, 'rotation', path))
  set('adminPreAuthorized', bool(o, 'adminPreAuthorized', path))
  set('clientCredentialsUser', str(o, 'clientCredentialsUser', path))
  set('deviceFlow', bool(o, 'deviceFlow', path))
  const certificate = str(o, 'certificate', path)
  const certificateFile = str(o, 'certificateFile', path)
  if (certificate !== undefined && certificateFile !== undefined) {
    throw new SeedError(
      `${path}.certificateFile`,
      'give either certificate or certificateFile, not both',
    )
  }
  if (certificate !== undefined) out.certificate = pem(certificate, `${path}.certificate`)
  if (certificateFile !== undefined) {
    if (readFile === undefined) {
      throw new SeedError(
        `${path}.certificateFile`,
        'only allowed in seed files; pass certificate (the PEM text) instead',
      )
    }
    let text: string
    try {
      text = readFile(certificateFile)
    } catch {
      throw new SeedError(`${path}.certificateFile`, `cannot read ${certificateFile}`)
    }
    out.certificate = pem(text, `${path}.certificateFile`)
  }
  return out
}

/**
 * Validates a custom field definition (seed entry or run-time `addCustomField`).
 *
 * @throws {SeedError} naming the path of the first problem.
 */
export function validateCustomField(v: unknown, path: string): CustomFieldDef {
  const fo = obj(v, path)
  allowKeys(fo, path, [
    'name',
    'type',
    'label',
    'length',
    'externalId',
    'unique',
    'referenceTo',
    'required',
    'picklistValues',
  ])
  const name = str(fo, 'name', path, true)
  if (!API_NAME.test(name)) {
    throw new SeedError(
      `${path}.name`,
      'expected a custom field API name ending in __c, e.g. External_Id__c',
    )
  }
  const type = str(fo, 'type', path, true)
  if (!FIELD_TYPES.has(type))
    throw new SeedError(`${path}.type`, `expected one of ${[...FIELD_TYPES].join(', ')}`)
  const field: CustomFieldDef = { name, type: type as CustomFieldDef['type'] }
  const set = <K extends keyof CustomFieldDef>(
    k: K,
    value: CustomFieldDef[K] | undefined,
  ): void => {
    if (value !== undefined) field[k] = value
  }
  set('label', str(fo, 'label', path))
  set('length', int(fo, 'length', path, 1, 131_072))
  set('externalId', bool(fo, 'externalId', path))
  set('unique', bool(fo, 'unique', path))
  set('required', bool(fo, 'required', path))
  set('referenceTo', str(fo, 'referenceTo', path))
  set('picklistValues', strList(fo, 'picklistValues', path, false))
  if (field.type === 'reference' && field.referenceTo === undefined)
    throw new SeedError(
      `${path}.referenceTo`,
      'is required for a reference field (an sObject name)',
    )
  if (field.type !== 'reference' && field.referenceTo !== undefined)
    throw new SeedError(`${path}.referenceTo`, 'only a reference field may have referenceTo')
  if (field.type !== 'picklist' && field.picklistValues !== undefined)
    throw new SeedError(`${path}.picklistValues`, 'only a picklist field may have picklistValues')
  if (field.externalId === true && !EXTERNAL_ID_TYPES.has(field.type)) {
    throw new SeedError(
      `${path}.externalId`,
      `only ${[...EXTERNAL_ID_TYPES].join(', ')} fields can be external ids`,
    )
  }
  return field
}

/**
 * Validates a custom object definition (seed entry or run-time `addCustomObject`).
 *
 * @throws {SeedError} naming the path of the first problem.
 */
export function validateCustomObject(v: unknown, path: string): CustomObjectDef {
  const o = obj(v, path)
  allowKeys(o, path, ['name', 'label', 'fields'])
  const name = str(o, 'name', path, true)
  if (!API_NAME.test(name)) {
    throw new SeedError(
      `${path}.name`,
      'expected a custom object API name ending in __c, e.g. Invoice__c',
    )
  }
  const fieldsRaw = o['fields'] ?? []
  if (!Array.isArray(fieldsRaw)) throw new SeedError(`${path}.fields`, 'expected a list')
  const fields = fieldsRaw.map((f, i) => validateCustomField(f, `${path}.fields[${i}]`))
  const names = new Set<string>()
  for (const [i, f] of fields.entries()) {
    if (names.has(f.name.toLowerCase()))
      throw new SeedError(`${path}.fields[${i}].name`, `duplicate field name ${f.name}`)
    names.add(f.name.toLowerCase())
  }
  const out: CustomObjectDef = { name, fields }
  const label = str(o, 'label', path)
  if (label !== undefined) out.label = label
  return out
}

function customFields(v: unknown, path: string): Record<string, CustomFieldDef[]> | undefined {
  if (v === undefined || v === null) return undefined
  const o = obj(v, path)
  const out: Record<string, CustomFieldDef[]> = {}
  for (const [type, list] of Object.entries(o)) {
    if (!Array.isArray(list)) throw new SeedError(`${path}.${type}`, 'expected a list of fields')
    out[type] = list.map((f, i) => validateCustomField(f, `${path}.${type}[${i}]`))
  }
  return out
}

function records(v: unknown, path: string): Record<string, Record<string, unknown>[]> | undefined {
  if (v === undefined || v === null) return undefined
  const o = obj(v, path)
  const out: Record<string, Record<string, unknown>[]> = {}
  for (const [type, list] of Object.entries(o)) {
    if (!Array.isArray(list) || list.some((r) => !isObj(r))) {
      throw new SeedError(`${path}.${type}`, 'expected a list of records (objects of field values)')
    }
    out[type] = list as Record<string, unknown>[]
  }
  return out
}

function org(v: unknown, path: string, readFile?: (file: string) => string): OrgSeed {
  const o = obj(v, path)
  allowKeys(o, path, [
    'name',
    'port',
    'lightning',
    'separateLoginOrigin',
    'sessionTimeoutSeconds',
    'isSandbox',
    'dailyApiLimit',
    'deviceFlowIntervalSeconds',
    'queryBatchSize',
    'bulkUploadMaxBytes',
    'bulkQueryPageSize',
    'users',
    'connectedApps',
    'customObjects',
    'customFields',
    'records',
  ])
  const out: OrgSeed = { name: str(o, 'name', path, true) }
  const set = <K extends keyof OrgSeed>(k: K, value: OrgSeed[K] | undefined): void => {
    if (value !== undefined) out[k] = value
  }
  set('port', int(o, 'port', path, 0, 65535))
  set('lightning', bool(o, 'lightning', path))
  set('separateLoginOrigin', bool(o, 'separateLoginOrigin', path))
  set('sessionTimeoutSeconds', int(o, 'sessionTimeoutSeconds', path, 1, 86400 * 7))
  set('isSandbox', bool(o, 'isSandbox', path))
  set('dailyApiLimit', int(o, 'dailyApiLimit', path, 1, 1e9))
  set('deviceFlowIntervalSeconds', int(o, 'deviceFlowIntervalSeconds', path, 0, 3600))
  set('queryBatchSize', int(o, 'queryBatchSize', path, 1, 2000))
  set('bulkUploadMaxBytes', int(o, 'bulkUploadMaxBytes', path, 1, 150 * 1024 * 1024))
  set('bulkQueryPageSize', int(o, 'bulkQueryPageSize', path, 1, 1_000_000))
  const list = (key: string): unknown[] | undefined => {
    const l = o[key]
    if (l === undefined || l === null) return undefined
    if (!Array.isArray(l)) throw new SeedError(`${path}.${key}`, 'expected a list')
    return l as unknown[]
  }
  set(
    'users',
    list('users')?.map((u, i) => validateUserSeed(u, `${path}.users[${i}]`)),
  )
  set(
    'connectedApps',
    list('connectedApps')?.map((a, i) =>
      validateConnectedAppSeed(a, `${path}.connectedApps[${i}]`, readFile),
    ),
  )
  set(
    'customObjects',
    list('customObjects')?.map((c, i) => validateCustomObject(c, `${path}.customObjects[${i}]`)),
  )
  set('customFields', customFields(o['customFields'], `${path}.customFields`))
  set('records', records(o['records'], `${path}.records`))
  const usernames = new Set<string>()
  for (const [i, u] of (out.users ?? []).entries()) {
    const key = u.username.toLowerCase()
    if (usernames.has(key))
      throw new SeedError(`${path}.users[${i}].username`, `duplicate username ${u.username}`)
    usernames.add(key)
  }
  const appNames = new Set<string>()
  for (const [i, a] of (out.connectedApps ?? []).entries()) {
    if (appNames.has(a.name))
      throw new SeedError(`${path}.connectedApps[${i}].name`, `duplicate app name ${a.name}`)
    appNames.add(a.name)
    if (
      a.clientCredentialsUser !== undefined &&
      !usernames.has(a.clientCredentialsUser.toLowerCase())
    ) {
      throw new SeedError(
        `${path}.connectedApps[${i}].clientCredentialsUser`,
        `no user ${a.clientCredentialsUser} in this org; add it to users or remove clientCredentialsUser`,
      )
    }
  }
  return out
}

/**
 * Validates a seed and returns it typed. `readFile` resolves `certificateFile` entries (seed files
 * only).
 *
 * @throws {SeedError} naming the path of the first problem.
 */
export function validateSeed(raw: unknown, readFile?: (file: string) => string): EmulatorSeed {
  if (raw === undefined || raw === null) return {}
  const o = obj(raw, 'seed')
  allowKeys(o, 'seed', ['orgs', 'maxBodyBytes'])
  const out: EmulatorSeed = {}
  const maxBodyBytes = int(o, 'maxBodyBytes', 'seed', 1024, 1024 * 1024 * 1024)
  if (maxBodyBytes !== undefined) out.maxBodyBytes = maxBodyBytes
  if (o['orgs'] !== undefined && o['orgs'] !== null) {
    if (!Array.isArray(o['orgs'])) throw new SeedError('seed.orgs', 'expected a list of orgs')
    out.orgs = o['orgs'].map((x, i) => org(x, `seed.orgs[${i}]`, readFile))
    const names = new Set<string>()
    const usernames = new Set<string>()
    const keys = new Set<string>()
    for (const [i, x] of out.orgs.entries()) {
      if (names.has(x.name))
        throw new SeedError(`seed.orgs[${i}].name`, `duplicate org name ${x.name}`)
      names.add(x.name)
      for (const u of x.users ?? []) {
        const k = u.username.toLowerCase()
        if (usernames.has(k)) {
          throw new SeedError(
            `seed.orgs[${i}].users`,
            `username ${u.username} is used in two orgs; usernames are global`,
          )
        }
        usernames.add(k)
      }
      for (const a of x.connectedApps ?? []) {
        if (a.consumerKey === undefined) continue
        if (keys.has(a.consumerKey)) {
          throw new SeedError(
            `seed.orgs[${i}].connectedApps`,
            `consumer key of ${a.name} is used twice`,
          )
        }
        keys.add(a.consumerKey)
      }
    }
  }
  return out
}
