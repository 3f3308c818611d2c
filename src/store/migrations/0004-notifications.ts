/**
 * Migration 0004: change notifications (PostgreSQL only; nothing on SQLite). Triggers send a
 * notification on the channel `callout.<schema>` (63 bytes at most) whenever definitions change,
 * a credential is written, a client key is revoked, changed or deleted, or a lease is released, so
 * that every Callout instance listening on the store drops what it cached at once. Payloads name
 * rows (never a secret). Frozen in time: never edit it once released; add a new migration instead.
 */
import { PostgresAdapter, sql } from 'kysely'
import type { Kysely } from 'kysely'

const CHANNEL = `left('callout.' || TG_TABLE_SCHEMA, 63)`

/** Replaces a trigger (idempotent: a store rebuilt by hand may still hold one). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function trigger(db: Kysely<any>, table: string, definition: string): Promise<void> {
  await sql.raw(`drop trigger if exists callout_notify on ${table}`).execute(db)
  await sql.raw(`create trigger callout_notify ${definition.replace('%', table)}`).execute(db)
}

/** Creates the notifying functions and their triggers in the current schema. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  if (!(db.getExecutor().adapter instanceof PostgresAdapter)) return
  await sql
    .raw(
      `create or replace function callout_notify_definitions() returns trigger language plpgsql as $$
begin
  perform pg_notify(${CHANNEL}, '{"t":"definitions"}');
  return null;
end $$`,
    )
    .execute(db)
  await sql
    .raw(
      `create or replace function callout_notify_credential() returns trigger language plpgsql as $$
declare r record;
begin
  if TG_OP = 'DELETE' then r := OLD; else r := NEW; end if;
  perform pg_notify(${CHANNEL}, json_build_object('t', 'credential', 'ec', r.external_credential,
    'p', r.principal, 'u', r.user_id, 'v', case when TG_OP = 'DELETE' then 0 else r.version end,
    's', case when TG_OP = 'DELETE' then 'deleted' else r.status end)::text);
  return null;
end $$`,
    )
    .execute(db)
  // Client keys and leases: one notification naming the row that changed.
  for (const [name, event, column] of [
    ['callout_notify_client_key', 'client-key', 'id'],
    ['callout_notify_lease', 'lease', 'name'],
  ] as const) {
    await sql
      .raw(
        `create or replace function ${name}() returns trigger language plpgsql as $$
begin
  perform pg_notify(${CHANNEL}, json_build_object('t', '${event}', '${column}', OLD.${column})::text);
  return null;
end $$`,
      )
      .execute(db)
  }
  for (const table of ['auth_providers', 'external_credentials', 'named_credentials']) {
    await trigger(
      db,
      table,
      'after insert or update or delete or truncate on % ' +
        'for each statement execute function callout_notify_definitions()',
    )
  }
  await trigger(
    db,
    'credentials',
    'after insert or update or delete on % for each row execute function callout_notify_credential()',
  )
  await trigger(
    db,
    'client_keys',
    'after update or delete on % for each row execute function callout_notify_client_key()',
  )
  await trigger(
    db,
    'leases',
    'after delete on % for each row execute function callout_notify_lease()',
  )
}
