/**
 * What a worker needs from the config, in the form the hot path wants it: plain data that
 * crosses postMessage (no functions, no class instances), rebuilt by the supervisor on reload.
 */
import type { EdgeConfig, UnknownSniAction, UniqueIpsMode } from '@mtedge/config';
import type { MeWorkerSettings } from './me/settings.js';

export interface DcEndpoint {
  readonly host: string;
  readonly port: number;
}

export interface WorkerUser {
  readonly name: string;
  /** Slot in the shared per-user tables; stable across reloads while the user exists. */
  readonly slot: number;
  readonly secretHex: string;
  readonly enabled: boolean;
  /** Epoch ms; undefined = never expires. */
  readonly expiresAtMs: number | undefined;
  /** 0 = unlimited. */
  readonly quotaBytes: number;
  readonly maxTcpConns: number;
  readonly maxUniqueIps: number;
  readonly sourceDeny: readonly string[];
  readonly adTag: string | undefined;
}

export interface WorkerSettings {
  readonly revision: string;
  readonly modes: { readonly classic: boolean; readonly secure: boolean; readonly tls: boolean };
  readonly tlsDomains: readonly string[];
  readonly unknownSniAction: UnknownSniAction;
  readonly fakeCertLen: number;
  readonly ignoreTimeSkew: boolean;
  readonly mask: { readonly enabled: boolean; readonly host: string; readonly port: number; readonly maxBytes: number; readonly timeoutMs: number; readonly idleTimeoutMs: number };
  readonly handshakeTimeoutMs: number;
  readonly relayIdleTimeoutMs: number;
  readonly dcConnectTimeoutMs: number;
  /** dc index as string -> endpoints; covers the defaults and [dc_overrides]. */
  readonly dcs: Readonly<Record<string, readonly DcEndpoint[]>>;
  readonly defaultDc: number;
  readonly preferIpv6: boolean;
  readonly replayWindowSecs: number;
  readonly proxyProtocol: boolean;
  readonly proxyProtocolTimeoutMs: number;
  readonly proxyProtocolTrusted: readonly string[];
  readonly maxConnections: number;
  readonly uniqueIpMode: UniqueIpsMode;
  readonly uniqueIpWindowSecs: number;
  readonly users: readonly WorkerUser[];
  /** Middle-End mode; set by the supervisor once proxy-secret and proxy-multi.conf are loaded. */
  readonly me?: MeWorkerSettings | undefined;
}

/** Telegram's production DC addresses (direct mode), used when [dc_overrides] does not name the DC. */
export const DEFAULT_DCS_V4: Readonly<Record<string, string>> = {
  '1': '149.154.175.50:443',
  '2': '149.154.167.51:443',
  '3': '149.154.175.100:443',
  '4': '149.154.167.91:443',
  '5': '149.154.171.5:443',
};

export const DEFAULT_DCS_V6: Readonly<Record<string, string>> = {
  '1': '[2001:b28:f23d:f001::a]:443',
  '2': '[2001:67c:4e8:f002::a]:443',
  '3': '[2001:b28:f23d:f003::a]:443',
  '4': '[2001:67c:4e8:f004::a]:443',
  '5': '[2001:b28:f23f:f005::a]:443',
};

export function parseHostPort(s: string): DcEndpoint | undefined {
  const m = /^\[([^\]]+)\]:(\d{1,5})$/.exec(s) ?? /^([^:\s]+):(\d{1,5})$/.exec(s);
  if (!m) return undefined;
  const port = Number(m[2]);
  if (!(port > 0 && port < 65536)) return undefined;
  return { host: m[1]!, port };
}

function dcTable(config: EdgeConfig): Record<string, DcEndpoint[]> {
  const preferV6 = config.network.prefer === 6 && config.network.ipv6 === true;
  const table: Record<string, DcEndpoint[]> = {};
  const defaults = preferV6 ? DEFAULT_DCS_V6 : DEFAULT_DCS_V4;
  for (const [dc, addr] of Object.entries(defaults)) {
    const ep = parseHostPort(addr);
    if (ep) table[dc] = [ep];
  }
  // Overrides replace the whole entry, so a test that points DC 2 at a fake never dials the real one.
  for (const [dc, addrs] of Object.entries(config.dc_overrides)) {
    const eps = addrs.map(parseHostPort).filter((e): e is DcEndpoint => e !== undefined);
    if (eps.length > 0) table[String(Number(dc))] = eps;
  }
  return table;
}

export function buildWorkerUsers(config: EdgeConfig, slots: ReadonlyMap<string, number>): WorkerUser[] {
  const a = config.access;
  const users: WorkerUser[] = [];
  for (const [name, secretHex] of Object.entries(a.users)) {
    const slot = slots.get(name);
    if (slot === undefined) continue;
    const exp = a.user_expirations[name];
    const expMs = exp !== undefined ? Date.parse(exp) : NaN;
    const tcp = a.user_max_tcp_conns[name] ?? 0;
    const ips = a.user_max_unique_ips[name];
    users.push({
      name,
      slot,
      secretHex,
      enabled: a.user_enabled[name] !== false,
      expiresAtMs: Number.isFinite(expMs) ? expMs : undefined,
      quotaBytes: a.user_data_quota[name] ?? 0,
      maxTcpConns: tcp > 0 ? tcp : a.user_max_tcp_conns_global_each,
      maxUniqueIps: ips !== undefined && ips > 0 ? ips : ips === undefined ? a.user_max_unique_ips_global_each : 0,
      sourceDeny: a.user_source_deny[name] ?? [],
      adTag: a.user_ad_tags[name] ?? config.general.ad_tag,
    });
  }
  return users;
}

export function buildWorkerSettings(config: EdgeConfig, revision: string, slots: ReadonlyMap<string, number>): WorkerSettings {
  const c = config.censorship;
  const tlsDomains = [c.tls_domain, ...c.tls_domains.filter((d) => d !== c.tls_domain)];
  return {
    revision,
    modes: { ...config.general.modes },
    tlsDomains,
    unknownSniAction: c.unknown_sni_action,
    fakeCertLen: c.fake_cert_len,
    ignoreTimeSkew: config.access.ignore_time_skew,
    mask: {
      enabled: c.mask,
      host: c.mask_host,
      port: c.mask_port,
      maxBytes: c.mask_relay_max_bytes,
      timeoutMs: c.mask_relay_timeout_ms,
      idleTimeoutMs: c.mask_relay_idle_timeout_ms,
    },
    handshakeTimeoutMs: config.timeouts.client_handshake * 1000,
    relayIdleTimeoutMs: config.timeouts.relay_client_idle_hard_secs * 1000,
    dcConnectTimeoutMs: config.general.tg_connect * 1000,
    dcs: dcTable(config),
    defaultDc: config.default_dc !== undefined && config.default_dc >= 1 && config.default_dc <= 5 ? config.default_dc : 2,
    preferIpv6: config.network.prefer === 6,
    replayWindowSecs: config.access.replay_window_secs,
    proxyProtocol: config.server.proxy_protocol,
    proxyProtocolTimeoutMs: config.server.proxy_protocol_header_timeout_ms,
    proxyProtocolTrusted: config.server.proxy_protocol_trusted_cidrs,
    maxConnections: config.server.max_connections,
    uniqueIpMode: config.access.user_max_unique_ips_mode,
    uniqueIpWindowSecs: config.access.user_max_unique_ips_window_secs,
    users: buildWorkerUsers(config, slots),
  };
}
