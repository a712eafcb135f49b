/** GET/PATCH /v1/config and the reload endpoints (telemt-API.md "Config Endpoints"). */
import { replaceSectionValues } from '@mtedge/config';
import { ApiError } from '../http/errors.js';
import { EDITABLE_SECTIONS } from '../schemas/index.js';
import type { Handler } from './context.js';
import { checkIfMatch, commit, mapConfigError, splice } from './mutation.js';
import { acceptedView, type FailurePolicy, type ReloadMode } from './reload-registry.js';

const EDITABLE: ReadonlySet<string> = new Set(EDITABLE_SECTIONS);

/** Plain JSON copy (TOML dates become ISO strings). */
function toJson(v: unknown): unknown {
  return JSON.parse(JSON.stringify(v)) as unknown;
}

export const getConfig: Handler = ({ cp }) => {
  const snap = cp.current();
  const data: Record<string, unknown> = { revision: snap.revision };
  for (const section of EDITABLE_SECTIONS) {
    if (Object.hasOwn(snap.raw, section)) data[section] = toJson(snap.raw[section]);
  }
  return { data, revision: snap.revision };
};

interface ReloadOptions {
  readonly mode: ReloadMode;
  readonly failurePolicy: FailurePolicy;
  readonly timeoutSecs: number | undefined;
}

function reloadOptions(mode: unknown, timeout: unknown, policy: unknown): ReloadOptions {
  const m = mode ?? 'instant';
  if (m !== 'instant' && m !== 'drain') throw new ApiError('bad_request', 'mode: must be `instant` or `drain`');
  const p = policy ?? 'keep_new';
  if (p !== 'keep_new' && p !== 'rollback') throw new ApiError('bad_request', 'failure_policy: must be `keep_new` or `rollback`');
  let t: number | undefined;
  if (timeout !== undefined) {
    t = typeof timeout === 'number' ? timeout : /^[0-9]{1,4}$/.test(String(timeout)) ? Number(timeout) : NaN;
    if (!Number.isInteger(t) || t < 1 || t > 3600) throw new ApiError('bad_request', 'timeout_secs: must be an integer in 1..3600');
  }
  if (m === 'drain' && t === undefined) throw new ApiError('bad_request', 'timeout_secs: required with mode `drain`');
  if (m === 'instant' && t !== undefined) throw new ApiError('bad_request', 'timeout_secs: invalid with mode `instant`');
  return { mode: m, failurePolicy: p, timeoutSecs: t };
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export const patchConfig: Handler = (ctx) => {
  const body = ctx.body as Record<string, unknown>;
  const keys = Object.keys(body);
  if (keys.includes('access')) throw new ApiError('access_not_editable', 'access is managed via the users API');
  const bad = keys.find((k) => !EDITABLE.has(k));
  if (bad !== undefined) throw new ApiError('section_not_editable', `Section \`${bad}\` is not editable`);
  if (keys.length === 0) throw new ApiError('bad_request', 'Empty patch: no editable sections');
  const reloadQuery = ctx.query.get('reload');
  const reload =
    reloadQuery === null
      ? undefined
      : reloadOptions(reloadQuery, ctx.query.get('timeout_secs') ?? undefined, ctx.query.get('failure_policy') ?? undefined);
  return ctx.state.lock.run(async () => {
    const snap = ctx.cp.current();
    checkIfMatch(ctx.ifMatch, snap.revision);
    if (reload !== undefined && ctx.state.reloads.inProgress()) throw new ApiError('reload_in_progress', 'Another reload is in progress');
    let text = snap.text;
    for (const section of keys) {
      const value = body[section];
      if (isPlainObject(value)) {
        try {
          text = replaceSectionValues(text, [section], value);
        } catch (err) {
          throw mapConfigError(err);
        }
      } else if (value === null) {
        text = splice(text, [{ table: [], key: section, remove: true }]);
      } else if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
        text = splice(text, [{ table: [], key: section, value }]);
      } else if (Array.isArray(value) && value.every((x) => typeof x === 'string')) {
        text = splice(text, [{ table: [], key: section, value: value as string[] }]);
      } else {
        throw new ApiError('bad_request', `${section}: this value cannot be written in place`);
      }
    }
    let revision = snap.revision;
    let changed: readonly string[] = [];
    let deferred: readonly string[] = [];
    if (text !== snap.text) {
      const outcome = await commit(ctx.cp, text, snap.revision);
      revision = outcome.snapshot.revision;
      changed = outcome.changed;
      deferred = outcome.deferred_process_fields;
    }
    const data: Record<string, unknown> = {
      revision,
      restart_required: deferred.length > 0,
      // The commit path applies every supported field in-process; nothing waits for a reload.
      runtime_reload_required: false,
      process_restart_required: deferred.length > 0,
      deferred_process_fields: [...deferred],
      changed: [...changed],
    };
    if (reload === undefined) return { data, revision };
    const rec = ctx.state.reloads.begin({ revision, ...reload });
    ctx.state.reloads.succeed(rec, revision, deferred);
    data['reload'] = acceptedView(rec);
    return { status: 202, data, revision };
  });
};

export const systemReload: Handler = (ctx) => {
  const body = (ctx.body ?? {}) as Record<string, unknown>;
  const opts = reloadOptions(body['mode'], body['timeout_secs'], body['failure_policy']);
  return ctx.state.lock.run(async () => {
    const snap = ctx.cp.current();
    checkIfMatch(ctx.ifMatch, snap.revision);
    if (ctx.state.reloads.inProgress()) throw new ApiError('reload_in_progress', 'Another reload is in progress');
    const rec = ctx.state.reloads.begin({ revision: snap.revision, ...opts });
    try {
      const outcome = await ctx.cp.reloadFromDisk();
      ctx.state.reloads.succeed(rec, outcome.snapshot.revision, outcome.deferred_process_fields);
      return { status: 202, data: acceptedView(rec), revision: outcome.snapshot.revision };
    } catch (err) {
      const mapped = mapConfigError(err);
      ctx.state.reloads.fail(rec, mapped.message);
      throw mapped;
    }
  });
};

export const systemReloadStatus: Handler = ({ state, params }) => {
  const raw = params['id'] ?? '';
  const rec = /^[0-9]{1,15}$/.test(raw) ? state.reloads.get(Number(raw)) : undefined;
  if (rec === undefined) throw new ApiError('not_found', 'Reload operation not found');
  return { data: { ...rec } };
};

