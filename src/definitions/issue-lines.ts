/**
 * Where a configuration issue is in the file: the line of the key (or list item) its path names,
 * found in the YAML or JSON text with the `yaml` parser's node ranges.
 */
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument } from 'yaml'
import type { Node } from 'yaml'
import type { ConfigIssue, ConfigPath } from './issues.ts'

/**
 * A function from a config path to the 1-based line of its key in `text` — or of the nearest
 * ancestor that exists, for a key the file lacks. Undefined when the text cannot be parsed.
 *
 * @example
 * lineLocator('a:\n  b: 1\n', 'yaml')(['a', 'b']) // 2
 */
export function lineLocator(
  text: string,
  format: 'yaml' | 'json',
): (path: ConfigPath) => number | undefined {
  const counter = new LineCounter()
  let doc: ReturnType<typeof parseDocument>
  try {
    doc = parseDocument(text, {
      schema: format === 'json' ? 'json' : 'core',
      lineCounter: counter,
      uniqueKeys: false,
    })
  } catch {
    return () => undefined
  }
  const lineOf = (node: unknown): number | undefined => {
    const range = (node as Partial<Node> | null | undefined)?.range
    return range === undefined || range === null ? undefined : counter.linePos(range[0]).line
  }
  return (path) => {
    let node: unknown = doc.contents
    let line = lineOf(node)
    for (const segment of path) {
      if (isAlias(node)) node = node.resolve(doc)
      if (isMap(node)) {
        const pair =
          typeof segment === 'number'
            ? node.items[segment]
            : node.items.find((item) => isScalar(item.key) && String(item.key.value) === segment)
        if (pair === undefined) break
        line = lineOf(pair.key) ?? line
        node = pair.value
      } else if (isSeq(node) && typeof segment === 'number') {
        const item: unknown = node.items[segment]
        if (item === undefined) break
        line = lineOf(item) ?? line
        node = item
      } else break
    }
    return line
  }
}

/** Issues (or missing references) with their line added where the locator finds one, in file order. */
export function withLines<T extends Pick<ConfigIssue, 'at' | 'line'>>(
  issues: readonly T[],
  locate: ((path: ConfigPath) => number | undefined) | undefined,
): T[] {
  const located = issues.map((i) => {
    const line = locate === undefined || i.at === undefined ? undefined : locate(i.at)
    return line === undefined ? i : { ...i, line }
  })
  // Stable: issues on the same line (or with none) keep the order they were found in.
  return located
    .map((i, index) => ({ i, index }))
    .sort(
      (a, b) =>
        (a.i.line ?? Number.MAX_SAFE_INTEGER) - (b.i.line ?? Number.MAX_SAFE_INTEGER) ||
        a.index - b.index,
    )
    .map(({ i }) => i)
}
