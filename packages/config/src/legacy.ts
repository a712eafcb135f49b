import type { PlainTable, PlainValue } from './toml.js';
import type { ConfigWarning } from './types.js';

/**
 * Moves legacy and alias spellings onto the keys mtedge reads, in place, on a validated copy of
 * the document. The newer spelling always wins; each mapping leaves one MTE_WARN_LEGACY_KEY.
 */
export function mapLegacyKeys(doc: PlainTable, warnings: ConfigWarning[]): void {
  const legacy = (key: string, message: string): void => {
    warnings.push({ code: 'MTE_WARN_LEGACY_KEY', key, message });
  };

  const server = tableAt(doc, 'server');
  if (server !== undefined && isTable(server['admin_api'])) {
    if (isTable(server['api'])) {
      warnings.push({
        code: 'MTE_WARN_ALIAS_SHADOWED',
        key: 'server.admin_api',
        message: '[server.admin_api] is ignored because [server.api] is also present',
      });
    } else {
      server['api'] = server['admin_api'];
      legacy('server.admin_api', '[server.admin_api] is read as [server.api]; rename the table');
    }
    delete server['admin_api'];
  }

  const timeouts = tableAt(doc, 'timeouts');
  if (timeouts !== undefined && timeouts['tg_connect'] !== undefined) {
    const general = ensureTable(doc, 'general');
    if (general['tg_connect'] === undefined) general['tg_connect'] = timeouts['tg_connect'];
    delete timeouts['tg_connect'];
    legacy('timeouts.tg_connect', '[timeouts] tg_connect is read as general.tg_connect; move it to [general]');
  }

  if (doc['show_link'] !== undefined) {
    const links = ensureTable(ensureTable(doc, 'general'), 'links');
    if (links['show'] === undefined) links['show'] = doc['show_link'];
    delete doc['show_link'];
    legacy('show_link', 'top-level show_link is read as general.links.show; move it to [general.links] show');
  }

  const general = tableAt(doc, 'general');
  if (general === undefined) return;

  if (general['prefer_ipv6'] !== undefined) {
    const network = ensureTable(doc, 'network');
    if (network['prefer'] === undefined && general['prefer_ipv6'] === true) network['prefer'] = 6;
    delete general['prefer_ipv6'];
    legacy('general.prefer_ipv6', 'general.prefer_ipv6 is read as network.prefer; use [network] prefer = 4 or 6');
  }

  const stun: string[] = [];
  const one = general['middle_proxy_nat_stun'];
  if (typeof one === 'string') stun.push(one);
  const many = general['middle_proxy_nat_stun_servers'];
  if (Array.isArray(many)) for (const s of many) if (typeof s === 'string') stun.push(s);
  if (one !== undefined || many !== undefined) {
    const network = ensureTable(doc, 'network');
    if (network['stun_servers'] === undefined && stun.length > 0) network['stun_servers'] = stun;
    delete general['middle_proxy_nat_stun'];
    delete general['middle_proxy_nat_stun_servers'];
    legacy('general.middle_proxy_nat_stun', 'general.middle_proxy_nat_stun(_servers) is read as network.stun_servers');
  }

  const a = general['proxy_secret_auto_reload_secs'];
  const b = general['proxy_config_auto_reload_secs'];
  if (a !== undefined || b !== undefined) {
    if (general['update_every'] === undefined) {
      const nums = [a, b].filter((x): x is number => typeof x === 'number');
      if (nums.length > 0) general['update_every'] = Math.min(...nums);
    }
    delete general['proxy_secret_auto_reload_secs'];
    delete general['proxy_config_auto_reload_secs'];
    legacy(
      'general.proxy_secret_auto_reload_secs',
      'proxy_secret_auto_reload_secs / proxy_config_auto_reload_secs are read as general.update_every (their minimum)',
    );
  }
}

export function isTable(v: PlainValue | undefined): v is PlainTable {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function tableAt(doc: PlainTable, key: string): PlainTable | undefined {
  const v = doc[key];
  return isTable(v) ? v : undefined;
}

function ensureTable(doc: PlainTable, key: string): PlainTable {
  const v = doc[key];
  if (isTable(v)) return v;
  const t: PlainTable = {};
  doc[key] = t;
  return t;
}
