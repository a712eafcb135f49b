/** UserInfo (telemt-API.md "UserInfo"): disk-first from the snapshot, runtime from the plane. */
import type { ConfigSnapshot } from '@mtedge/config';
import { buildUserLinks } from '@mtedge/protocol';
import type { ControlPlane } from '../control-plane.js';
import { ApiError } from '../http/errors.js';

export interface LinksView {
  classic: string[];
  secure: string[];
  tls: string[];
  tls_domains: { domain: string; link: string }[];
}

export function userLinks(cp: ControlPlane, snap: ConfigSnapshot, secretHex: string): LinksView {
  const c = snap.config;
  try {
    return buildUserLinks({
      hosts: cp.linkHosts(),
      port: cp.linkPort(),
      secretHex,
      modes: c.general.modes,
      tlsDomain: c.censorship.tls_domain,
      extraTlsDomains: c.censorship.tls_domains,
    });
  } catch {
    // A secret or host that cannot make a link still leaves the arrays present (API-CLIENT-FACTS).
    return { classic: [], secure: [], tls: [], tls_domains: [] };
  }
}

export function requireUser(snap: ConfigSnapshot, username: string): string {
  const secret = Object.hasOwn(snap.config.access.users, username) ? snap.config.access.users[username] : undefined;
  if (secret === undefined) throw new ApiError('not_found', 'User not found');
  return secret;
}

function setIf(out: Record<string, unknown>, key: string, map: Readonly<Record<string, unknown>>, username: string): void {
  if (Object.hasOwn(map, username)) {
    const v = map[username];
    if (v !== undefined && v !== null) out[key] = v instanceof Date ? v.toISOString() : v;
  }
}

export function userInfo(cp: ControlPlane, snap: ConfigSnapshot, username: string, runtimeUsers: ReadonlySet<string>): Record<string, unknown> {
  const a = snap.config.access;
  const secret = requireUser(snap, username);
  const rt = cp.userRuntime(username);
  const out: Record<string, unknown> = {
    username,
    enabled: a.user_enabled[username] !== false,
    in_runtime: runtimeUsers.has(username),
  };
  setIf(out, 'user_ad_tag', a.user_ad_tags, username);
  setIf(out, 'max_tcp_conns', a.user_max_tcp_conns, username);
  setIf(out, 'expiration_rfc3339', a.user_expirations, username);
  setIf(out, 'data_quota_bytes', a.user_data_quota, username);
  const rate = Object.hasOwn(a.user_rate_limits, username) ? a.user_rate_limits[username] : undefined;
  if (rate?.up_bps !== undefined) out['rate_limit_up_bps'] = rate.up_bps;
  if (rate?.down_bps !== undefined) out['rate_limit_down_bps'] = rate.down_bps;
  setIf(out, 'max_unique_ips', a.user_max_unique_ips, username);
  out['current_connections'] = rt.current_connections;
  out['active_unique_ips'] = rt.active_ips.length;
  out['active_unique_ips_list'] = [...rt.active_ips];
  out['recent_unique_ips'] = rt.recent_ips.length;
  out['recent_unique_ips_list'] = [...rt.recent_ips];
  out['total_octets'] = rt.total_octets;
  out['links'] = userLinks(cp, snap, secret);
  return out;
}

export function sortedUserInfos(cp: ControlPlane): Record<string, unknown>[] {
  const snap = cp.current();
  const rt = cp.runtimeUsers();
  return Object.keys(snap.config.access.users)
    .sort((x, y) => (x < y ? -1 : x > y ? 1 : 0))
    .map((u) => userInfo(cp, snap, u, rt));
}
