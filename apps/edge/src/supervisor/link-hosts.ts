/**
 * Hosts for tg:// links, in the contract's order: general.links.public_host, then each
 * listener's announce / announce_ip / bind ip, wildcard binds replaced by a detected address.
 * Links never carry 0.0.0.0 or ::, which clients cannot dial.
 */
import os from 'node:os';
import type { EdgeConfig } from '@mtedge/config';

const WILDCARDS = new Set(['0.0.0.0', '::', '']);

/** First non-internal interface address of a family; loopback when the box has nothing else. */
export function detectLocalAddress(family: 'IPv4' | 'IPv6'): string | undefined {
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list ?? []) {
      if (a.family === family && !a.internal && !(family === 'IPv6' && a.address.startsWith('fe80'))) return a.address;
    }
  }
  return undefined;
}

export function resolveLinkHosts(config: EdgeConfig, detect = detectLocalAddress): string[] {
  const pub = config.general.links.public_host;
  if (pub !== undefined && pub.trim() !== '') return [pub.trim()];
  const hosts: string[] = [];
  const add = (h: string | undefined): void => {
    if (h !== undefined && h !== '' && !hosts.includes(h)) hosts.push(h);
  };
  for (const l of config.server.listeners) {
    if (l.announce) add(l.announce);
    else if (l.announce_ip) add(l.announce_ip);
    else if (!WILDCARDS.has(l.ip)) add(l.ip);
    else add(detect(l.ip.includes(':') ? 'IPv6' : 'IPv4'));
  }
  if (hosts.length === 0) add(detect('IPv4') ?? detect('IPv6'));
  if (hosts.length === 0) {
    const anyV4 = config.server.listeners.some((l) => !l.ip.includes(':'));
    add(anyV4 ? '127.0.0.1' : '::1');
  }
  return hosts;
}
