/**
 * The ordered list of migrations. Append only; each entry's `version` is its position (1-based).
 */
import type { Kysely } from 'kysely'
import { up as initial } from './0001-initial.ts'
import { up as integrity } from './0002-integrity.ts'
import { up as clientKeys } from './0003-client-keys.ts'
import { up as notifications } from './0004-notifications.ts'
import { up as clientKeyIntegrity } from './0005-client-key-integrity.ts'
import { up as admin } from './0006-admin.ts'
import { up as connectLinks } from './0007-connect-links.ts'
import { up as rateLimits } from './0008-rate-limits.ts'

/** One schema migration. */
export interface Migration {
  readonly version: number
  readonly name: string
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly up: (db: Kysely<any>) => Promise<void>
}

/** Every migration, oldest first. */
export const MIGRATIONS: readonly Migration[] = Object.freeze([
  { version: 1, name: '0001-initial', up: initial },
  { version: 2, name: '0002-integrity', up: integrity },
  { version: 3, name: '0003-client-keys', up: clientKeys },
  { version: 4, name: '0004-notifications', up: notifications },
  { version: 5, name: '0005-client-key-integrity', up: clientKeyIntegrity },
  { version: 6, name: '0006-admin', up: admin },
  { version: 7, name: '0007-connect-links', up: connectLinks },
  { version: 8, name: '0008-rate-limits', up: rateLimits },
])

/** The schema version this code writes. */
export const LATEST_SCHEMA_VERSION = MIGRATIONS.length
