import { catalogueEntry, isKnownTable, isMapEntry } from './catalogue.js';
import { ConfigError } from './errors.js';
import { freezeDeep } from './freeze.js';
import { isTable, mapLegacyKeys } from './legacy.js';
import { locateKey, type PathPart } from './locate.js';
import { resolveConfig } from './resolve.js';
import { computeRevision } from './revision.js';
import { copyTable, parseToml, type PlainTable, type PlainValue } from './toml.js';
import type { ConfigSnapshot, ConfigWarning, EdgeConfig } from './types.js';
import { validateDocument } from './validate.js';

const ZERO_TAG = /^0{32}$/;

/**
 * Parses, validates and resolves a config.toml text. Throws ConfigError only; everything else
 * worth telling the operator comes back as warnings. `path` names the file in messages.
 */
export function parseConfigText(text: string, path: string): ConfigSnapshot {
  return parseWithRevision(text, path, computeRevision(text));
}

/** Same as parseConfigText with the revision of the file's bytes supplied by the caller. */
export function parseWithRevision(text: string, path: string, revision: string): ConfigSnapshot {
  const file = path === '' ? 'config.toml' : path;
  const raw = parseToml(text, file);
  const work = copyTable(raw);
  const warnings: ConfigWarning[] = [];
  const g = work['general'];
  // Read before validation (which may refuse the unknown keys); 1 counts as true there too.
  const strict = isTable(g) && (g['config_strict'] === true || g['config_strict'] === 1);

  const unsupported: string[] = [];
  scanKeys(work, [], { text, file, strict, warnings, unsupported });
  if (unsupported.length > 0) {
    warnings.push({
      code: 'MTE_WARN_UNSUPPORTED_KEYS',
      key: unsupported[0] as string,
      message: `telemt keys with no effect in mtedge (read and ignored): ${unsupported.join(', ')}`,
    });
  }
  if (typeof work['include'] === 'string') {
    warnings.push({
      code: 'MTE_WARN_INCLUDE_IGNORED',
      key: 'include',
      message: `include = ${JSON.stringify(work['include'])} is not expanded by mtedge; put those keys in this file`,
    });
  }

  validateDocument(work, { text, file }, warnings);
  mapLegacyKeys(work, warnings);
  const config = resolveConfig(work);
  semanticWarnings(config, warnings);

  return freezeDeep({ path, text, revision, config, raw, warnings }) as ConfigSnapshot;
}

interface ScanCtx {
  readonly text: string;
  readonly file: string;
  readonly strict: boolean;
  readonly warnings: ConfigWarning[];
  readonly unsupported: string[];
}

/** Walks the document against the catalogue: unknown keys warn (or fail under config_strict). */
function scanKeys(t: PlainTable, path: readonly string[], ctx: ScanCtx): void {
  for (const k of Object.keys(t)) {
    const v = t[k] as PlainValue;
    const here = [...path, k];
    // Keys under the [server.admin_api] alias are catalogued under server.api.
    const p = here.join('.').replace(/^server\.admin_api\./, 'server.api.');
    const entry = catalogueEntry(p);
    if (entry !== undefined) {
      // A container table (logging, server.conntrack_control) is listed through its keys.
      const container = entry.type.startsWith('Table') && (isTable(v) || Array.isArray(v));
      if (entry.status !== 'supported' && !container && !ctx.unsupported.includes(p)) ctx.unsupported.push(p);
      if (isMapEntry(entry)) continue;
    }
    if (Array.isArray(v) && v.length > 0 && v.every(isTable) && (entry !== undefined || isKnownTable(`${p}[]`))) {
      for (const item of v) scanKeys(item as PlainTable, [...path, `${k}[]`], ctx);
      continue;
    }
    if (isTable(v) && (entry !== undefined || isKnownTable(p))) {
      scanKeys(v, here, ctx);
      continue;
    }
    if (entry !== undefined) continue;
    unknownKey(here, ctx);
  }
}

function unknownKey(path: readonly string[], ctx: ScanCtx): void {
  const key = path.join('.').replace(/\[\]/g, '');
  if (ctx.strict) {
    const locPath: PathPart[] = path.flatMap((s) => (s.endsWith('[]') ? [s.slice(0, -2), 0] : [s]));
    const pos = locateKey(ctx.text, locPath);
    throw new ConfigError('MTE_ERR_CONFIG_VALUE', 'unknown key (refused because general.config_strict = true)', {
      key,
      file: ctx.file,
      line: pos?.line,
      column: pos?.column,
    });
  }
  ctx.warnings.push({ code: 'MTE_WARN_UNKNOWN_KEY', key, message: `unknown key ${key} is ignored` });
}

function semanticWarnings(c: EdgeConfig, warnings: ConfigWarning[]): void {
  const users = Object.keys(c.access.users);
  if (users.length === 0) {
    warnings.push({
      code: 'MTE_WARN_NO_USERS',
      key: 'access.users',
      message: 'no users in [access.users]: the proxy accepts no clients until users are added',
    });
  }
  if (c.general.ad_tag !== undefined) {
    if (!c.general.use_middle_proxy) {
      warnings.push({
        code: 'MTE_WARN_AD_TAG_NO_EFFECT',
        key: 'general.ad_tag',
        message: 'general.ad_tag has no effect while general.use_middle_proxy = false',
      });
    }
    if (ZERO_TAG.test(c.general.ad_tag)) {
      warnings.push({ code: 'MTE_WARN_AD_TAG_ZERO', key: 'general.ad_tag', message: 'general.ad_tag is all zeros' });
    }
  }
  for (const [user, tag] of Object.entries(c.access.user_ad_tags)) {
    if (ZERO_TAG.test(tag)) {
      warnings.push({
        code: 'MTE_WARN_AD_TAG_ZERO',
        key: `access.user_ad_tags.${user}`,
        message: `access.user_ad_tags.${user} is all zeros`,
      });
    }
  }
  if (!c.general.use_middle_proxy && Object.keys(c.access.user_ad_tags).length > 0) {
    warnings.push({
      code: 'MTE_WARN_AD_TAG_NO_EFFECT',
      key: 'access.user_ad_tags',
      message: 'access.user_ad_tags have no effect while general.use_middle_proxy = false',
    });
  }
  const known = new Set(users);
  const maps: [string, Readonly<Record<string, unknown>>][] = [
    ['user_enabled', c.access.user_enabled],
    ['user_ad_tags', c.access.user_ad_tags],
    ['user_max_tcp_conns', c.access.user_max_tcp_conns],
    ['user_expirations', c.access.user_expirations],
    ['user_data_quota', c.access.user_data_quota],
    ['user_max_unique_ips', c.access.user_max_unique_ips],
    ['user_source_deny', c.access.user_source_deny],
    ['user_rate_limits', c.access.user_rate_limits],
  ];
  for (const [name, m] of maps) {
    const strays = Object.keys(m).filter((u) => !known.has(u));
    if (strays.length > 0) {
      warnings.push({
        code: 'MTE_WARN_UNKNOWN_USER_REF',
        key: `access.${name}`,
        message: `access.${name} names users not in [access.users]: ${strays.join(', ')}`,
      });
    }
  }
}
