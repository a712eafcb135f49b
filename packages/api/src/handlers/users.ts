/**
 * /v1/users/*. Every mutation runs under the one mutation lock, checks If-Match against the
 * current revision, edits only `access.*` tables with spliceConfig (comments survive), and
 * commits through the control plane (telemt-API.md "Mutation Semantics").
 */
import { Buffer } from 'node:buffer';
import type { ConfigEdit, ConfigSnapshot } from '@mtedge/config';
import nacl from 'tweetnacl';
import { ApiError } from '../http/errors.js';
import type { Handler, HandlerContext, HandlerResult } from './context.js';
import { checkIfMatch, commit, splice } from './mutation.js';
import { requireUser, sortedUserInfos, userInfo } from './user-view.js';

const USERS = ['access', 'users'] as const;
const ENABLED = ['access', 'user_enabled'] as const;
const RATE = ['access', 'user_rate_limits'] as const;

/** Request field -> `access.<map>` it lives in. */
const MAP_FIELDS = [
  ['user_ad_tag', 'user_ad_tags'],
  ['max_tcp_conns', 'user_max_tcp_conns'],
  ['expiration_rfc3339', 'user_expirations'],
  ['data_quota_bytes', 'user_data_quota'],
  ['max_unique_ips', 'user_max_unique_ips'],
] as const;

type Body = Readonly<Record<string, unknown>>;

function generateSecret(): string {
  return Buffer.from(nacl.randomBytes(16)).toString('hex');
}

function bodyOf(ctx: HandlerContext): Body {
  return (ctx.body ?? {}) as Body;
}

function checkExpiration(v: unknown): void {
  if (typeof v === 'string' && Number.isNaN(Date.parse(v))) {
    throw new ApiError('bad_request', 'expiration_rfc3339: invalid RFC3339 timestamp');
  }
}

/**
 * The preamble every mutation of an existing user shares: under the mutation lock, check
 * If-Match against the current revision and that the user exists, then run `fn`.
 */
function userMutation(
  fn: (ctx: HandlerContext, snap: ConfigSnapshot, username: string, body: Body) => Promise<HandlerResult>,
): Handler {
  return (ctx) =>
    ctx.state.lock.run(async () => {
      const username = ctx.params['username'] ?? '';
      const snap = ctx.cp.current();
      checkIfMatch(ctx.ifMatch, snap.revision);
      requireUser(snap, username);
      return fn(ctx, snap, username, bodyOf(ctx));
    });
}

function respondUser(ctx: HandlerContext, snap: ConfigSnapshot, username: string, status = 200): HandlerResult {
  return { status, data: userInfo(ctx.cp, snap, username, ctx.cp.runtimeUsers()), revision: snap.revision };
}

/**
 * `access.user_rate_limits.<user>` is a table ({ up_bps, down_bps }), written either inline
 * (`alice = { ... }`) or as `[access.user_rate_limits.alice]`. An inline entry is removed first
 * (its own splice, verified alone) and the result written as a sub-table.
 */
function spliceRateLimit(text: string, username: string, up: number | undefined, down: number | undefined): string {
  let base = text;
  let hadInline = false;
  try {
    base = splice(text, [{ table: RATE, key: username, remove: true }]);
    hadInline = base !== text;
  } catch {
    // The entry is a [access.user_rate_limits.<user>] sub-table: edit its keys in place.
  }
  const table = [...RATE, username];
  const edits: ConfigEdit[] = [];
  if (up !== undefined) edits.push({ table, key: 'up_bps', value: up });
  else if (!hadInline) edits.push({ table, key: 'up_bps', remove: true });
  if (down !== undefined) edits.push({ table, key: 'down_bps', value: down });
  else if (!hadInline) edits.push({ table, key: 'down_bps', remove: true });
  return splice(base, edits);
}

export const listUsers: Handler = ({ cp }) => ({ data: sortedUserInfos(cp) });

export const getUser: Handler = (ctx) => respondUser(ctx, ctx.cp.current(), ctx.params['username'] ?? '');

export const createUser: Handler = (ctx) =>
  ctx.state.lock.run(async () => {
    const body = bodyOf(ctx);
    const username = body['username'] as string;
    const snap = ctx.cp.current();
    checkIfMatch(ctx.ifMatch, snap.revision);
    if (Object.hasOwn(snap.config.access.users, username)) throw new ApiError('user_exists', 'User already exists');
    checkExpiration(body['expiration_rfc3339']);
    const secret = typeof body['secret'] === 'string' ? body['secret'] : generateSecret();
    const edits: ConfigEdit[] = [{ table: USERS, key: username, value: secret }];
    for (const [field, map] of MAP_FIELDS) {
      const v = body[field];
      if (typeof v === 'string' || typeof v === 'number') edits.push({ table: ['access', map], key: username, value: v });
    }
    if (body['enabled'] === false) edits.push({ table: ENABLED, key: username, value: false });
    let text = splice(snap.text, edits);
    const up = body['rate_limit_up_bps'];
    const down = body['rate_limit_down_bps'];
    if (typeof up === 'number' || typeof down === 'number') {
      text = spliceRateLimit(text, username, typeof up === 'number' ? up : undefined, typeof down === 'number' ? down : undefined);
    }
    const outcome = await commit(ctx.cp, text, snap.revision);
    const user = userInfo(ctx.cp, outcome.snapshot, username, ctx.cp.runtimeUsers());
    return { status: 201, data: { user, secret }, revision: outcome.snapshot.revision };
  });

export const patchUser: Handler = userMutation(async (ctx, snap, username, body) => {
  checkExpiration(body['expiration_rfc3339']);
  const edits: ConfigEdit[] = [];
  let disconnect = false;
  if (typeof body['secret'] === 'string') {
    edits.push({ table: USERS, key: username, value: body['secret'] });
    disconnect = body['secret'] !== snap.config.access.users[username];
  }
  for (const [field, map] of MAP_FIELDS) {
    if (!Object.hasOwn(body, field)) continue;
    const v = body[field];
    if (v === null) edits.push({ table: ['access', map], key: username, remove: true });
    else if (typeof v === 'string' || typeof v === 'number') edits.push({ table: ['access', map], key: username, value: v });
  }
  if (Object.hasOwn(body, 'enabled')) {
    if (body['enabled'] === false) {
      edits.push({ table: ENABLED, key: username, value: false });
      disconnect = true;
    } else {
      edits.push({ table: ENABLED, key: username, remove: true });
    }
  }
  let text = splice(snap.text, edits);
  if (Object.hasOwn(body, 'rate_limit_up_bps') || Object.hasOwn(body, 'rate_limit_down_bps')) {
    const cur = Object.hasOwn(snap.config.access.user_rate_limits, username) ? snap.config.access.user_rate_limits[username] : undefined;
    const pickDir = (field: string, current: number | undefined): number | undefined => {
      if (!Object.hasOwn(body, field)) return current;
      const v = body[field];
      return typeof v === 'number' ? v : undefined;
    };
    const up = pickDir('rate_limit_up_bps', cur?.up_bps);
    const down = pickDir('rate_limit_down_bps', cur?.down_bps);
    if (up !== cur?.up_bps || down !== cur?.down_bps) text = spliceRateLimit(text, username, up, down);
  }
  if (text === snap.text) return respondUser(ctx, snap, username);
  const outcome = await commit(ctx.cp, text, snap.revision);
  if (disconnect) ctx.cp.disconnectUser(username);
  return respondUser(ctx, outcome.snapshot, username);
});

/** Every `access.user_*` map (as written in the file) that has an entry for `username`. */
function accessMapsWith(snap: ConfigSnapshot, username: string): string[] {
  const access = snap.raw['access'];
  const maps = new Set<string>();
  if (typeof access === 'object' && access !== null) {
    for (const [name, value] of Object.entries(access as Record<string, unknown>)) {
      if (name.startsWith('user_') && typeof value === 'object' && value !== null && Object.hasOwn(value, username)) maps.add(name);
    }
  }
  return [...maps];
}

export const deleteUser: Handler = userMutation(async (ctx, snap, username) => {
  if (Object.keys(snap.config.access.users).length <= 1) {
    throw new ApiError('last_user_forbidden', 'Cannot delete the last configured user');
  }
  const maps = accessMapsWith(snap, username);
  const edits: ConfigEdit[] = [{ table: USERS, key: username, remove: true }];
  for (const map of maps) if (map !== 'user_rate_limits') edits.push({ table: ['access', map], key: username, remove: true });
  let text = splice(snap.text, edits);
  if (maps.includes('user_rate_limits')) text = spliceRateLimit(text, username, undefined, undefined);
  const outcome = await commit(ctx.cp, text, snap.revision);
  ctx.cp.disconnectUser(username);
  return {
    data: { username, in_runtime: ctx.cp.runtimeUsers().has(username) },
    revision: outcome.snapshot.revision,
  };
});

export const rotateSecret: Handler = userMutation(async (ctx, snap, username, body) => {
  const secret = typeof body['secret'] === 'string' ? body['secret'] : generateSecret();
  const outcome = await commit(ctx.cp, splice(snap.text, [{ table: USERS, key: username, value: secret }]), snap.revision);
  ctx.cp.disconnectUser(username);
  const user = userInfo(ctx.cp, outcome.snapshot, username, ctx.cp.runtimeUsers());
  return { data: { user, secret }, revision: outcome.snapshot.revision };
});

export const enableUser: Handler = userMutation(async (ctx, snap, username) => {
  if (!Object.hasOwn(snap.config.access.user_enabled, username)) return respondUser(ctx, snap, username);
  const outcome = await commit(ctx.cp, splice(snap.text, [{ table: ENABLED, key: username, remove: true }]), snap.revision);
  return respondUser(ctx, outcome.snapshot, username);
});

export const disableUser: Handler = userMutation(async (ctx, snap, username) => {
  let current = snap;
  if (snap.config.access.user_enabled[username] !== false) {
    current = (await commit(ctx.cp, splice(snap.text, [{ table: ENABLED, key: username, value: false }]), snap.revision)).snapshot;
  }
  ctx.cp.disconnectUser(username);
  return respondUser(ctx, current, username);
});

export const resetQuota: Handler = userMutation(async (ctx, snap, username) => {
  const r = await ctx.cp.resetUserQuota(username);
  return { data: { username, used_bytes: 0, last_reset_epoch_secs: r.last_reset_epoch_secs }, revision: snap.revision };
});
