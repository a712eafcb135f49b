/** The whitelist and Authorization gates (telemt-API.md "Request Processing Order" 2 and 3). */
import { createHash } from 'node:crypto';
import ipaddr from 'ipaddr.js';
import nacl from 'tweetnacl';

type Parsed = ipaddr.IPv4 | ipaddr.IPv6;
type Range = readonly [Parsed, number];

/** Parsed whitelists keyed by the frozen config array, so a reload swaps them naturally. */
const parsedWhitelists = new WeakMap<readonly string[], readonly Range[]>();

/** IPv4-mapped IPv6 (::ffff:a.b.c.d) becomes plain IPv4 so v4 CIDRs match it. */
export function normalizeIp(text: string): Parsed | undefined {
  const bare = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  if (!ipaddr.isValid(bare)) return undefined;
  const addr = ipaddr.parse(bare);
  if (addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress()) return (addr as ipaddr.IPv6).toIPv4Address();
  return addr;
}

function parseEntry(entry: string): Range | undefined {
  const text = entry.trim();
  try {
    if (text.includes('/')) {
      const [addr, bits] = ipaddr.parseCIDR(text);
      if (addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress() && bits >= 96) {
        return [(addr as ipaddr.IPv6).toIPv4Address(), bits - 96];
      }
      return [addr, bits];
    }
    const addr = normalizeIp(text);
    if (addr === undefined) return undefined;
    return [addr, addr.kind() === 'ipv4' ? 32 : 128];
  } catch {
    return undefined;
  }
}

function compile(list: readonly string[]): readonly Range[] {
  let ranges = parsedWhitelists.get(list);
  if (ranges === undefined) {
    // Entries that do not parse match nothing; config validation is where they get reported.
    ranges = list.map(parseEntry).filter((r): r is Range => r !== undefined);
    parsedWhitelists.set(list, ranges);
  }
  return ranges;
}

/** Empty list = allow all (contract: `whitelist`). */
export function ipAllowed(whitelist: readonly string[], peer: string): boolean {
  if (whitelist.length === 0) return true;
  const addr = normalizeIp(peer);
  if (addr === undefined) return false;
  for (const [net, bits] of compile(whitelist)) {
    if (net.kind() === addr.kind() && addr.match(net, bits)) return true;
  }
  return false;
}

function digest(value: string): Uint8Array {
  return createHash('sha256').update(value, 'utf8').digest();
}

const digestCache = new Map<string, Uint8Array>();

/**
 * Constant-time check of the Authorization header: both sides are hashed to 32 bytes so
 * nacl.verify compares equal lengths and the header length leaks nothing.
 */
export function authorized(configured: string, presented: string | undefined): boolean {
  if (configured === '') return true;
  let expected = digestCache.get(configured);
  if (expected === undefined) {
    digestCache.clear();
    expected = digest(configured);
    digestCache.set(configured, expected);
  }
  const got = digest(presented ?? '');
  return nacl.verify(expected, got) && presented !== undefined;
}
