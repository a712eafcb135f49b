import { Buffer } from 'node:buffer';
import { LinkFormatError } from './errors.js';
import { formatClientSecret, parseUserSecretHex } from './secrets.js';

/** What a QR-code consumer accepts (API-CLIENT-FACTS "Links"); every link we emit matches it. */
export const PROXY_LINK_RE = /^tg:\/\/proxy\?[a-zA-Z0-9=%&_.-]+$/;

const SAFE_CHAR_RE = /[A-Za-z0-9._-]/;

/** Percent-encodes every byte outside [A-Za-z0-9._-], so `:` of IPv6 hosts becomes %3A. */
function encodeComponent(s: string): string {
  let out = '';
  for (const ch of s) {
    if (SAFE_CHAR_RE.test(ch)) {
      out += ch;
    } else {
      for (const byte of Buffer.from(ch, 'utf8')) {
        out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
      }
    }
  }
  return out;
}

/** `tg://proxy?server=H&port=P&secret=S` with host and secret percent-encoded where needed. */
export function buildProxyLink(host: string, port: number, clientSecret: string): string {
  if (typeof host !== 'string' || host.length === 0) {
    throw new LinkFormatError('link host must be a non-empty string');
  }
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new LinkFormatError(`link port must be an integer 1..65535, got ${String(port)}`);
  }
  if (typeof clientSecret !== 'string' || clientSecret.length === 0) {
    throw new LinkFormatError('link secret must be a non-empty string');
  }
  return `tg://proxy?server=${encodeComponent(host)}&port=${port}&secret=${encodeComponent(clientSecret)}`;
}

export interface TlsDomainLink {
  domain: string;
  link: string;
}

export interface UserLinks {
  classic: string[];
  secure: string[];
  tls: string[];
  tls_domains: TlsDomainLink[];
}

export interface BuildUserLinksOptions {
  hosts: readonly string[];
  port: number;
  secretHex: string;
  modes: { classic: boolean; secure: boolean; tls: boolean };
  tlsDomain: string;
  extraTlsDomains: readonly string[];
}

function uniqueNonEmpty(values: readonly string[], exclude?: string): string[] {
  const out: string[] = [];
  for (const raw of values) {
    const v = raw.trim();
    if (v.length === 0 || v === exclude || out.includes(v)) continue;
    out.push(v);
  }
  return out;
}

/**
 * The `links` object of UserInfo, following telemt's `build_user_links`: for each host (in order,
 * de-duplicated) one classic and one secure link when enabled; in tls mode one link per host per
 * TLS domain (primary `tls_domain` first, then extra `tls_domains`), and additionally one
 * `tls_domains` row per host per *extra* domain. Arrays are always present.
 */
export function buildUserLinks(o: BuildUserLinksOptions): UserLinks {
  const key = parseUserSecretHex(o.secretHex);
  const hosts = uniqueNonEmpty(o.hosts);
  const primary = o.tlsDomain.trim();
  const extras = uniqueNonEmpty(o.extraTlsDomains, primary);
  const allDomains = primary.length > 0 ? [primary, ...extras] : extras;

  const classicSecret = o.modes.classic ? formatClientSecret('classic', key) : undefined;
  const secureSecret = o.modes.secure ? formatClientSecret('secure', key) : undefined;
  const tlsSecrets = o.modes.tls
    ? new Map(allDomains.map((d) => [d, formatClientSecret('tls', key, d)] as const))
    : new Map<string, string>();

  const links: UserLinks = { classic: [], secure: [], tls: [], tls_domains: [] };
  for (const host of hosts) {
    if (classicSecret !== undefined) links.classic.push(buildProxyLink(host, o.port, classicSecret));
    if (secureSecret !== undefined) links.secure.push(buildProxyLink(host, o.port, secureSecret));
    if (!o.modes.tls) continue;
    for (const d of allDomains) {
      links.tls.push(buildProxyLink(host, o.port, tlsSecrets.get(d) ?? ''));
    }
    for (const d of extras) {
      links.tls_domains.push({ domain: d, link: buildProxyLink(host, o.port, tlsSecrets.get(d) ?? '') });
    }
  }
  return links;
}
