/**
 * Fastify's schema compilers, loaded on first use. By default every Fastify instance loads its
 * validator compiler (Ajv and ajv-formats) and its serializer compiler (fast-json-stringify, with
 * its own Ajv) when it is created, whether or not a route declares a schema. `callout serve`'s
 * routes declare none, so these modules would only take memory in the proxy (about 2 MB of heap,
 * 4 MB of its RSS at rest). With this option they load the first time a route with a schema is
 * compiled, from Fastify's own dependencies, and then behave as Fastify's defaults do.
 */
import { createRequire } from 'node:module'
import type { FastifyServerOptions } from 'fastify'

/** Loads a package as Fastify itself resolves it (its dependencies need not be hoisted). */
function fastifyDependency<T>(name: string): T {
  const fastifyEntry = createRequire(import.meta.url).resolve('fastify')
  return createRequire(fastifyEntry)(name) as T
}

type Factory = (...args: unknown[]) => unknown

/** A compiler factory that loads `name` (a selector: `() => factory`) on its first call. */
function lazyFactory(name: string): Factory {
  let factory: Factory | undefined
  return (...args) => {
    factory ??= fastifyDependency<() => Factory>(name)()
    return factory(...args)
  }
}

/**
 * The `schemaController` option that defers Fastify's default compilers
 * (`@fastify/ajv-compiler`, `@fastify/fast-json-stringify-compiler`) to their first use.
 *
 * Fastify treats a validator given this way as custom: a `headers` schema is passed to Ajv as
 * written (its property names are not lower-cased first), so a route that validates headers must
 * spell them in lower case.
 *
 * @example
 * const app = Fastify({ schemaController: lazySchemaCompilers() })
 */
export function lazySchemaCompilers(): NonNullable<FastifyServerOptions['schemaController']> {
  return {
    compilersFactory: {
      buildValidator: lazyFactory('@fastify/ajv-compiler') as never,
      buildSerializer: lazyFactory('@fastify/fast-json-stringify-compiler') as never,
    },
  }
}
