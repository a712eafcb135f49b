import { Buffer } from 'node:buffer';

/** Dotted-quad IPv4 -> 4 bytes; strict (no leading zeros, 0..255), undefined otherwise. */
export function parseIpv4(s: string): Buffer | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  const out = Buffer.alloc(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i] as string;
    if (!/^(?:0|[1-9][0-9]{0,2})$/.test(p)) return undefined;
    const v = Number(p);
    if (v > 255) return undefined;
    out[i] = v;
  }
  return out;
}

export function formatIpv4(b: Uint8Array): string {
  return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
}

/** Textual IPv6 (with `::` and an optional dotted IPv4 tail) -> 16 bytes, undefined if invalid. */
export function parseIpv6(s: string): Buffer | undefined {
  if (s.length === 0 || s.length > 45) return undefined;
  const dbl = s.indexOf('::');
  if (dbl !== -1 && s.indexOf('::', dbl + 1) !== -1) return undefined;
  const toGroups = (part: string): number[] | undefined => {
    if (part === '') return [];
    const items = part.split(':');
    const groups: number[] = [];
    for (let i = 0; i < items.length; i++) {
      const it = items[i] as string;
      if (i === items.length - 1 && it.includes('.')) {
        const v4 = parseIpv4(it);
        if (v4 === undefined) return undefined;
        groups.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(it)) return undefined;
        groups.push(parseInt(it, 16));
      }
    }
    return groups;
  };
  let groups: number[];
  if (dbl === -1) {
    const g = toGroups(s);
    if (g === undefined || g.length !== 8) return undefined;
    groups = g;
  } else {
    const left = toGroups(s.slice(0, dbl));
    const right = toGroups(s.slice(dbl + 2));
    if (left === undefined || right === undefined || left.length + right.length > 7) return undefined;
    groups = [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
  }
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(g, i * 2));
  return out;
}

/** RFC 5952 canonical text: lowercase, longest zero run (>= 2 groups, leftmost) as `::`, v4-mapped dotted. */
export function formatIpv6(b: Uint8Array): string {
  const buf = Buffer.from(b.buffer, b.byteOffset, 16);
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push(buf.readUInt16BE(i * 2));
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return `::ffff:${formatIpv4(buf.subarray(12, 16))}`;
  }
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestLen < 2) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}
