/** Minimal cookie reading and writing for the emulator's own login session cookie. */
import type { IncomingMessage, ServerResponse } from 'node:http'

/** The value of cookie `name` in the request, or undefined. */
export function readCookie(req: IncomingMessage, name: string): string | undefined {
  const header = req.headers.cookie
  if (header === undefined) return undefined
  for (const part of header.split(';')) {
    const eq = part.indexOf('=')
    if (eq < 0) continue
    if (part.slice(0, eq).trim() === name) return decodeURIComponent(part.slice(eq + 1).trim())
  }
  return undefined
}

/** Appends a `Set-Cookie` header (HttpOnly, SameSite=Lax, path `/`). */
export function setCookie(res: ServerResponse, name: string, value: string): void {
  const cookie = `${name}=${encodeURIComponent(value)}; Path=/; HttpOnly; SameSite=Lax`
  const existing = res.getHeader('set-cookie')
  const list = Array.isArray(existing) ? existing : existing === undefined ? [] : [String(existing)]
  res.setHeader('set-cookie', [...list, cookie])
}
