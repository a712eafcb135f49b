/** config.toml texts modelled on real deployments (shared/spec/CONFIG-IN-THE-WILD.md). */

export const SECRET_A = '0123456789abcdef0123456789abcdef';
export const SECRET_B = 'fedcba9876543210fedcba9876543210';

export const MINIMAL = `[server]
port = 443

[access.users]
alice = "${SECRET_A}"
`;

/** An installer's output: CRLF, Cyrillic comments, trailing comments, no final newline,
 * [server.api] after [[upstreams]], [server] last, a key from another tool. */
export const INSTALLER_CRLF = [
  '# === Конфигурация telemt ===',
  '# Сгенерировано установщиком',
  '[general]',
  'use_middle_proxy = false # без ME',
  'log_level = "normal"',
  'fast_mode = true',
  '',
  '[general.modes]',
  'classic = false',
  'secure = false',
  'tls = true',
  '',
  '[general.links]',
  'show = "*"',
  'public_host = "proxy.example.net" # адрес для ссылок',
  '',
  '[censorship]',
  'tls_domain = "www.google.com"',
  'mask = true',
  'tls_emulation = true',
  'tls_front_dir = "tlsfront"',
  'mask_proxy_protocol = 1',
  '',
  '[access]',
  'replay_check_len = 65536',
  'ignore_time_skew = false',
  '',
  '[access.users]',
  `# Пользователь: "Иван"`,
  `ivan = "${SECRET_A}"`,
  `maria_2 = "${SECRET_B.toUpperCase()}"`,
  '',
  '[access.user_max_unique_ips]',
  'ivan = 0',
  'maria_2 = 3',
  '',
  '[[upstreams]]',
  'type = "direct"',
  'weight = 10',
  'enabled = true',
  '',
  '[server.api]',
  'enabled = true',
  'listen = "127.0.0.1:9091"',
  'whitelist = ["127.0.0.1", "::1", "10.0.0.0/8"]',
  '',
  '[server]',
  'port = 8443',
  'stats_listen = "127.0.0.1:8888"',
  'max_connections = 0',
].join('\r\n');

/** telemt 3.0–3.2 era spellings. */
export const LEGACY = `show_link = ["alice"]

[general]
prefer_ipv6 = true
middle_proxy_nat_stun = "stun.example.org:3478"
proxy_secret_auto_reload_secs = 7200
proxy_config_auto_reload_secs = 3600
ad_tag = "00000000000000000000000000000000"

[network]
ipv6 = true

[timeouts]
tg_connect = 7
client_handshake = 15

[server]
port = 443
listen_addr_ipv4 = "0.0.0.0"
listen_addr_ipv6 = "::"

[server.admin_api]
enabled = true
listen = "[::1]:9091"
request_body_limit_bytes = 1024

[access.users]
alice = "${SECRET_A}"
`;

/** Everything mtedge reads, set to non-default values. */
export const FULL = `dc_overrides = { "2" = "127.0.0.1:20443", "203" = ["127.0.0.1:20444", "[::1]:20445"], "4" = "" }
default_dc = 2

[general]
use_middle_proxy = true
ad_tag = "1234567890abcdef1234567890abcdef"
log_level = "debug"
me2dc_fallback = false
fast_mode = false
tg_connect = 5
config_strict = false
quota_state_path = "/var/lib/mtedge/quota.json"
data_path = "/var/lib/mtedge"
workers = 2
update_every = 600
middle_proxy_nat_ip = "203.0.113.7"

[general.modes]
classic = true
secure = true
tls = false

[general.links]
show = ["alice", "bob"]
public_host = "proxy.example.com"
public_port = 8443

[network]
ipv4 = true
ipv6 = false
prefer = 4
stun_use = false
stun_servers = ["stun.example.org:3478"]

[server]
port = 8443
proxy_protocol = true
proxy_protocol_header_timeout_ms = 250
proxy_protocol_trusted_cidrs = ["10.0.0.0/8"]
max_connections = 5000
listen_backlog = 512
metrics_port = 9090
metrics_whitelist = ["127.0.0.1/32"]

[[server.listeners]]
ip = "127.0.0.1"
announce = "proxy.example.com"

[[server.listeners]]
ip = "::1"
port = 9443
proxy_protocol = false

[server.api]
enabled = true
listen = "127.0.0.1:9191"
whitelist = []
auth_header = "Bearer token"
request_body_limit_bytes = 1048576
minimal_runtime_enabled = false
minimal_runtime_cache_ttl_ms = 0
runtime_edge_enabled = true
runtime_edge_cache_ttl_ms = 60000
runtime_edge_top_n = 1000
runtime_edge_events_capacity = 16
read_only = true

[timeouts]
client_handshake = 10
client_first_byte_idle_secs = 0
client_keepalive = 30
client_ack = 60
relay_client_idle_hard_secs = 600

[censorship]
tls_domain = "example.com"
tls_domains = ["example.org", "example.com"]
unknown_sni_action = "mask"
mask = false
mask_host = "127.0.0.1"
mask_port = 8444
mask_proxy_protocol = 2
fake_cert_len = 1024
tls_emulation = false
mask_relay_max_bytes = 1048576
mask_relay_timeout_ms = 30000
mask_relay_idle_timeout_ms = 2000

[access]
user_max_tcp_conns_global_each = 100
user_max_unique_ips_global_each = 5
user_max_unique_ips_mode = "combined"
user_max_unique_ips_window_secs = 60
replay_check_len = 1024
replay_window_secs = 60
ignore_time_skew = true

[access.users]
alice = "${SECRET_A}"
bob = "${SECRET_B}"

[access.user_enabled]
bob = false

[access.user_ad_tags]
alice = "abcdefabcdefabcdefabcdefabcdefab"

[access.user_max_tcp_conns]
alice = 10

[access.user_expirations]
alice = "2030-01-01T00:00:00Z"

[access.user_data_quota]
alice = 1073741824

[access.user_max_unique_ips]
alice = 0

[access.user_source_deny]
bob = ["192.0.2.0/24", "2001:db8::/32"]

[access.user_rate_limits]
alice = { up_bps = 1000000, down_bps = 2000000 }
`;
