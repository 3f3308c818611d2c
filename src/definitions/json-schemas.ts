/**
 * JSON Schemas (draft 2020-12) of the config entries, generated from the zod schemas with
 * `z.toJSONSchema()`: the admin API's OpenAPI document describes its bodies with them, so the API
 * and the config file accept the same fields. Secret fields are write-only strings.
 */
import { z } from 'zod'
import { authProviderSchema, externalCredentialSchema, namedCredentialSchema } from './schema.ts'

/** A JSON Schema object. */
export type JsonSchema = Record<string, unknown>

function toJson(schema: z.ZodType): JsonSchema {
  return z.toJSONSchema(schema, {
    io: 'input',
    unrepresentable: 'any',
    override: (ctx) => {
      // `secretSchema` is a custom type (a Secret once references are resolved): on the wire it
      // is a string, a literal secret or a ${env:…}/${file:…} reference, never returned.
      if (ctx.zodSchema._zod.def.type === 'custom') {
        ctx.jsonSchema.type = 'string'
        ctx.jsonSchema.writeOnly = true
      }
    },
  }) as JsonSchema
}

let cached:
  | Readonly<Record<'AuthProvider' | 'ExternalCredential' | 'NamedCredential', JsonSchema>>
  | undefined

/**
 * The JSON Schemas of one AuthProvider, ExternalCredential and NamedCredential entry.
 *
 * @example
 * definitionJsonSchemas().AuthProvider.properties.type // { type: 'string', enum: ['salesforce', 'oidc', 'oauth2'] }
 */
export function definitionJsonSchemas(): Readonly<
  Record<'AuthProvider' | 'ExternalCredential' | 'NamedCredential', JsonSchema>
> {
  cached ??= Object.freeze({
    AuthProvider: toJson(authProviderSchema),
    ExternalCredential: toJson(externalCredentialSchema),
    NamedCredential: toJson(namedCredentialSchema),
  })
  return cached
}
