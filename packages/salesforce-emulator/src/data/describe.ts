/**
 * Describe builders: describe global (`GET /sobjects`), sObject basic information
 * (`GET /sobjects/{T}`) and the full describe (`GET /sobjects/{T}/describe`).
 *
 * @see https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/dome_describeGlobal.htm
 * @see https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/dome_sobject_describe.htm
 */

import type { RequestContext } from './context.ts'
import type { StoredRecord } from './records.ts'
import type { FieldDef, Schema, SObjectDef } from './schema.ts'
import { recordAttributes } from './serialize.ts'

function urls(version: string, def: SObjectDef): Record<string, string> {
  const base = `/services/data/v${version}/sobjects/${def.name}`
  return { sobject: base, describe: `${base}/describe`, rowTemplate: `${base}/{ID}` }
}

/** The describe-global summary of one sObject (also `objectDescribe` of basic info). */
export function sObjectSummary(version: string, def: SObjectDef): Record<string, unknown> {
  return {
    activateable: false,
    associateEntityType: null,
    associateParentEntity: null,
    createable: def.createable,
    custom: def.custom,
    customSetting: false,
    deepCloneable: false,
    deletable: def.deletable,
    deprecatedAndHidden: false,
    feedEnabled: !def.custom,
    hasSubtypes: false,
    idEnabled: true,
    isInterface: false,
    isSubtype: false,
    keyPrefix: def.keyPrefix,
    label: def.label,
    labelPlural: def.labelPlural,
    layoutable: true,
    mergeable: def.name === 'Account' || def.name === 'Contact',
    mruEnabled: true,
    name: def.name,
    queryable: def.queryable,
    replicateable: true,
    retrieveable: true,
    searchable: true,
    triggerable: true,
    undeletable: def.deletable,
    updateable: def.updateable,
    urls: urls(version, def),
  }
}

/** `GET /sobjects`: `{ encoding, maxBatchSize, sobjects }`. */
export function describeGlobal(version: string, schema: Schema): Record<string, unknown> {
  return {
    encoding: 'UTF-8',
    maxBatchSize: 200,
    sobjects: schema.list().map((def) => sObjectSummary(version, def)),
  }
}

/** `GET /sobjects/{T}`: `{ objectDescribe, recentItems }`, recent items newest first. */
export function sObjectBasicInfo(
  version: string,
  def: SObjectDef,
  recent: readonly StoredRecord[],
): Record<string, unknown> {
  return {
    objectDescribe: sObjectSummary(version, def),
    recentItems: recent.map((r) => ({
      attributes: recordAttributes(version, r),
      Id: r.id,
      ...('Name' in r.fields ? { Name: r.fields['Name'] } : {}),
    })),
  }
}

const SOAP_TYPES: Record<string, string> = {
  id: 'tns:ID',
  reference: 'tns:ID',
  boolean: 'xsd:boolean',
  double: 'xsd:double',
  currency: 'xsd:double',
  percent: 'xsd:double',
  int: 'xsd:int',
  date: 'xsd:date',
  datetime: 'xsd:dateTime',
}

/** The describe entry of one field. */
export function describeField(f: FieldDef): Record<string, unknown> {
  const numeric = ['double', 'currency', 'percent'].includes(f.type)
  return {
    aggregatable: f.type !== 'textarea',
    autoNumber: f.name === 'CaseNumber',
    byteLength: f.length * 3,
    calculated: false,
    caseSensitive: false,
    createable: f.createable,
    custom: f.name.endsWith('__c'),
    defaultValue: f.defaultValue ?? null,
    defaultedOnCreate: f.defaultValue !== undefined || !f.createable || f.name === 'OwnerId',
    digits: f.type === 'int' ? 9 : 0,
    externalId: f.externalId,
    filterable: f.type !== 'textarea',
    groupable: !numeric && f.type !== 'textarea',
    idLookup: f.name === 'Id' || f.externalId,
    label: f.label,
    length: f.length,
    name: f.name,
    nameField: f.name === 'Name',
    nillable: f.nillable,
    picklistValues: (f.picklistValues ?? []).map((v) => ({
      active: true,
      defaultValue: f.defaultValue === v,
      label: v,
      validFor: null,
      value: v,
    })),
    precision: numeric ? 18 : 0,
    referenceTo: [...f.referenceTo],
    relationshipName: f.relationshipName,
    scale: numeric ? 2 : 0,
    soapType: SOAP_TYPES[f.type] ?? 'xsd:string',
    sortable: f.type !== 'textarea',
    type: f.type,
    unique: f.unique,
    updateable: f.updateable,
  }
}

function childRelationships(schema: Schema, def: SObjectDef): Record<string, unknown>[] {
  return schema.childRelationships(def).map((r) => ({
    cascadeDelete: false,
    childSObject: r.child.name,
    deprecatedAndHidden: false,
    field: r.field.name,
    junctionIdListNames: [],
    junctionReferenceTo: [],
    relationshipName: r.name,
    restrictedDelete: false,
  }))
}

/** `GET /sobjects/{T}/describe`: the DescribeSObjectResult. */
export function describeSObject(ctx: RequestContext, def: SObjectDef): Record<string, unknown> {
  const { version } = ctx
  const ui = ctx.org.instanceUrl
  const base = `/services/data/v${version}/sobjects/${def.name}`
  return {
    actionOverrides: [],
    ...sObjectSummary(version, def),
    childRelationships: childRelationships(ctx.org.schema, def),
    compactLayoutable: true,
    defaultImplementation: null,
    extendedBy: null,
    extendsInterfaces: null,
    fields: def.fields.map(describeField),
    implementedBy: null,
    implementsInterfaces: null,
    listviewable: null,
    lookupLayoutable: null,
    namedLayoutInfos: [],
    networkScopeFieldName: null,
    recordTypeInfos: [],
    searchLayoutable: true,
    sobjectDescribeOption: 'FULL',
    supportedScopes: [{ label: 'All ' + def.labelPlural.toLowerCase(), name: 'everything' }],
    urls: {
      ...urls(version, def),
      compactLayouts: `${base}/describe/compactLayouts`,
      approvalLayouts: `${base}/describe/approvalLayouts`,
      uiDetailTemplate: `${ui}/{ID}`,
      uiEditTemplate: `${ui}/{ID}/e`,
      uiNewRecord: `${ui}/${def.keyPrefix}/e`,
      layouts: `${base}/describe/layouts`,
    },
  }
}
