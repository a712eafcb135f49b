import { quoteKey } from './splice.js';

export interface DefaultConfigOptions {
  readonly username: string;
  readonly secretHex: string;
  readonly port: number;
  readonly apiListen: string;
  readonly tlsDomain: string;
}

/**
 * The commented config.toml mtedge writes on first start when none exists. It is a valid telemt
 * file too. Callers pass validated inputs; parseConfigText on the result is the final check.
 */
export function renderDefaultConfig(o: DefaultConfigOptions): string {
  const s = (v: string): string => JSON.stringify(v);
  return `# mtedge configuration (telemt-compatible config.toml).
# Reference: docs/CONFIG.md. Edits are picked up on SIGHUP or through the Control API.

[general]
# Direct connections to Telegram DCs. The Middle-End (needed for ad_tag) is off.
use_middle_proxy = false
log_level = "normal"
# Data-plane worker threads; 0 = one per CPU core.
workers = 0

[general.modes]
# classic = plain obfuscated2 ("secret"), secure = "dd" + secret, tls = "ee" fake-TLS.
classic = false
secure = true
tls = true

[general.links]
show = "*"

[server]
port = ${o.port}

[server.api]
enabled = true
listen = ${s(o.apiListen)}
# Source addresses allowed to use the API; an empty list allows everyone.
whitelist = ["127.0.0.0/8", "::1/128"]

[censorship]
# Domain the fake-TLS handshake presents; probes that fail the handshake are relayed to it.
tls_domain = ${s(o.tlsDomain)}
mask = true

[access.users]
# name = 32 hex characters
${quoteKey(o.username)} = ${s(o.secretHex)}
`;
}
