import { lineColumn, scanToml } from './scan.js';

export type PathPart = string | number;

/**
 * Best-effort position of a key in the text, for error messages: the exact `key = value` line
 * when there is one, else the nearest enclosing key or table header. Never throws.
 */
export function locateKey(text: string, target: readonly PathPart[]): { line: number; column: number } | undefined {
  let items;
  try {
    items = scanToml(text);
  } catch {
    return undefined;
  }
  const arrayCounts = new Map<string, number>();
  let table: PathPart[] = [];
  let best: { len: number; offset: number } | undefined;
  const consider = (path: readonly PathPart[], offset: number): boolean => {
    let i = 0;
    while (i < path.length && i < target.length && path[i] === target[i]) i++;
    if (i === path.length && i === target.length) return true;
    if (i === path.length && (best === undefined || i > best.len)) best = { len: i, offset };
    return false;
  };
  for (const it of items) {
    if (it.kind === 'header') {
      if (it.array) {
        const k = it.path.join('\u0000');
        const idx = arrayCounts.get(k) ?? 0;
        arrayCounts.set(k, idx + 1);
        table = [...it.path, idx];
      } else {
        table = [...it.path];
      }
      if (consider(table, it.lineStart)) return lineColumn(text, it.lineStart);
      continue;
    }
    const full = [...table, ...it.key];
    if (consider(full, it.keyStart)) return lineColumn(text, it.valueStart);
  }
  return best === undefined || best.len === 0 ? undefined : lineColumn(text, best.offset);
}
