/**
 * The worker's compiled view of the user table: secrets as bytes, deny lists as parsed CIDRs,
 * and the candidate lists each handshake kind tries, rebuilt on every config push.
 */
import ipaddr from 'ipaddr.js';
import type { WorkerUser } from './settings.js';

export interface CompiledUser extends WorkerUser {
  readonly secret: Buffer;
  readonly denyNets: readonly [ipaddr.IPv4 | ipaddr.IPv6, number][];
}

export function parseNets(list: readonly string[]): [ipaddr.IPv4 | ipaddr.IPv6, number][] {
  const out: [ipaddr.IPv4 | ipaddr.IPv6, number][] = [];
  for (const s of list) {
    try {
      out.push(s.includes('/') ? ipaddr.parseCIDR(s) : [ipaddr.parse(s), ipaddr.parse(s).kind() === 'ipv4' ? 32 : 128]);
    } catch {
      // The config loader validated these; an entry that still fails cannot match anything.
    }
  }
  return out;
}

export function ipInNets(ip: string, nets: readonly [ipaddr.IPv4 | ipaddr.IPv6, number][]): boolean {
  if (nets.length === 0) return false;
  let addr: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    addr = ipaddr.process(ip);
  } catch {
    return false;
  }
  for (const [net, bits] of nets) {
    if (addr.kind() === net.kind() && addr.match([net, bits] as never)) return true;
    if (addr.kind() === 'ipv4' && net.kind() === 'ipv6' && (net as ipaddr.IPv6).isIPv4MappedAddress()) {
      if ((addr as ipaddr.IPv4).toIPv4MappedAddress().match(net as ipaddr.IPv6, bits)) return true;
    }
  }
  return false;
}

export class UserRegistry {
  readonly all: readonly CompiledUser[];
  readonly secrets: readonly Buffer[];
  private readonly byName: Map<string, CompiledUser>;

  constructor(users: readonly WorkerUser[]) {
    this.all = users.map((u) => ({ ...u, secret: Buffer.from(u.secretHex, 'hex'), denyNets: parseNets(u.sourceDeny) }));
    this.secrets = this.all.map((u) => u.secret);
    this.byName = new Map(this.all.map((u) => [u.name, u]));
  }

  get(name: string): CompiledUser | undefined {
    return this.byName.get(name);
  }
}
