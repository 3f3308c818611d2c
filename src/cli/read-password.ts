/**
 * Reads a password for `callout admin create` and `callout admin password`: from standard input
 * (`--password-stdin`, for scripts) or, on a terminal, from a prompt that does not echo.
 */
import { createInterface } from 'node:readline'
import { Writable } from 'node:stream'
import { CalloutError } from '../errors.ts'
import type { CliIo } from './io.ts'

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  let text = ''
  for await (const chunk of stream) text += String(chunk)
  return text
}

function promptHidden(io: CliIo, question: string): Promise<string> {
  io.stderr.write(question)
  const silent = new Writable({ write: (_chunk, _encoding, done) => done() })
  const rl = createInterface({ input: io.stdin, output: silent, terminal: true })
  return new Promise((resolve) => {
    rl.question('', (answer) => {
      rl.close()
      io.stderr.write('\n')
      resolve(answer)
    })
  })
}

/**
 * The password: all of stdin without its final line break (`fromStdin`), or typed twice at a
 * prompt on a terminal. Neither is ever echoed or logged.
 *
 * @example
 * const password = await readPassword(io, { fromStdin: true }) // echo "$PW" | callout admin create …
 */
export async function readPassword(io: CliIo, options: { fromStdin?: boolean }): Promise<string> {
  if (options.fromStdin === true) return (await readAll(io.stdin)).replace(/\r?\n$/, '')
  if (!io.interactive) {
    throw new CalloutError(
      'INVALID_ARGUMENT',
      'No terminal to ask for the password on: pass it on standard input with --password-stdin.',
    )
  }
  const first = await promptHidden(io, 'Password (12 characters or more): ')
  const second = await promptHidden(io, 'Repeat the password: ')
  if (first !== second) {
    throw new CalloutError('INVALID_ARGUMENT', 'The two passwords differ; nothing was changed.')
  }
  return first
}
