/**
 * sObject definitions: the standard objects the emulator knows (Account, Contact, Opportunity,
 * Case, User, Organization) and custom objects declared in the org options. Lookups by name are
 * case-insensitive and answer the canonical definition.
 *
 * @see https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/
 */

import { KEY_PREFIXES } from './ids.ts'

/** Salesforce describe field types used by the emulator. */
export type FieldType =
  | 'id'
  | 'string'
  | 'textarea'
  | 'picklist'
  | 'email'
  | 'phone'
  | 'url'
  | 'reference'
  | 'boolean'
  | 'double'
  | 'currency'
  | 'percent'
  | 'int'
  | 'date'
  | 'datetime'

/** One field of an sObject. */
export interface FieldDef {
  readonly name: string
  readonly label: string
  readonly type: FieldType
  /** Maximum length for text types (0 for others; 18 for ids and references). */
  readonly length: number
  readonly nillable: boolean
  readonly createable: boolean
  readonly updateable: boolean
  /** Must be given on create (and may not be set to null on update). */
  readonly required: boolean
  readonly externalId: boolean
  /** No two live records may hold the same value (`DUPLICATE_VALUE`). */
  readonly unique: boolean
  /** Object names a reference field points to. */
  readonly referenceTo: readonly string[]
  /** Name of the parent relationship for reference fields (`Account`, `Owner`, `Foo__r`). */
  readonly relationshipName: string | null
  /** Name of the child relationship on the parent, when not the default (`ChildAccounts`). */
  readonly childRelationshipName?: string
  /** Value used on create when the body has none. */
  readonly defaultValue?: unknown
  readonly picklistValues?: readonly string[]
}

/** One sObject type. */
export interface SObjectDef {
  readonly name: string
  readonly label: string
  readonly labelPlural: string
  readonly keyPrefix: string
  readonly custom: boolean
  readonly createable: boolean
  readonly updateable: boolean
  readonly deletable: boolean
  readonly queryable: boolean
  /** Fields in describe order. */
  readonly fields: readonly FieldDef[]
}

type FieldSpec = Partial<Omit<FieldDef, 'name' | 'type'>> & { name: string; type: FieldType }

const TEXT_LENGTH: Partial<Record<FieldType, number>> = {
  id: 18,
  reference: 18,
  string: 255,
  textarea: 32_000,
  picklist: 255,
  email: 80,
  phone: 40,
  url: 255,
}

/**
 * The label Salesforce shows for a field named `name` when none is set: custom fields keep their
 * words (`External_Id__c` → "External Id"); standard names split at capitals with `Id` written
 * "ID" (`CreatedById` → "Created By ID").
 */
function defaultLabel(name: string): string {
  if (name.endsWith('__c')) return name.slice(0, -3).replace(/_/g, ' ')
  return name.replace(/([a-z0-9])([A-Z])/g, '$1 $2').replace(/\bId$/, 'ID')
}

/** Builds a {@link FieldDef} with Salesforce's defaults for the type. */
export function field(spec: FieldSpec): FieldDef {
  const label = spec.label ?? defaultLabel(spec.name)
  const createable = spec.createable ?? true
  return Object.freeze({
    ...spec,
    label,
    length: spec.length ?? TEXT_LENGTH[spec.type] ?? 0,
    nillable: spec.nillable ?? (spec.type === 'boolean' ? false : !spec.required),
    createable,
    updateable: spec.updateable ?? createable,
    required: spec.required ?? false,
    externalId: spec.externalId ?? false,
    unique: spec.unique ?? false,
    referenceTo: Object.freeze([...(spec.referenceTo ?? [])]),
    relationshipName: spec.relationshipName ?? null,
  })
}

const ro = { createable: false, updateable: false } as const

function systemFields(opts: { label: string; owner: boolean; isDeleted: boolean }): FieldDef[] {
  const out = [field({ name: 'Id', type: 'id', ...ro, nillable: false, label: `${opts.label} ID` })]
  if (opts.isDeleted)
    out.push(field({ name: 'IsDeleted', type: 'boolean', ...ro, label: 'Deleted' }))
  if (opts.owner) {
    out.push(
      field({
        name: 'OwnerId',
        type: 'reference',
        referenceTo: ['User'],
        relationshipName: 'Owner',
        label: 'Owner ID',
        nillable: false,
      }),
    )
  }
  out.push(
    field({ name: 'CreatedDate', type: 'datetime', ...ro, nillable: false }),
    field({
      name: 'CreatedById',
      type: 'reference',
      ...ro,
      referenceTo: ['User'],
      relationshipName: 'CreatedBy',
      nillable: false,
    }),
    field({ name: 'LastModifiedDate', type: 'datetime', ...ro, nillable: false }),
    field({
      name: 'LastModifiedById',
      type: 'reference',
      ...ro,
      referenceTo: ['User'],
      relationshipName: 'LastModifiedBy',
      nillable: false,
    }),
    field({
      name: 'SystemModstamp',
      type: 'datetime',
      ...ro,
      nillable: false,
      label: 'System Modstamp',
    }),
  )
  return out
}

function sobject(
  def: Omit<SObjectDef, 'fields' | 'createable' | 'updateable' | 'deletable' | 'queryable'> &
    Partial<Pick<SObjectDef, 'createable' | 'updateable' | 'deletable' | 'queryable'>>,
  fields: FieldDef[],
): SObjectDef {
  return Object.freeze({
    createable: true,
    updateable: true,
    deletable: true,
    queryable: true,
    ...def,
    fields: Object.freeze(fields),
  })
}

function prefix(name: string): string {
  const p = KEY_PREFIXES[name]
  if (p === undefined) throw new Error(`no key prefix for ${name}`)
  return p
}

const STAGES = [
  'Prospecting',
  'Qualification',
  'Needs Analysis',
  'Proposal/Price Quote',
  'Negotiation/Review',
  'Closed Won',
  'Closed Lost',
]

/** The standard objects, frozen. */
export const STANDARD_OBJECTS: readonly SObjectDef[] = Object.freeze([
  sobject(
    {
      name: 'Account',
      label: 'Account',
      labelPlural: 'Accounts',
      keyPrefix: prefix('Account'),
      custom: false,
    },
    [
      ...systemFields({ label: 'Account', owner: true, isDeleted: true }),
      field({ name: 'Name', type: 'string', label: 'Account Name', required: true }),
      field({
        name: 'Type',
        type: 'picklist',
        label: 'Account Type',
        picklistValues: ['Prospect', 'Customer - Direct', 'Customer - Channel', 'Partner', 'Other'],
      }),
      field({
        name: 'ParentId',
        type: 'reference',
        referenceTo: ['Account'],
        relationshipName: 'Parent',
        childRelationshipName: 'ChildAccounts',
        label: 'Parent Account ID',
      }),
      field({
        name: 'Industry',
        type: 'picklist',
        picklistValues: ['Agriculture', 'Banking', 'Technology', 'Energy', 'Other'],
      }),
      field({ name: 'Phone', type: 'phone', label: 'Account Phone' }),
      field({ name: 'Website', type: 'url' }),
      field({ name: 'AnnualRevenue', type: 'currency', label: 'Annual Revenue' }),
      field({ name: 'NumberOfEmployees', type: 'int', label: 'Employees' }),
      field({ name: 'BillingCity', type: 'string', label: 'Billing City', length: 40 }),
      field({ name: 'BillingCountry', type: 'string', label: 'Billing Country', length: 80 }),
      field({ name: 'AccountNumber', type: 'string', label: 'Account Number', length: 40 }),
      field({ name: 'Description', type: 'textarea', label: 'Account Description' }),
    ],
  ),
  sobject(
    {
      name: 'Contact',
      label: 'Contact',
      labelPlural: 'Contacts',
      keyPrefix: prefix('Contact'),
      custom: false,
    },
    [
      ...systemFields({ label: 'Contact', owner: true, isDeleted: true }),
      field({
        name: 'AccountId',
        type: 'reference',
        referenceTo: ['Account'],
        relationshipName: 'Account',
      }),
      field({ name: 'FirstName', type: 'string', label: 'First Name', length: 40 }),
      field({ name: 'LastName', type: 'string', label: 'Last Name', length: 80, required: true }),
      field({ name: 'Name', type: 'string', label: 'Full Name', length: 121, ...ro }),
      field({ name: 'Title', type: 'string', length: 128 }),
      field({ name: 'Email', type: 'email' }),
      field({ name: 'Phone', type: 'phone', label: 'Business Phone' }),
      field({ name: 'Birthdate', type: 'date' }),
      field({ name: 'Description', type: 'textarea', label: 'Contact Description' }),
    ],
  ),
  sobject(
    {
      name: 'Opportunity',
      label: 'Opportunity',
      labelPlural: 'Opportunities',
      keyPrefix: prefix('Opportunity'),
      custom: false,
    },
    [
      ...systemFields({ label: 'Opportunity', owner: true, isDeleted: true }),
      field({
        name: 'AccountId',
        type: 'reference',
        referenceTo: ['Account'],
        relationshipName: 'Account',
      }),
      field({ name: 'Name', type: 'string', label: 'Name', length: 120, required: true }),
      field({
        name: 'StageName',
        type: 'picklist',
        label: 'Stage',
        length: 40,
        required: true,
        picklistValues: STAGES,
      }),
      field({ name: 'CloseDate', type: 'date', label: 'Close Date', required: true }),
      field({ name: 'Amount', type: 'currency' }),
      field({ name: 'Probability', type: 'percent', label: 'Probability (%)' }),
      field({ name: 'IsClosed', type: 'boolean', label: 'Closed', ...ro }),
      field({ name: 'IsWon', type: 'boolean', label: 'Won', ...ro }),
      field({ name: 'Description', type: 'textarea' }),
    ],
  ),
  sobject(
    { name: 'Case', label: 'Case', labelPlural: 'Cases', keyPrefix: prefix('Case'), custom: false },
    [
      ...systemFields({ label: 'Case', owner: true, isDeleted: true }),
      field({ name: 'CaseNumber', type: 'string', label: 'Case Number', length: 30, ...ro }),
      field({
        name: 'AccountId',
        type: 'reference',
        referenceTo: ['Account'],
        relationshipName: 'Account',
      }),
      field({
        name: 'ContactId',
        type: 'reference',
        referenceTo: ['Contact'],
        relationshipName: 'Contact',
      }),
      field({ name: 'Subject', type: 'string' }),
      field({
        name: 'Status',
        type: 'picklist',
        length: 40,
        defaultValue: 'New',
        picklistValues: ['New', 'Working', 'Escalated', 'Closed'],
      }),
      field({
        name: 'Priority',
        type: 'picklist',
        length: 40,
        defaultValue: 'Medium',
        picklistValues: ['High', 'Medium', 'Low'],
      }),
      field({
        name: 'Origin',
        type: 'picklist',
        label: 'Case Origin',
        length: 40,
        picklistValues: ['Phone', 'Email', 'Web'],
      }),
      field({ name: 'IsClosed', type: 'boolean', label: 'Closed', ...ro }),
      field({ name: 'Description', type: 'textarea' }),
    ],
  ),
  sobject(
    {
      name: 'User',
      label: 'User',
      labelPlural: 'Users',
      keyPrefix: prefix('User'),
      custom: false,
      createable: false,
      deletable: false,
    },
    [
      ...systemFields({ label: 'User', owner: false, isDeleted: false }),
      field({ name: 'Username', type: 'string', length: 80, required: true, ...ro }),
      field({ name: 'FirstName', type: 'string', label: 'First Name', length: 40 }),
      field({ name: 'LastName', type: 'string', label: 'Last Name', length: 80 }),
      field({ name: 'Name', type: 'string', label: 'Full Name', length: 121, ...ro }),
      field({ name: 'Alias', type: 'string', length: 8 }),
      field({ name: 'Email', type: 'email', length: 128 }),
      field({ name: 'Title', type: 'string', length: 80 }),
      field({ name: 'IsActive', type: 'boolean', label: 'Active' }),
      field({
        name: 'ProfileId',
        type: 'reference',
        referenceTo: ['Profile'],
        relationshipName: 'Profile',
        ...ro,
      }),
    ],
  ),
  sobject(
    {
      name: 'Profile',
      label: 'Profile',
      labelPlural: 'Profiles',
      keyPrefix: prefix('Profile'),
      custom: false,
      createable: false,
      updateable: false,
      deletable: false,
    },
    [
      ...systemFields({ label: 'Profile', owner: false, isDeleted: false }),
      field({ name: 'Name', type: 'string', label: 'Name', length: 255, ...ro }),
      field({ name: 'UserType', type: 'picklist', label: 'User Type', length: 40, ...ro }),
    ],
  ),
  sobject(
    {
      name: 'Organization',
      label: 'Organization',
      labelPlural: 'Organizations',
      keyPrefix: prefix('Organization'),
      custom: false,
      createable: false,
      updateable: false,
      deletable: false,
    },
    [
      ...systemFields({ label: 'Organization', owner: false, isDeleted: false }),
      field({ name: 'Name', type: 'string', length: 80, ...ro }),
      field({ name: 'InstanceName', type: 'string', label: 'Instance Name', length: 5, ...ro }),
      field({ name: 'IsSandbox', type: 'boolean', label: 'Is Sandbox', ...ro }),
      field({
        name: 'TrialExpirationDate',
        type: 'datetime',
        label: 'Trial Expiration Date',
        ...ro,
      }),
      field({
        name: 'NamespacePrefix',
        type: 'string',
        label: 'Namespace Prefix',
        length: 15,
        ...ro,
      }),
      field({ name: 'OrganizationType', type: 'picklist', label: 'Edition', length: 40, ...ro }),
      field({ name: 'Country', type: 'string', length: 80, ...ro }),
    ],
  ),
])

/** A custom field (`Foo__c`) on a custom or standard object (`CustomFieldDef` in `index.ts`). */
export interface CustomFieldInput {
  /** API name ending in `__c`, e.g. `'External_Id__c'`. */
  name: string
  type: FieldType
  /** Describe label; derived from the name when omitted (`External_Id__c` → "External Id"). */
  label?: string
  /** Maximum length of a text field; the type's default (255 for `string`) when omitted. */
  length?: number
  /** Usable as an upsert key (`PATCH sobjects/<T>/<field>/<value>`). */
  externalId?: boolean
  /** No two live records may share a value: a second one is 400 `DUPLICATE_VALUE`. */
  unique?: boolean
  /** The sObject a `reference` field points to. */
  referenceTo?: string
  required?: boolean
  /** Values of a `picklist` field. */
  picklistValues?: string[]
}

/** Input shape of a custom object (same as `CustomObjectDef` in `index.ts`). */
export interface CustomObjectInput {
  name: string
  label?: string
  fields: CustomFieldInput[]
}

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'
const API_NAME_RE = /^[A-Za-z][A-Za-z0-9_]*__c$/

/**
 * Builds the definition of a custom field of `objectName`. Throws a plain `Error` naming the fix
 * for invalid configuration.
 */
export function customField(objectName: string, f: CustomFieldInput): FieldDef {
  if (!API_NAME_RE.test(f.name)) {
    throw new Error(
      `invalid custom field name '${objectName}.${f.name}': use an API name ending in '__c'`,
    )
  }
  if (f.type === 'reference' && f.referenceTo === undefined) {
    throw new Error(`custom field '${objectName}.${f.name}' is a reference: set referenceTo`)
  }
  return field({
    name: f.name,
    type: f.type,
    required: f.required ?? false,
    externalId: f.externalId ?? false,
    unique: f.unique ?? false,
    ...(f.label !== undefined ? { label: f.label } : {}),
    ...(f.length !== undefined ? { length: f.length } : {}),
    ...(f.picklistValues !== undefined ? { picklistValues: [...f.picklistValues] } : {}),
    ...(f.type === 'reference' && f.referenceTo !== undefined
      ? { referenceTo: [f.referenceTo], relationshipName: f.name.replace(/__c$/, '__r') }
      : {}),
    ...(f.type === 'id' ? ro : {}),
  })
}

/**
 * Builds the definition of a custom object; the n-th custom object gets key prefix `a0<n>`.
 * Throws a plain `Error` naming the fix for invalid configuration.
 */
export function customObject(input: CustomObjectInput, index: number): SObjectDef {
  if (!API_NAME_RE.test(input.name)) {
    throw new Error(`invalid custom object name '${input.name}': use an API name ending in '__c'`)
  }
  const c = BASE62[index]
  if (c === undefined) throw new Error('at most 62 custom objects are supported')
  const label = input.label ?? input.name.slice(0, -3).replace(/_/g, ' ')
  const fields = [
    ...systemFields({ label: 'Record', owner: true, isDeleted: true }),
    field({ name: 'Name', type: 'string', label: `${label} Name`, length: 80 }),
    ...input.fields.map((f) => customField(input.name, f)),
  ]
  return sobject(
    { name: input.name, label, labelPlural: label + 's', keyPrefix: 'a0' + c, custom: true },
    fields,
  )
}

/** A parent-to-child relationship: `Account.Contacts` is Contact's `AccountId`. */
export interface ChildRelationship {
  /** The name subqueries use (`Contacts`, `ChildAccounts`, `Invoices__r`). */
  readonly name: string
  readonly child: SObjectDef
  /** The child's reference field that points to the parent. */
  readonly field: FieldDef
}

/** The set of sObject types of one org, with case-insensitive lookups. */
export class Schema {
  readonly #byName = new Map<string, SObjectDef>()
  readonly #byPrefix = new Map<string, SObjectDef>()
  readonly #fields = new Map<SObjectDef, Map<string, FieldDef>>()
  #customCount = 0

  /**
   * Standard objects plus the given custom objects, then custom fields added to any object
   * (standard ones included), keyed by object name.
   */
  constructor(
    custom: readonly CustomObjectInput[] = [],
    customFields: Readonly<Record<string, readonly CustomFieldInput[]>> = {},
  ) {
    for (const def of STANDARD_OBJECTS) this.#put(def)
    for (const c of custom) this.#addObject(c)
    for (const [objectName, fields] of Object.entries(customFields)) {
      for (const f of fields) this.#addField(objectName, f)
    }
    for (const def of this.#byName.values()) {
      for (const f of def.fields) this.#checkReference(def, f)
    }
  }

  /**
   * Adds a custom object at run time.
   *
   * @throws {Error} naming the fix for a bad name, a duplicate or an unknown reference target.
   */
  addCustomObject(input: CustomObjectInput): SObjectDef {
    const def = customObject(input, this.#customCount)
    for (const f of def.fields) this.#checkReference(def, f)
    return this.#addObject(input, def)
  }

  /**
   * Adds a custom field to an object (standard or custom) at run time.
   *
   * @throws {Error} naming the fix for an unknown object, a bad or duplicate name, or an unknown
   *   reference target.
   */
  addCustomField(objectName: string, input: CustomFieldInput): FieldDef {
    const f = customField(objectName, input)
    const def = this.object(objectName)
    if (def !== undefined) this.#checkReference(def, f)
    return this.#addField(objectName, input, f)
  }

  #addObject(input: CustomObjectInput, built?: SObjectDef): SObjectDef {
    const def = built ?? customObject(input, this.#customCount)
    if (this.#byName.has(def.name.toLowerCase()))
      throw new Error(`duplicate sObject '${def.name}': choose another API name`)
    this.#customCount++
    this.#put(def)
    return def
  }

  #addField(objectName: string, input: CustomFieldInput, built?: FieldDef): FieldDef {
    const def = this.object(objectName)
    if (def === undefined) {
      throw new Error(`unknown sObject '${objectName}' for custom field '${input.name}'`)
    }
    const f = built ?? customField(def.name, input)
    if (this.field(def, f.name) !== undefined) {
      throw new Error(`duplicate field '${def.name}.${f.name}': choose another API name`)
    }
    const next = sobject(def, [...def.fields, f])
    this.#fields.delete(def)
    this.#put(next)
    return f
  }

  #put(def: SObjectDef): void {
    this.#byName.set(def.name.toLowerCase(), def)
    this.#byPrefix.set(def.keyPrefix, def)
    this.#fields.set(def, new Map(def.fields.map((f) => [f.name.toLowerCase(), f])))
  }

  #checkReference(def: SObjectDef, f: FieldDef): void {
    for (const target of f.referenceTo) {
      const known = this.#byName.has(target.toLowerCase())
      if (!known && target.toLowerCase() !== def.name.toLowerCase()) {
        throw new Error(`field '${def.name}.${f.name}' refers to unknown sObject '${target}'`)
      }
    }
  }

  /** A schema of exactly `objects` and no standard objects (the Tooling API's own objects). */
  static of(objects: readonly SObjectDef[]): Schema {
    const schema = new Schema()
    schema.#byName.clear()
    schema.#byPrefix.clear()
    schema.#fields.clear()
    for (const def of objects) schema.#put(def)
    return schema
  }

  /** Every sObject, standard first, in declaration order. */
  list(): SObjectDef[] {
    return [...this.#byName.values()]
  }

  /** The sObject named `name` (any case), or undefined. */
  object(name: string): SObjectDef | undefined {
    return this.#byName.get(name.toLowerCase())
  }

  /** The sObject whose key prefix starts `id`, or undefined. */
  objectForId(id: string): SObjectDef | undefined {
    return this.#byPrefix.get(id.slice(0, 3))
  }

  /** The field `name` (any case) of `def`, or undefined. */
  field(def: SObjectDef, name: string): FieldDef | undefined {
    return this.#fields.get(def)?.get(name.toLowerCase())
  }

  /**
   * The child relationships of `def`: one per writable reference field of any object pointing to
   * it, named like Salesforce (the child's plural label; `__r` after it for custom fields).
   */
  childRelationships(def: SObjectDef): ChildRelationship[] {
    const out: ChildRelationship[] = []
    for (const child of this.#byName.values()) {
      for (const f of child.fields) {
        if (!f.referenceTo.includes(def.name) || !f.createable) continue
        const plural = child.labelPlural.replace(/\W/g, '_')
        const name =
          f.childRelationshipName ?? (f.name.endsWith('__c') ? `${plural}__r` : child.labelPlural)
        out.push({ name, child, field: f })
      }
    }
    return out
  }

  /** The child relationship of `def` named `name` (any case), or undefined. */
  childRelationship(def: SObjectDef, name: string): ChildRelationship | undefined {
    const lower = name.toLowerCase()
    return this.childRelationships(def).find((r) => r.name.toLowerCase() === lower)
  }

  /** The reference field of `def` whose relationship name is `name` (any case), or undefined. */
  relationship(def: SObjectDef, name: string): FieldDef | undefined {
    const lower = name.toLowerCase()
    return def.fields.find((f) => f.relationshipName?.toLowerCase() === lower)
  }
}
