import { describe, expect, it } from 'vitest'
import { TypedEvents } from './events.ts'

interface Events {
  a: { n: number }
  b: { s: string }
}

describe('TypedEvents', () => {
  it('delivers to listeners of the event only, and unsubscribes', () => {
    const events = new TypedEvents<Events>()
    const seen: string[] = []
    const off = events.on('a', (e) => seen.push(`a${e.n}`))
    events.on('b', (e) => seen.push(`b${e.s}`))
    events.emit('a', { n: 1 })
    events.emit('b', { s: 'x' })
    off()
    events.emit('a', { n: 2 })
    expect(seen).toEqual(['a1', 'bx'])
  })

  it('isolates a throwing listener', () => {
    const errors: unknown[] = []
    const events = new TypedEvents<Events>((e) => errors.push(e))
    const seen: number[] = []
    events.on('a', () => {
      throw new Error('listener bug')
    })
    events.on('a', (e) => seen.push(e.n))
    events.emit('a', { n: 7 })
    expect(seen).toEqual([7])
    expect(errors).toHaveLength(1)
  })
})
