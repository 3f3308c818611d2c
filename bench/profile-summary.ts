/**
 * Summarises a `.cpuprofile` (from `node --cpu-prof`): self time per function and inclusive
 * time of the repository's own functions, as percentages of the samples.
 *
 *   node --import tsx bench/profile-summary.ts /tmp/callout-prof/<file>.cpuprofile [top]
 */
import { readFileSync } from 'node:fs'

interface ProfileNode {
  readonly id: number
  readonly callFrame: {
    readonly functionName: string
    readonly url: string
    readonly lineNumber: number
  }
  readonly children?: readonly number[]
}

interface Profile {
  readonly nodes: readonly ProfileNode[]
  readonly samples: readonly number[]
}

const [file, topArg] = process.argv.slice(2)
if (file === undefined) throw new Error('usage: profile-summary.ts <file.cpuprofile> [top]')
const top = Number(topArg ?? '30')
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile
const byId = new Map(profile.nodes.map((n) => [n.id, n]))
const parent = new Map<number, number>()
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
const hits = new Map<number, number>()
for (const s of profile.samples) hits.set(s, (hits.get(s) ?? 0) + 1)
const total = profile.samples.length

const label = (n: ProfileNode): string => {
  const url = n.callFrame.url.replace(/^file:\/\//, '').replace(/^.*\/node_modules\//, '~/')
  const short = url.replace(/^\/work\/main\//, '')
  return `${n.callFrame.functionName || '(anonymous)'} ${short}:${n.callFrame.lineNumber + 1}`
}

const self = new Map<string, number>()
const inclusive = new Map<string, number>()
for (const [id, count] of hits) {
  const node = byId.get(id)!
  self.set(label(node), (self.get(label(node)) ?? 0) + count)
  const seen = new Set<string>()
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
    const l = label(byId.get(cur)!)
    if (seen.has(l)) continue
    seen.add(l)
    inclusive.set(l, (inclusive.get(l) ?? 0) + count)
  }
}
const pct = (n: number): string => `${((n / total) * 100).toFixed(1).padStart(5)}%`
const print = (title: string, entries: [string, number][]): void => {
  console.log(`\n${title}`)
  for (const [name, count] of entries.slice(0, top)) console.log(`${pct(count)}  ${name}`)
}
print(
  `self time (top ${top} of ${total} samples)`,
  [...self].sort((a, b) => b[1] - a[1]),
)
print(
  'inclusive time, repository code (src/, bench/)',
  [...inclusive].filter(([l]) => / (src|bench)\//.test(l)).sort((a, b) => b[1] - a[1]),
)
