import { buildUserLinks, type UserLinks } from '@mtedge/protocol';
import type { EdgeConfig } from '@mtedge/config';
import { resolveLinkHosts } from '../supervisor/link-hosts.js';

export function linksFor(config: EdgeConfig, username: string, boundPort?: number): UserLinks | undefined {
  const secretHex = config.access.users[username];
  if (secretHex === undefined) return undefined;
  return buildUserLinks({
    hosts: resolveLinkHosts(config),
    // server.port = 0 binds an ephemeral port: links must carry the one actually bound.
    port: config.general.links.public_port ?? (config.server.port === 0 && boundPort !== undefined ? boundPort : config.server.port),
    secretHex,
    modes: config.general.modes,
    tlsDomain: config.censorship.tls_domain,
    extraTlsDomains: config.censorship.tls_domains.filter((d) => d !== config.censorship.tls_domain),
  });
}

/** Users whose links general.links.show says to print. */
export function shownUsers(config: EdgeConfig): string[] {
  const show = config.general.links.show;
  const all = Object.keys(config.access.users).sort();
  return show === '*' ? all : all.filter((u) => show.includes(u));
}

export function formatLinks(config: EdgeConfig, users: readonly string[], boundPort?: number): string {
  const lines: string[] = [];
  for (const u of users) {
    const l = linksFor(config, u, boundPort);
    if (!l) continue;
    lines.push(`user ${u}:`);
    for (const link of l.tls) lines.push(`  tls     ${link}`);
    for (const d of l.tls_domains) lines.push(`  tls     ${d.link}  (${d.domain})`);
    for (const link of l.secure) lines.push(`  secure  ${link}`);
    for (const link of l.classic) lines.push(`  classic ${link}`);
  }
  return lines.join('\n');
}
