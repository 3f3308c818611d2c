/**
 * Result rows and their two renderings: a readable table for stdout and JSON (`--json`).
 */

/**
 * `PASS`/`MISS`: a performance target was met or not (informs, never gates). `FAIL`: a
 * correctness check failed (the bench exits 1). `INFO`: no target. `SKIP`: not run here.
 */
export type Verdict = 'PASS' | 'MISS' | 'FAIL' | 'INFO' | 'SKIP'

/** One line of the results. */
export interface ResultRow {
  readonly scenario: string
  readonly metric: string
  readonly unit: string
  readonly baseline: number | null
  readonly broker: number | null
  /** broker / baseline for throughput; broker − baseline for added latency. */
  readonly ratio: number | null
  /** `ratio` for ratios, `added` for differences, `count` for exact counts. */
  readonly compare: 'ratio' | 'added' | 'count' | 'none'
  readonly target: string
  readonly verdict: Verdict
  /** Round-to-round spread of the broker side ((max − min) / median), when measured in rounds. */
  readonly spread?: number
  readonly note?: string
}

/**
 * A row for a scenario that could not run here (a tool is missing, a setup failed): no figures,
 * verdict SKIP, and the reason as its note.
 *
 * @example
 * rows.push(skippedRow('callout serve vs nginx', 'throughput', 'req/s', '≥ 0.53×', 'nginx not installed'))
 */
export function skippedRow(
  scenario: string,
  metric: string,
  unit: string,
  target: string,
  note: string,
  compare: ResultRow['compare'] = 'none',
): ResultRow {
  return {
    scenario,
    metric,
    unit,
    baseline: null,
    broker: null,
    ratio: null,
    compare,
    target,
    verdict: 'SKIP',
    note,
  }
}

function fmt(value: number | null, unit: string): string {
  if (value === null || Number.isNaN(value)) return '—'
  if (unit === 'req/s') return Math.round(value).toLocaleString('en-US')
  if (unit === 'ms') return value < 10 ? value.toFixed(3) : value.toFixed(1)
  if (unit === 'µs/req') return value.toFixed(1)
  return String(value)
}

function fmtCompare(row: ResultRow): string {
  if (row.ratio === null || Number.isNaN(row.ratio)) return '—'
  switch (row.compare) {
    case 'ratio':
      return `×${row.ratio.toFixed(3)}`
    case 'added':
      return `${row.ratio >= 0 ? '+' : ''}${row.ratio.toFixed(3)} ms`
    case 'count':
      return String(row.ratio)
    case 'none':
      return '—'
  }
}

/**
 * Renders rows as an aligned plain-text table.
 *
 * @example
 * console.log(renderTable(rows))
 */
export function renderTable(rows: readonly ResultRow[]): string {
  const header = [
    'scenario',
    'metric',
    'baseline',
    'broker',
    'ratio/added',
    'target',
    'result',
    'spread',
  ]
  const lines = rows.map((r) => [
    r.scenario,
    `${r.metric}${r.unit === '' ? '' : ` (${r.unit})`}`,
    fmt(r.baseline, r.unit),
    fmt(r.broker, r.unit),
    fmtCompare(r),
    r.target,
    r.verdict,
    r.spread === undefined || Number.isNaN(r.spread)
      ? ''
      : `±${((r.spread * 100) / 2).toFixed(1)}%`,
  ])
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)))
  const numeric = new Set([2, 3, 4])
  const row = (cells: readonly string[]): string =>
    `| ${cells.map((c, i) => (numeric.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join(' | ')} |`
  const rule = `|${widths.map((w, i) => (numeric.has(i) ? `${'-'.repeat(w + 1)}:` : '-'.repeat(w + 2))).join('|')}|`
  const notes = rows
    .filter((r) => r.note !== undefined)
    .map((r) => `- ${r.scenario} / ${r.metric}: ${r.note}`)
  return [row(header), rule, ...lines.map(row), ...(notes.length > 0 ? ['', ...notes] : [])].join(
    '\n',
  )
}
