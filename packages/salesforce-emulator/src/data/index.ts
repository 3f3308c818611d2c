/**
 * The data half of the Salesforce org emulator: sObjects, describe, SOQL, query locators and
 * composite resources, answered from an in-memory record store. Pure and synchronous: the HTTP
 * server strips `/services/data/vNN.0`, authenticates the caller and hands the rest to
 * {@link OrgData.handle}.
 *
 * @see https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/
 */

/** One REST data request, already authenticated, with the `/services/data/vNN.0` prefix removed. */
export interface DataRequest {
  /** HTTP method, any case. */
  method: string
  /** The part after `/services/data/vNN.0`, e.g. `/sobjects/Account/001…` or `/query`. */
  path: string
  /** The decoded query string. */
  query: URLSearchParams
  /** The parsed JSON body, or undefined when the request had none. */
  body: unknown
  /** The API version of the request, e.g. `'61.0'`. */
  version: string
  /** Optional request headers (lower-case names); only `sforce-query-options` is read. */
  headers?: Record<string, string | undefined>
}

/** The answer to a {@link DataRequest}. */
export interface DataResponse {
  /** HTTP status code. */
  status: number
  /** JSON-serialisable body; undefined means no body (204). */
  body?: unknown
  /** Extra response headers, e.g. `Location`. */
  headers?: Record<string, string>
}

/** A user of the emulated org; becomes a `User` record. */
export interface DataUser {
  id: string
  username: string
  name: string
  email: string
  profileName?: string
}

/** Field types a custom object field may have (Salesforce describe `type` names). */
export type CustomFieldType =
  | 'string'
  | 'double'
  | 'boolean'
  | 'date'
  | 'datetime'
  | 'reference'
  | 'id'
  | 'picklist'
  | 'textarea'
  | 'email'
  | 'currency'
  | 'int'

/** A custom object (`Foo__c`) the org should know, with its custom fields. */
export interface CustomObjectDef {
  /** API name ending in `__c`, e.g. `'Invoice__c'`. */
  name: string
  label?: string
  fields: {
    name: string
    type: CustomFieldType
    externalId?: boolean
    referenceTo?: string
    required?: boolean
  }[]
}

/** Options of {@link OrgData}. */
export interface OrgDataOptions {
  orgId: string
  orgName: string
  /** Informational only: record URLs are relative. */
  instanceUrl: string
  users: DataUser[]
  customObjects?: CustomObjectDef[]
  /** Seed records by sObject type. */
  records?: Record<string, Record<string, unknown>[]>
  isSandbox?: boolean
  /** Query batch size when the request names none (Salesforce: 2000). Tests lower it to page. */
  defaultBatchSize?: number
  /** Clock for CreatedDate and friends and for query-locator expiry. Defaults to `Date.now`. */
  now?: () => number
}

/** Placeholder until the full implementation lands; see the complete class below. */
export class OrgData {
  readonly #records = new Map<string, Record<string, unknown>>()
  #counter = 0

  /** Builds an org from its users, custom objects and seed records. */
  constructor(options: OrgDataOptions) {
    for (const user of options.users) this.addUser(user)
  }

  /** Handles one REST data request for the acting user; never throws for bad input. */
  handle(req: DataRequest, ctx: { userId: string }): DataResponse {
    void req
    void ctx
    return { status: 404, body: [{ errorCode: 'NOT_FOUND', message: 'The requested resource does not exist' }] }
  }

  /** Inserts a record directly (no validation) and returns its 18-character id. */
  insert(type: string, fields: Record<string, unknown>): string {
    const id = makeId(KEY_PREFIXES[type] ?? 'a00', ++this.#counter)
    this.#records.set(id, { ...fields, Id: id })
    return id
  }

  /** The stored fields of a record, or undefined. */
  get(type: string, id: string): Record<string, unknown> | undefined {
    void type
    return this.#records.get(id)
  }

  /** Adds a user (a `User` record with the user's own id). */
  addUser(user: DataUser): void {
    this.#records.set(user.id, { Id: user.id, Username: user.username, Name: user.name, Email: user.email })
  }
}

import { KEY_PREFIXES, makeId } from './ids.ts'
export * from './ids.ts'
