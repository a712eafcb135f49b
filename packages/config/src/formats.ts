import ipaddr from 'ipaddr.js';

/** Value checks shared by the schema (as ajv formats) and the resolver. */

export function isIp(s: string): boolean {
  if (ipaddr.IPv4.isValidFourPartDecimal(s)) return true;
  return s.includes(':') && ipaddr.IPv6.isValid(s);
}

export function isIpv4(s: string): boolean {
  return ipaddr.IPv4.isValidFourPartDecimal(s);
}

export function isIpv6(s: string): boolean {
  return s.includes(':') && ipaddr.IPv6.isValid(s);
}

/** A CIDR ("10.0.0.0/8", "::/0") or a bare address (taken as /32 or /128), as telemt's IpNetwork. */
export function isCidrOrIp(s: string): boolean {
  const slash = s.indexOf('/');
  if (slash < 0) return isIp(s);
  const addr = s.slice(0, slash);
  const bits = s.slice(slash + 1);
  if (!/^\d{1,3}$/.test(bits)) return false;
  const n = Number(bits);
  if (isIpv4(addr)) return n <= 32;
  if (isIpv6(addr)) return n <= 128;
  return false;
}

/** "IP:PORT" with "[v6]:PORT" for IPv6; port 0..65535. */
export function splitIpPort(s: string): { ip: string; port: number } | undefined {
  let ip: string;
  let portText: string;
  if (s.startsWith('[')) {
    const close = s.indexOf(']:');
    if (close < 0) return undefined;
    ip = s.slice(1, close);
    portText = s.slice(close + 2);
    if (!isIpv6(ip)) return undefined;
  } else {
    const colon = s.lastIndexOf(':');
    if (colon < 0) return undefined;
    ip = s.slice(0, colon);
    portText = s.slice(colon + 1);
    if (!isIpv4(ip)) return undefined;
  }
  if (!/^\d{1,5}$/.test(portText)) return undefined;
  const port = Number(portText);
  return port <= 65535 ? { ip, port } : undefined;
}

export function isIpPort(s: string): boolean {
  return splitIpPort(s) !== undefined;
}

/** "IP:PORT" with a non-zero port (an address to connect to). */
export function isConnectAddr(s: string): boolean {
  const p = splitIpPort(s);
  return p !== undefined && p.port > 0;
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$/;

export function isRfc3339(s: string): boolean {
  const m = RFC3339.exec(s);
  if (m === null) return false;
  const [, y, mo, d, h, mi, se] = m.map(Number) as [number, number, number, number, number, number, number];
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60) return false;
  return !Number.isNaN(Date.parse(s.replace(' ', 'T'))) && y > 0;
}

export const HEX32 = '^[0-9a-fA-F]{32}$';
export const USERNAME = '^[A-Za-z0-9_.-]{1,64}$';
export const DC_INDEX = '^-?[0-9]{1,5}$';

/** Non-empty, no spaces or '/' (telemt's tls_domain rule). */
export function isDomain(s: string): boolean {
  return s.length > 0 && s.length <= 253 && !/[\s/]/.test(s);
}
