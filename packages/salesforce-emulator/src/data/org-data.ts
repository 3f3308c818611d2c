/**
 * The data of one emulated org: its schema, in-memory record store and query cursors. Pure and
 * synchronous; every API family (REST, Bulk, search) reads and writes records through the
 * {@link OrgContext} this holds.
 *
 * @see https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/
 */

import type { OrgContext, RequestContext } from './context.ts'
import { describeField, sObjectSummary } from './describe.ts'
import { notFound } from './errors.ts'
import { makeId, toId18 } from './ids.ts'
import { BATCH_SIZE_MAX, QueryLocatorStore } from './query-locators.ts'
import { createRecord } from './record-writes.ts'
import { RecordStore } from './records.ts'
import { Schema, type CustomFieldInput, type FieldType } from './schema.ts'

/** A user of the emulated org; becomes a `User` record. */
export interface DataUser {
  id: string
  username: string
  name: string
  email: string
  profileName?: string
}

/** Field types a custom field may have (Salesforce describe `type` names). */
export type CustomFieldType = FieldType

/** A custom field (`Foo__c`) on a custom or standard object. */
export type CustomFieldDef = CustomFieldInput

/** A custom object (`Foo__c`) the org should know, with its custom fields. */
export interface CustomObjectDef {
  /** API name ending in `__c`, e.g. `'Invoice__c'`. */
  name: string
  label?: string
  fields: CustomFieldDef[]
}

/** Options of {@link OrgData}. */
export interface OrgDataOptions {
  orgId: string
  orgName: string
  /** The instance origin: record URLs are relative, describe's UI templates absolute. */
  instanceUrl: string
  users: DataUser[]
  customObjects?: CustomObjectDef[]
  /** Custom fields on any object, standard ones included, by object name. */
  customFields?: Record<string, CustomFieldDef[]>
  /** Seed records by sObject type. */
  records?: Record<string, Record<string, unknown>[]>
  isSandbox?: boolean
  /** Query batch size when the request names none (Salesforce: 2000). Tests lower it to page. */
  defaultBatchSize?: number
  /** Clock for CreatedDate and friends and for query-locator expiry. Defaults to `Date.now`. */
  now?: () => number
}

/** Normalised, frozen defaults of {@link OrgDataOptions}. */
export const ORG_DATA_DEFAULTS = Object.freeze({
  defaultBatchSize: BATCH_SIZE_MAX,
  isSandbox: false,
})

function requireId(id: string, keyPrefix: string, what: string): string {
  const id18 = toId18(id)
  if (id18 === undefined || id18.slice(0, 3) !== keyPrefix) {
    throw new Error(
      `invalid ${what} '${id}': use a 15- or 18-character id starting with '${keyPrefix}' (see makeId)`,
    )
  }
  return id18
}

/**
 * The records, schema and query cursors of one emulated org.
 *
 * @example
 * const org = new OrgData({ orgId: makeId('00D', 1), orgName: 'Acme', instanceUrl: 'http://127.0.0.1:7070',
 *   users: [{ id: makeId('005', 1), username: 'a@acme.test', name: 'Ada Admin', email: 'a@acme.test' }] })
 * const id = org.insert('Account', { Name: 'Acme' })
 * org.get('Account', id) // { Id: '001…', Name: 'Acme', … }
 */
export class OrgData {
  readonly #org: OrgContext
  readonly #systemUserId: string

  /**
   * Builds an org from its users, custom objects and seed records.
   *
   * @throws {Error} for invalid options (bad ids, bad custom object names, unknown seed types).
   */
  constructor(options: OrgDataOptions) {
    const now = options.now ?? Date.now
    const batch = options.defaultBatchSize ?? ORG_DATA_DEFAULTS.defaultBatchSize
    if (!Number.isInteger(batch) || batch < 1) {
      throw new Error(
        `invalid defaultBatchSize ${batch}: use a positive integer (Salesforce uses 2000)`,
      )
    }
    this.#org = Object.freeze({
      schema: new Schema(options.customObjects ?? [], options.customFields ?? {}),
      store: new RecordStore(),
      locators: new QueryLocatorStore(now),
      now,
      defaultBatchSize: batch,
      instanceUrl: options.instanceUrl,
    })
    const firstUser = options.users[0]
    this.#systemUserId =
      firstUser === undefined ? makeId('005', 0) : requireId(firstUser.id, '005', 'user id')
    const orgId = requireId(options.orgId, '00D', 'orgId')
    this.#trustedInsert('Organization', {
      Id: orgId,
      Name: options.orgName,
      InstanceName: 'EMU1',
      IsSandbox: options.isSandbox ?? ORG_DATA_DEFAULTS.isSandbox,
      TrialExpirationDate: null,
      NamespacePrefix: null,
      OrganizationType: 'Developer Edition',
    })
    for (const user of options.users) this.addUser(user)
    for (const [type, records] of Object.entries(options.records ?? {})) {
      for (const record of records) this.insert(type, record)
    }
  }

  /**
   * Inserts a record directly, as seeding does: every known field may be set (including `Id`,
   * `CreatedDate`, `OwnerId`), values are coerced, required-field checks are skipped.
   *
   * @returns the 18-character id
   * @throws {DataApiError} for an unknown type or field, or a value of the wrong type
   */
  insert(type: string, fields: Record<string, unknown>): string {
    return this.#trustedInsert(type, fields)
  }

  /** The schema, store and cursors the API families work on. */
  get context(): OrgContext {
    return this.#org
  }

  /** A copy of the stored fields of a record (deleted ones included), or undefined. */
  get(type: string, id: string): Record<string, unknown> | undefined {
    const def = this.#org.schema.object(type)
    const id18 = toId18(id)
    const rec = id18 === undefined ? undefined : this.#org.store.byId(id18)
    return def === undefined || rec === undefined || rec.type !== def.name
      ? undefined
      : { ...rec.fields }
  }

  /**
   * Adds a custom field to an object at run time (standard objects included) and returns its
   * describe entry. Existing records read the new field as null.
   *
   * @example org.addCustomField('Account', { name: 'External_Id__c', type: 'string', externalId: true, unique: true })
   * @throws {Error} naming the fix for an unknown object, a bad or duplicate name.
   */
  addCustomField(sobject: string, def: CustomFieldDef): Record<string, unknown> {
    return describeField(this.#org.schema.addCustomField(sobject, def))
  }

  /**
   * Adds a custom object at run time and returns its describe-global summary.
   *
   * @throws {Error} naming the fix for a bad or duplicate name or an unknown reference target.
   */
  addCustomObject(def: CustomObjectDef): Record<string, unknown> {
    return sObjectSummary('61.0', this.#org.schema.addCustomObject(def))
  }

  /** The canonical field names of an sObject (any case), or undefined for an unknown one. */
  fieldNames(sobject: string): string[] | undefined {
    return this.#org.schema.object(sobject)?.fields.map((f) => f.name)
  }

  /** Adds a user as a `User` record with the user's own id. */
  addUser(user: DataUser): void {
    const id = requireId(user.id, '005', 'user id')
    const space = user.name.lastIndexOf(' ')
    this.#trustedInsert('User', {
      Id: id,
      Username: user.username,
      FirstName: space > 0 ? user.name.slice(0, space) : null,
      LastName: space > 0 ? user.name.slice(space + 1) : user.name,
      Email: user.email,
      Alias: user.username.replace(/@.*/, '').slice(0, 8),
      IsActive: true,
      ProfileId: this.#profileId(user.profileName ?? 'System Administrator'),
    })
  }

  /** The id of the `Profile` record named `name` (any case), created on first use. */
  #profileId(name: string): string {
    const wanted = name.toLowerCase()
    const found = this.#org.store
      .all('Profile')
      .find((r) => String(r.fields['Name']).toLowerCase() === wanted)
    return found?.id ?? this.#trustedInsert('Profile', { Name: name, UserType: 'Standard' })
  }

  #trustedInsert(type: string, fields: Record<string, unknown>): string {
    const def = this.#org.schema.object(type)
    if (def === undefined) throw notFound()
    const ctx: RequestContext = {
      org: this.#org,
      version: '61.0',
      userId: this.#systemUserId,
      headers: {},
    }
    return createRecord(ctx, def, fields, 'trusted').id
  }
}
