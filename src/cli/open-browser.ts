import { spawn } from 'node:child_process'

/**
 * Tries to open `url` in the user's browser (`xdg-open`, `open`, `start`). Returns false when no
 * opener could be started; never throws. The URL is passed as one argument, never through a shell.
 */
export function openBrowser(url: string): boolean {
  const command =
    process.platform === 'darwin'
      ? 'open'
      : process.platform === 'win32'
        ? 'explorer.exe'
        : 'xdg-open'
  try {
    const child = spawn(command, [url], { stdio: 'ignore', detached: true })
    child.on('error', () => {})
    child.unref()
    return true
  } catch {
    return false
  }
}
