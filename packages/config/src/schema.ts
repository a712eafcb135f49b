import { CATALOGUE, type CatalogueEntry } from './catalogue.js';
import { DC_INDEX, HEX32, USERNAME } from './formats.js';

/**
 * The JSON Schema the parsed document is checked against. Supported keys carry their ranges and
 * formats by hand (KEY_SCHEMAS); accepted keys get a schema derived from telemt's documented type;
 * ignored and unknown keys are not checked (additionalProperties stays open: they only warn).
 * `description` is the phrase an error message uses: "<key>: must be <description>".
 */
export interface JsonSchema {
  type?: string | string[];
  description?: string;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  format?: string;
  enum?: readonly unknown[];
  items?: JsonSchema;
  maxItems?: number;
  properties?: Record<string, JsonSchema>;
  additionalProperties?: JsonSchema | boolean;
  propertyNames?: JsonSchema;
  maxProperties?: number;
}

const U8 = 255;
const U16 = 65535;
const U32 = 4294967295;
const U64 = Number.MAX_SAFE_INTEGER;
/** Lists and maps from a file are capped so a hostile or broken file cannot balloon memory. */
const MAX_LIST = 4096;
const MAX_USERS = 1_000_000;

export const bool = (): JsonSchema => ({ type: 'boolean', description: 'true or false' });
export const int = (min: number, max: number): JsonSchema => ({
  type: 'integer',
  minimum: min,
  maximum: max,
  description: `an integer within [${min}, ${max}]`,
});
const str = (maxLength = 4096): JsonSchema => ({ type: 'string', maxLength, description: 'a string' });
const fmt = (format: string, description: string): JsonSchema => ({ type: 'string', format, description });
const list = (item: JsonSchema, description: string): JsonSchema => ({
  type: 'array',
  items: item,
  maxItems: MAX_LIST,
  description,
});
const oneOf = (values: readonly (string | number)[]): JsonSchema => ({
  enum: values,
  description: `one of ${values.map((v) => JSON.stringify(v)).join(', ')}`,
});
const port = (min: 0 | 1): JsonSchema => ({ ...int(min, U16), description: `a port within [${min}, 65535]` });
const hex32 = (): JsonSchema => ({ type: 'string', pattern: HEX32, description: 'exactly 32 hex characters' });
const cidrs = (): JsonSchema => list(fmt('cidr-or-ip', 'a CIDR or IP address'), 'a list of CIDRs or IP addresses');
const userMap = (value: JsonSchema): JsonSchema => ({
  type: 'object',
  propertyNames: { pattern: USERNAME, description: 'a user name of 1..64 characters from [A-Za-z0-9_.-]' },
  additionalProperties: value,
  maxProperties: MAX_USERS,
  description: 'a table of user name -> value',
});
const ipPort = (): JsonSchema => fmt('ip-port', 'IP:PORT (IPv6 as [addr]:PORT)');
const showLinks = (): JsonSchema => ({
  type: ['string', 'array'],
  items: { type: 'string', pattern: USERNAME, description: 'a user name' },
  maxItems: MAX_LIST,
  format: 'show-link',
  description: '"*" or a list of user names',
});

const API: Record<string, JsonSchema> = {
  enabled: bool(),
  listen: ipPort(),
  whitelist: cidrs(),
  auth_header: str(),
  request_body_limit_bytes: int(1, 1048576),
  minimal_runtime_enabled: bool(),
  minimal_runtime_cache_ttl_ms: int(0, 60000),
  runtime_edge_enabled: bool(),
  runtime_edge_cache_ttl_ms: int(0, 60000),
  runtime_edge_top_n: int(1, 1000),
  runtime_edge_events_capacity: int(16, 4096),
  read_only: bool(),
};

/** Hand-written schemas of the supported keys (ranges from telemt's reference and API doc). */
export const KEY_SCHEMAS: Record<string, JsonSchema> = {
  show_link: showLinks(),
  dc_overrides: {
    type: 'object',
    propertyNames: { pattern: DC_INDEX, description: 'a DC index such as "2", "-2" or "203"' },
    additionalProperties: {
      type: ['string', 'array'],
      format: 'dc-addr',
      items: fmt('dc-addr', 'IP:PORT (IPv6 as [addr]:PORT), port > 0'),
      maxItems: 64,
      description: '"IP:PORT" or a list of them',
    },
    description: 'a table of DC index -> "IP:PORT" or a list of them',
  },
  default_dc: int(0, U8),
  'general.workers': int(0, 1024),
  'general.data_path': str(),
  'general.quota_state_path': str(),
  'general.config_strict': bool(),
  'general.prefer_ipv6': bool(),
  'general.fast_mode': bool(),
  'general.use_middle_proxy': bool(),
  'general.proxy_secret_path': str(),
  'general.proxy_secret_url': str(),
  'general.proxy_config_v4_cache_path': str(),
  'general.proxy_config_v4_url': str(),
  'general.proxy_config_v6_cache_path': str(),
  'general.proxy_config_v6_url': str(),
  'general.ad_tag': hex32(),
  'general.middle_proxy_nat_ip': fmt('ip', 'an IP address'),
  'general.middle_proxy_nat_stun': str(),
  'general.middle_proxy_nat_stun_servers': list(str(), 'a list of host:port strings'),
  'general.me2dc_fallback': bool(),
  'general.middle_proxy_pool_size': int(1, 256),
  'general.me_keepalive_enabled': bool(),
  'general.me_keepalive_interval_secs': int(1, 3600),
  'general.me_keepalive_jitter_secs': int(0, 3600),
  'general.me_reconnect_backoff_base_ms': int(10, 3_600_000),
  'general.me_reconnect_backoff_cap_ms': int(10, 3_600_000),
  'general.me_route_hybrid_max_wait_ms': int(0, 600_000),
  'general.me_pool_drain_ttl_secs': int(0, 86_400),
  'general.hardswap': bool(),
  'general.me_hardswap_warmup_delay_min_ms': int(0, 3_600_000),
  'general.me_hardswap_warmup_delay_max_ms': int(1, 3_600_000),
  'general.me_hardswap_warmup_extra_passes': int(0, 10),
  'general.me_hardswap_warmup_pass_backoff_base_ms': int(1, 3_600_000),
  'general.tg_connect': int(1, 3600),
  'general.log_level': oneOf(['debug', 'verbose', 'normal', 'silent', 'info', 'warn', 'error']),
  'general.update_every': int(1, U64),
  'general.proxy_secret_auto_reload_secs': int(1, U64),
  'general.proxy_config_auto_reload_secs': int(1, U64),
  'general.modes.classic': bool(),
  'general.modes.secure': bool(),
  'general.modes.tls': bool(),
  'general.links.show': showLinks(),
  'general.links.public_host': { type: 'string', minLength: 1, maxLength: 253, description: 'a host name or IP' },
  'general.links.public_port': port(1),
  'network.ipv4': bool(),
  'network.ipv6': bool(),
  'network.prefer': oneOf([4, 6]),
  'network.stun_use': bool(),
  'network.stun_servers': list(str(), 'a list of host:port strings'),
  'server.port': port(0),
  'server.listen_addr_ipv4': fmt('ipv4', 'an IPv4 address'),
  'server.listen_addr_ipv6': fmt('ipv6', 'an IPv6 address'),
  'server.proxy_protocol': bool(),
  'server.proxy_protocol_header_timeout_ms': int(1, 3_600_000),
  'server.proxy_protocol_trusted_cidrs': cidrs(),
  'server.metrics_port': port(1),
  'server.metrics_listen': ipPort(),
  'server.metrics_whitelist': cidrs(),
  'server.api': { type: 'object', properties: API, description: 'a table' },
  'server.admin_api': { type: 'object', properties: API, description: 'a table' },
  'server.max_connections': int(0, U32),
  'server.listen_backlog': int(0, U32),
  'server.listeners': {
    type: 'array',
    maxItems: 64,
    items: {
      type: 'object',
      properties: {
        ip: fmt('ip', 'an IP address'),
        port: port(0),
        announce: { type: 'string', minLength: 1, maxLength: 253, description: 'a non-empty host name or IP' },
        announce_ip: fmt('ip', 'an IP address'),
        proxy_protocol: bool(),
      },
      description: 'a table',
    },
    description: 'an array of tables ([[server.listeners]])',
  },
  'timeouts.client_first_byte_idle_secs': int(0, U32),
  'timeouts.client_handshake': int(1, 3600),
  'timeouts.relay_client_idle_hard_secs': int(1, U32),
  'timeouts.client_keepalive': int(0, U32),
  'timeouts.client_ack': int(0, U32),
  'timeouts.tg_connect': int(1, 3600),
  'censorship.tls_domain': fmt('domain', 'a non-empty domain name without spaces or "/"'),
  'censorship.tls_domains': list(fmt('domain', 'a non-empty domain name without spaces or "/"'), 'a list of domain names'),
  'censorship.unknown_sni_action': oneOf(['drop', 'mask', 'accept', 'reject_handshake']),
  'censorship.mask': bool(),
  'censorship.mask_host': { type: 'string', minLength: 1, maxLength: 253, description: 'a host name or IP' },
  'censorship.mask_port': port(1),
  'censorship.fake_cert_len': int(0, 65536),
  'censorship.tls_emulation': bool(),
  'censorship.mask_proxy_protocol': {
    type: ['integer', 'boolean'],
    minimum: 0,
    maximum: 2,
    description: '0 (off), 1 (v1) or 2 (v2)',
  },
  'censorship.mask_relay_max_bytes': int(1, 67108864),
  'censorship.mask_relay_timeout_ms': int(0, U32),
  'censorship.mask_relay_idle_timeout_ms': int(0, U32),
  'access.users': userMap(hex32()),
  'access.user_enabled': userMap(bool()),
  'access.user_ad_tags': userMap(hex32()),
  'access.user_max_tcp_conns': userMap(int(0, U32)),
  'access.user_max_tcp_conns_global_each': int(0, U32),
  'access.user_expirations': userMap(fmt('rfc3339', 'an RFC 3339 date-time such as "2026-12-31T23:59:59Z"')),
  'access.user_data_quota': userMap(int(0, U64)),
  'access.user_max_unique_ips': userMap(int(0, U32)),
  'access.user_max_unique_ips_global_each': int(0, U32),
  'access.user_max_unique_ips_mode': oneOf(['active_window', 'time_window', 'combined']),
  'access.user_max_unique_ips_window_secs': int(1, U32),
  'access.user_source_deny': userMap(cidrs()),
  'access.replay_check_len': int(0, 16_777_216),
  'access.replay_window_secs': int(0, U32),
  'access.ignore_time_skew': bool(),
  'access.user_rate_limits': userMap({
    type: 'object',
    properties: { up_bps: int(0, U64), down_bps: int(0, U64) },
    description: 'a table { up_bps, down_bps }',
  }),
};

/** Schema of an accepted key from telemt's documented type; undefined when it has no simple shape. */
export function schemaFromTelemtType(type: string): JsonSchema | undefined {
  const t = type.trim();
  switch (t) {
    case 'bool':
      return bool();
    case 'u8':
      return int(0, U8);
    case 'u16':
      return int(0, U16);
    case 'u32':
      return int(0, U32);
    case 'u64':
    case 'usize':
      return int(0, U64);
    case 'f32':
    case 'f64':
      return { type: 'number', description: 'a number' };
    case 'String':
    case 'Path':
      return str();
    case 'String[]':
      return list(str(), 'a list of strings');
    case 'IpAddr':
      return fmt('ip', 'an IP address');
    case 'IpAddr[]':
      return list(fmt('ip', 'an IP address'), 'a list of IP addresses');
    case 'IpNetwork[]':
      return cidrs();
    case '4 or 6':
      return oneOf([4, 6]);
    default:
      break;
  }
  const quoted = t.match(/"[^"]*"/g);
  // Only a pure list of string alternatives: `"a", "b", or "c"`.
  if (quoted !== null && t.replace(/"[^"]*"/g, '').replace(/,|\bor\b|\/|\s/g, '') === '') {
    return oneOf(quoted.map((q) => q.slice(1, -1)));
  }
  return undefined;
}

function entrySchema(e: CatalogueEntry): JsonSchema | undefined {
  if (e.status === 'ignored') return undefined;
  return KEY_SCHEMAS[e.path] ?? (e.status === 'accepted' ? schemaFromTelemtType(e.type) : undefined);
}

function table(): JsonSchema {
  return { type: 'object', properties: {}, description: 'a table' };
}

/** Builds the whole-document schema from the catalogue. */
export function buildDocumentSchema(): JsonSchema {
  const root = table();
  for (const e of CATALOGUE) {
    const s = entrySchema(e);
    if (s === undefined) continue;
    const parts = e.path.split('.');
    let node = root;
    for (let i = 0; i < parts.length - 1; i++) {
      const raw = parts[i] as string;
      const isArr = raw.endsWith('[]');
      const name = isArr ? raw.slice(0, -2) : raw;
      const props = (node.properties ??= {});
      let child = props[name];
      if (child === undefined) {
        child = isArr
          ? { type: 'array', maxItems: 1024, items: table(), description: 'an array of tables' }
          : table();
        props[name] = child;
      }
      node = isArr ? (child.items ??= table()) : child;
      if (node.properties === undefined) node.properties = {};
    }
    const leaf = parts[parts.length - 1] as string;
    const props = (node.properties ??= {});
    // A hand-written table schema (server.api) keeps its own properties.
    if (props[leaf] === undefined) props[leaf] = s;
  }
  return root;
}
