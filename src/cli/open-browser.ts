import { spawn } from 'node:child_process'

/** Variables a browser opener needs: where to find programs, the desktop session, the locale. */
const PASSED =
  /^(PATH|HOME|USER|LOGNAME|SHELL|DISPLAY|WAYLAND_DISPLAY|XAUTHORITY|DBUS_SESSION_BUS_ADDRESS|BROWSER|LANG|LANGUAGE|TMPDIR|TERM|XDG_[A-Z_]+|LC_[A-Z_]+|SYSTEMROOT|WINDIR|APPDATA|LOCALAPPDATA|USERPROFILE|COMSPEC|PATHEXT)$/

/**
 * The environment the browser opener gets: only {@link PASSED} variables, never
 * `CALLOUT_MASTER_KEY` or the `${env:…}` secrets a config refers to.
 *
 * @example
 * openerEnv({ PATH: '/usr/bin', CALLOUT_MASTER_KEY: 'k' }) // { PATH: '/usr/bin' }
 */
export function openerEnv(
  env: Readonly<Record<string, string | undefined>>,
): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(env)) {
    if (value !== undefined && PASSED.test(name)) out[name] = value
  }
  return out
}

/**
 * Tries to open `url` in the user's browser (`xdg-open`, `open`, `start`) with a minimal
 * environment ({@link openerEnv}). Returns false when no opener could be started; never throws.
 * The URL is passed as one argument, never through a shell.
 */
export function openBrowser(
  url: string,
  env: Readonly<Record<string, string | undefined>> = process.env,
): boolean {
  const command =
    process.platform === 'darwin'
      ? 'open'
      : process.platform === 'win32'
        ? 'explorer.exe'
        : 'xdg-open'
  try {
    const child = spawn(command, [url], {
      stdio: 'ignore',
      detached: true,
      env: openerEnv(env),
    })
    child.on('error', () => {})
    child.unref()
    return true
  } catch {
    return false
  }
}
