/**
 * Which Callout home a command uses, found the way git finds its folder: `--home`, else
 * `CALLOUT_HOME`, else the nearest `.callout/` folder from the current folder up, else
 * `./.callout` (where `callout init` creates one).
 */
import { statSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import type { CliIo } from './io.ts'

/** The home folder's name. */
export const HOME_DIR = '.callout'

/** Where a home came from, for messages. */
export type HomeSource = 'flag' | 'env' | 'found' | 'default'

/**
 * The home for a command run in `cwd`, and where it came from.
 *
 * @example
 * findHome('/srv/app/src', {}) // { home: '/srv/app/.callout', source: 'found' } when /srv/app/.callout exists
 */
export function findHome(
  cwd: string,
  env: Readonly<Record<string, string | undefined>>,
  flag?: string,
): { home: string; source: HomeSource } {
  if (flag !== undefined && flag.trim() !== '') return { home: resolve(cwd, flag), source: 'flag' }
  const fromEnv = env.CALLOUT_HOME
  if (fromEnv !== undefined && fromEnv.trim() !== '') {
    return { home: resolve(cwd, fromEnv), source: 'env' }
  }
  for (let dir = resolve(cwd); ; dir = dirname(dir)) {
    const candidate = join(dir, HOME_DIR)
    if (isDirectory(candidate)) return { home: candidate, source: 'found' }
    if (dirname(dir) === dir) break
  }
  return { home: resolve(cwd, HOME_DIR), source: 'default' }
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory()
  } catch {
    return false
  }
}

/**
 * `io` with `CALLOUT_HOME` set to the home {@link findHome} picks, so every command and the
 * broker it opens use the same home.
 *
 * @example
 * const commandIo = homeIo(io, opts.home)
 */
export function homeIo(io: CliIo, flag?: string): CliIo {
  const { home } = findHome(io.cwd, io.env, flag)
  return { ...io, env: { ...io.env, CALLOUT_HOME: home } }
}
