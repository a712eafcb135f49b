/**
 * proxy-multi.conf (served by core.telegram.org/getProxyConfig): `proxy_for DC HOST:PORT;` lines
 * (DC may be negative for media; IPv6 hosts in brackets), an optional `default DC;`, `#`
 * comments. Unknown or malformed lines are skipped and counted, never fatal; a file with no
 * usable endpoint is refused so a broken download cannot wipe a good table.
 */
import { MeProtocolError } from './me-rpc.js';
import { formatIpv6, parseIpv4, parseIpv6 } from './ip.js';

export const PROXY_CONFIG_MAX_BYTES = 1 << 20;
const MAX_ENDPOINTS = 4096;

export interface MeEndpoint {
  readonly host: string;
  readonly port: number;
}

export interface ProxyMultiConfig {
  /** DC id as a decimal string (may be negative) -> endpoints in file order, deduplicated. */
  readonly dcs: Readonly<Record<string, readonly MeEndpoint[]>>;
  readonly defaultDc: number | undefined;
  /** Non-empty lines that were neither a comment nor understood. */
  readonly skippedLines: number;
}

/**
 * `a.b.c.d:port` or `[v6]:port` (getProxyConfigV6 writes `proxy_for 2 [2001:67c:4e8:f002::d]:80;`).
 * IPv6 hosts come back in RFC 5952 form, so one address spelled two ways is one endpoint.
 */
function parseEndpoint(s: string): MeEndpoint | undefined {
  const m = /^\[([0-9a-fA-F:.]+)\]:(\d{1,5})$/.exec(s) ?? /^([0-9.]+):(\d{1,5})$/.exec(s);
  if (!m) return undefined;
  const port = Number(m[2]);
  if (!(port > 0 && port < 65536)) return undefined;
  if (!s.startsWith('[')) return parseIpv4(m[1]!) === undefined ? undefined : { host: m[1]!, port };
  const v6 = parseIpv6(m[1]!);
  return v6 === undefined ? undefined : { host: formatIpv6(v6), port };
}

export function parseProxyMultiConf(text: string): ProxyMultiConfig {
  if (text.length > PROXY_CONFIG_MAX_BYTES) throw new MeProtocolError('MTE_ERR_ME_CONFIG', `proxy config of ${text.length} bytes exceeds ${PROXY_CONFIG_MAX_BYTES}`);
  const dcs: Record<string, MeEndpoint[]> = {};
  let defaultDc: number | undefined;
  let skipped = 0;
  let count = 0;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/#.*$/, '').trim();
    if (line === '') continue;
    let m = /^proxy_for\s+(-?\d{1,5})\s+(\S+?)\s*;$/.exec(line);
    if (m) {
      const ep = parseEndpoint(m[2]!);
      const dc = Number(m[1]);
      if (!ep || count >= MAX_ENDPOINTS) {
        skipped++;
        continue;
      }
      const list = (dcs[String(dc)] ??= []);
      if (!list.some((e) => e.host === ep.host && e.port === ep.port)) {
        list.push(ep);
        count++;
      }
      continue;
    }
    m = /^default\s+(-?\d{1,5})\s*;$/.exec(line);
    if (m) {
      defaultDc = Number(m[1]);
      continue;
    }
    skipped++;
  }
  if (count === 0) throw new MeProtocolError('MTE_ERR_ME_CONFIG', 'proxy config has no proxy_for endpoint');
  return { dcs, defaultDc, skippedLines: skipped };
}

/** Renders a config the parser reads back (fake ME server, caches written by tests); IPv6 hosts bracketed. */
export function renderProxyMultiConf(c: { readonly dcs: Readonly<Record<string, readonly MeEndpoint[]>>; readonly defaultDc?: number | undefined }): string {
  const lines: string[] = [];
  if (c.defaultDc !== undefined) lines.push(`default ${c.defaultDc};`);
  for (const [dc, eps] of Object.entries(c.dcs)) {
    for (const e of eps) lines.push(`proxy_for ${dc} ${e.host.includes(':') ? `[${e.host}]` : e.host}:${e.port};`);
  }
  return lines.join('\n') + '\n';
}
