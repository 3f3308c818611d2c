/**
 * Run-time Setup of an org: connected apps, users, custom objects and custom fields created after
 * start, with the same validation as the seed. Both the programmatic API (`EmulatedOrg.add…`) and
 * the `/_emulator` HTTP routes go through these functions, so both answer the same errors.
 */
import type { CustomFieldDef, CustomObjectDef } from '../data/org-data.ts'
import type { OrgState } from './org-state.ts'
import type { ConnectedApp, OrgUser } from './principals.ts'
import { SeedError } from '../seed/seed-error.ts'
import {
  validateConnectedAppSeed,
  validateCustomField,
  validateCustomObject,
  validateUserSeed,
} from '../seed/validate-seed.ts'

function duplicate(path: string, problem: string): SeedError {
  return new SeedError(path, problem, 'DUPLICATE_DEFINITION')
}

/**
 * Validates and adds a connected app. `path` names the definition in errors (`body`,
 * `connectedApp`).
 *
 * @throws {SeedError} `INVALID_SEED` for a malformed definition or an unknown run-as user,
 *   `DUPLICATE_DEFINITION` for a name or consumer key the org already has.
 */
export function createConnectedApp(org: OrgState, raw: unknown, path: string): ConnectedApp {
  const seed = validateConnectedAppSeed(raw, path)
  if (org.appByName(seed.name) !== undefined) {
    throw duplicate(
      `${path}.name`,
      `org ${org.name} already has a connected app named ${seed.name}`,
    )
  }
  if (seed.consumerKey !== undefined && org.appByKey(seed.consumerKey) !== undefined) {
    throw duplicate(`${path}.consumerKey`, `another connected app of org ${org.name} uses this key`)
  }
  if (
    seed.clientCredentialsUser !== undefined &&
    org.userByUsername(seed.clientCredentialsUser) === undefined
  ) {
    throw new SeedError(
      `${path}.clientCredentialsUser`,
      `no user ${seed.clientCredentialsUser} in org ${org.name}; create the user first or remove clientCredentialsUser`,
    )
  }
  return org.addConnectedApp(seed)
}

/**
 * Validates and adds a user (also a `User` record).
 *
 * @throws {SeedError} `INVALID_SEED` for a malformed definition, `DUPLICATE_DEFINITION` for a
 *   username the org already has.
 */
export function createUser(org: OrgState, raw: unknown, path: string): OrgUser {
  const seed = validateUserSeed(raw, path)
  if (org.userByUsername(seed.username) !== undefined) {
    throw duplicate(`${path}.username`, `org ${org.name} already has a user ${seed.username}`)
  }
  return org.addUser(seed)
}

/**
 * Validates and adds a custom field to an sObject, standard or custom; returns its describe entry.
 *
 * @throws {SeedError} `INVALID_SEED` for a malformed definition, an unknown sObject or an unknown
 *   reference target, `DUPLICATE_DEFINITION` for a field the object already has.
 */
export function createCustomField(
  org: OrgState,
  sobject: string,
  raw: unknown,
  path: string,
): Record<string, unknown> {
  const def: CustomFieldDef = validateCustomField(raw, path)
  const existing = org.data.fieldNames(sobject)
  if (existing === undefined) {
    throw new SeedError(path, `org ${org.name} has no sObject ${sobject}`)
  }
  if (existing.some((n) => n.toLowerCase() === def.name.toLowerCase())) {
    throw duplicate(`${path}.name`, `${sobject} already has a field ${def.name}`)
  }
  if (def.referenceTo !== undefined && org.data.fieldNames(def.referenceTo) === undefined) {
    throw new SeedError(`${path}.referenceTo`, `org ${org.name} has no sObject ${def.referenceTo}`)
  }
  return org.data.addCustomField(sobject, def)
}

/**
 * Validates and adds a custom object; returns its describe-global summary.
 *
 * @throws {SeedError} `INVALID_SEED` for a malformed definition or an unknown reference target,
 *   `DUPLICATE_DEFINITION` for an object the org already has.
 */
export function createCustomObject(
  org: OrgState,
  raw: unknown,
  path: string,
): Record<string, unknown> {
  const def: CustomObjectDef = validateCustomObject(raw, path)
  if (org.data.fieldNames(def.name) !== undefined) {
    throw duplicate(`${path}.name`, `org ${org.name} already has an sObject ${def.name}`)
  }
  for (const [i, f] of def.fields.entries()) {
    const target = f.referenceTo
    if (
      target !== undefined &&
      target.toLowerCase() !== def.name.toLowerCase() &&
      org.data.fieldNames(target) === undefined
    ) {
      throw new SeedError(
        `${path}.fields[${i}].referenceTo`,
        `org ${org.name} has no sObject ${target}`,
      )
    }
  }
  try {
    return org.data.addCustomObject(def)
  } catch (err) {
    // Only the 62-object key-prefix limit is left to fail here.
    throw new SeedError(path, err instanceof Error ? err.message : String(err))
  }
}
