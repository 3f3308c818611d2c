/**
 * A minimal Tooling API: `GET /tooling/query?q=<SOQL>` over `EntityDefinition` (one row per
 * sObject), `CustomField` (one row per custom field) and `ApexClass` (none: the emulator runs no
 * Apex), with the SOQL engine of the data API, in one page (`done: true`). Any other Tooling
 * resource is 404 `NOT_FOUND` naming what is served.
 *
 * @see https://developer.salesforce.com/docs/atlas.en-us.api_tooling.meta/api_tooling/intro_rest_resources.htm
 */

import type { OrgContext, RequestContext } from '../data/context.ts'
import { DataApiError, malformedQuery } from '../data/errors.ts'
import { BATCH_SIZE_MAX, QueryLocatorStore } from '../data/query-locators.ts'
import { RecordStore } from '../data/records.ts'
import { field, Schema, type SObjectDef } from '../data/schema.ts'
import { evaluateSoql } from '../data/soql/evaluate.ts'
import { parseSoql } from '../data/soql/parser.ts'
import type { Route, RouteRequest, RouteResponse } from '../http/route-types.ts'

const ro = { createable: false, updateable: false } as const

function toolingObject(
  name: string,
  keyPrefix: string,
  fields: Parameters<typeof field>[0][],
): SObjectDef {
  return Object.freeze({
    name,
    label: name.replace(/([a-z])([A-Z])/g, '$1 $2'),
    labelPlural: `${name.replace(/([a-z])([A-Z])/g, '$1 $2')}s`,
    keyPrefix,
    custom: false,
    createable: false,
    updateable: false,
    deletable: false,
    queryable: true,
    fields: [
      field({ name: 'Id', type: 'id', ...ro }),
      ...fields.map((f) => field({ ...ro, ...f })),
    ],
  })
}

const TOOLING_OBJECTS: readonly SObjectDef[] = [
  toolingObject('EntityDefinition', '4ie', [
    { name: 'DurableId', type: 'string' },
    { name: 'QualifiedApiName', type: 'string' },
    { name: 'DeveloperName', type: 'string' },
    { name: 'Label', type: 'string' },
    { name: 'PluralLabel', type: 'string' },
    { name: 'KeyPrefix', type: 'string' },
    { name: 'NamespacePrefix', type: 'string' },
    { name: 'IsCustomizable', type: 'boolean' },
    { name: 'IsQueryable', type: 'boolean' },
  ]),
  toolingObject('CustomField', '00N', [
    { name: 'DeveloperName', type: 'string' },
    { name: 'TableEnumOrId', type: 'string' },
    { name: 'FullName', type: 'string' },
    { name: 'NamespacePrefix', type: 'string' },
    { name: 'Description', type: 'string' },
  ]),
  toolingObject('ApexClass', '01p', [
    { name: 'Name', type: 'string' },
    { name: 'NamespacePrefix', type: 'string' },
    { name: 'ApiVersion', type: 'double' },
    { name: 'Status', type: 'string' },
    { name: 'IsValid', type: 'boolean' },
    { name: 'Body', type: 'textarea' },
  ]),
]

/** The Tooling objects' rows, built from the org's schema at query time. */
function toolingContext(ctx: RequestContext): OrgContext {
  const store = new RecordStore()
  const add = (type: string, keyPrefix: string, fields: Record<string, unknown>): string => {
    const id = store.nextId(keyPrefix)
    store.add({ type, id, fields: { Id: id, ...fields }, deleted: false })
    return id
  }
  for (const def of ctx.org.schema.list()) {
    add('EntityDefinition', '4ie', {
      DurableId: def.name,
      QualifiedApiName: def.name,
      DeveloperName: def.name.replace(/__c$/, ''),
      Label: def.label,
      PluralLabel: def.labelPlural,
      KeyPrefix: def.keyPrefix,
      NamespacePrefix: null,
      IsCustomizable: true,
      IsQueryable: def.queryable,
    })
    for (const f of def.fields.filter((x) => x.name.endsWith('__c'))) {
      add('CustomField', '00N', {
        DeveloperName: f.name.slice(0, -3),
        TableEnumOrId: def.name,
        FullName: `${def.name}.${f.name}`,
        NamespacePrefix: null,
        Description: null,
      })
    }
  }
  return {
    schema: Schema.of(TOOLING_OBJECTS),
    store,
    locators: new QueryLocatorStore(ctx.org.now),
    now: ctx.org.now,
    defaultBatchSize: BATCH_SIZE_MAX,
    instanceUrl: ctx.org.instanceUrl,
  }
}

function toolingQuery(ctx: RequestContext, req: RouteRequest): RouteResponse {
  const soql = req.query.get('q') ?? ''
  if (soql.trim() === '') throw malformedQuery('A query string has to be specified')
  const tctx: RequestContext = { ...ctx, org: toolingContext(ctx) }
  const result = evaluateSoql(tctx, parseSoql(soql), false)
  const records = result.rows.map((row) => toolingRecord(row))
  return {
    status: 200,
    body: {
      size: result.totalSize,
      totalSize: result.totalSize,
      done: true,
      queryLocator: null,
      entityTypeName: entityOf(soql),
      records,
    },
  }
}

/** Tooling records live under `/tooling/sobjects/`. */
function toolingRecord(row: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(row)) {
    if (key === 'attributes' && typeof value === 'object' && value !== null) {
      const a = value as { type?: unknown; url?: unknown }
      out[key] =
        typeof a.url === 'string'
          ? { ...a, url: a.url.replace('/sobjects/', '/tooling/sobjects/') }
          : a
    } else out[key] = value
  }
  return out
}

function entityOf(soql: string): string | null {
  return /\bFROM\s+([A-Za-z_][A-Za-z0-9_]*)/i.exec(soql)?.[1] ?? null
}

function notServed(_ctx: RequestContext, req: RouteRequest): RouteResponse {
  throw new DataApiError(
    404,
    'NOT_FOUND',
    `The Tooling API resource /tooling/${req.segments.slice(1).join('/')} is not emulated; /tooling/query is (EntityDefinition, CustomField, ApexClass)`,
  )
}

const ANY = { GET: notServed, POST: notServed, PATCH: notServed, DELETE: notServed }

/** Routes of the Tooling API: `query`, and a clear 404 for the rest. */
export const TOOLING_ROUTES: readonly Route[] = [
  { pattern: ['tooling', 'query'], methods: { GET: toolingQuery } },
  {
    pattern: ['tooling'],
    methods: {
      ...ANY,
      GET: (ctx) => ({
        status: 200,
        body: { query: `/services/data/v${ctx.version}/tooling/query` },
      }),
    },
  },
  ...[1, 2, 3, 4, 5].map((n) => ({
    pattern: ['tooling', ...Array.from({ length: n }, (_, i) => `:p${i}`)],
    methods: ANY,
  })),
]
