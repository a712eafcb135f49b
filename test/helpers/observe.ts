/**
 * What an operator sees of a running edge, read through its Control API, plus the few client-side
 * checks every e2e campaign needs (does a client get served, does it get closed).
 */
import { randomBytes } from 'node:crypto';
import { connectClient, type ConnectClientOptions, type SimClient } from '@mtedge/testkit';
import { waitUntil, type EdgeProcess } from './edge.js';

export interface CounterView {
  readonly connectionsTotal: number;
  readonly badTotal: number;
  readonly handshakeTimeouts: number;
  readonly byClass: Readonly<Record<string, number>>;
  readonly byStage: Readonly<Record<string, number>>;
  readonly upstream: Readonly<Record<string, number>>;
}

function rows(list: readonly Record<string, unknown>[], key: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of list) out[String(r[key])] = Number(r['total']);
  return out;
}

/** /v1/stats/zero/all, with the by-class and by-stage lists turned into maps. */
export async function counters(edge: EdgeProcess): Promise<CounterView> {
  const res = await edge.api('/v1/stats/zero/all');
  if (res.status !== 200) throw new Error(`/v1/stats/zero/all answered ${res.status}`);
  const core = res.body.data.core;
  return {
    connectionsTotal: core.connections_total,
    badTotal: core.connections_bad_total,
    handshakeTimeouts: core.handshake_timeouts_total,
    byClass: rows(core.connections_bad_by_class, 'class'),
    byStage: rows(core.handshake_failures_by_stage, 'stage'),
    upstream: res.body.data.upstream,
  };
}

/** How much a by-class / by-stage counter grew between two views. */
export function grew(before: Readonly<Record<string, number>>, after: Readonly<Record<string, number>>, label: string): number {
  return (after[label] ?? 0) - (before[label] ?? 0);
}

export interface EdgeEvent {
  readonly seq: number;
  readonly event_type: string;
  readonly context: string;
}

export async function recentEvents(edge: EdgeProcess, limit = 1000): Promise<EdgeEvent[]> {
  const res = await edge.api(`/v1/runtime/events/recent?limit=${limit}`);
  if (res.status !== 200) throw new Error(`/v1/runtime/events/recent answered ${res.status}`);
  return res.body.data.data.events as EdgeEvent[];
}

/** Worker indexes named in the contexts of events of `type` newer than `afterSeq`. */
export function workersOf(events: readonly EdgeEvent[], type: string, afterSeq = -1): Set<number> {
  const out = new Set<number>();
  for (const e of events) {
    if (e.event_type !== type || e.seq <= afterSeq) continue;
    const m = /\bworker=(\d+)\b/.exec(e.context);
    if (m) out.add(Number(m[1]));
  }
  return out;
}

export async function lastSeq(edge: EdgeProcess): Promise<number> {
  const ev = await recentEvents(edge, 1);
  return ev.length > 0 ? ev[ev.length - 1]!.seq : -1;
}

export async function waitForEvent(edge: EdgeProcess, pred: (e: EdgeEvent) => boolean, timeoutMs: number, what: string): Promise<EdgeEvent> {
  let found: EdgeEvent | undefined;
  await waitUntil(async () => (found = (await recentEvents(edge)).find(pred)) !== undefined, timeoutMs, what);
  return found!;
}

export interface UserView {
  readonly username: string;
  readonly current_connections: number;
  readonly active_unique_ips_list: string[];
  readonly total_octets: number;
  readonly [k: string]: unknown;
}

export async function user(edge: EdgeProcess, name: string): Promise<UserView> {
  const res = await edge.api(`/v1/users/${name}`);
  if (res.status !== 200) throw new Error(`/v1/users/${name} answered ${res.status}: ${JSON.stringify(res.body)}`);
  return res.body.data as UserView;
}

/** Live connections over every worker, summed from the per-worker stripes. */
export async function liveConnections(edge: EdgeProcess): Promise<number> {
  const res = await edge.api('/v1/runtime/connections/summary');
  return res.body.data.data.totals.current_connections;
}

/** Sends `n` random bytes and checks that the fake DC echo comes back intact. */
export async function echoes(client: SimClient, n = 4096, timeoutMs = 5000): Promise<void> {
  const before = client.bytesReceived;
  const payload = randomBytes(n);
  client.send(payload);
  const got = await client.waitForBytes(before + n, timeoutMs);
  if (!got.subarray(before, before + n).equals(payload)) throw new Error('echoed bytes differ');
}

/** Connects and proves the session relays; throws if the edge refused it. */
export async function served(o: ConnectClientOptions): Promise<SimClient> {
  const c = await connectClient(o);
  try {
    await echoes(c, 1024);
  } catch (err) {
    c.destroy();
    throw err;
  }
  return c;
}

/**
 * A client the edge must refuse: the handshake may complete on our side (obfuscated2 has no
 * server reply), but the edge closes it and nothing is relayed. Resolves with what happened.
 */
export async function refused(o: ConnectClientOptions, timeoutMs = 5000): Promise<{ closed: boolean; relayed: number }> {
  let c: SimClient;
  try {
    c = await connectClient(o);
  } catch {
    // A fake-TLS handshake that the edge closes fails on our side already.
    return { closed: true, relayed: 0 };
  }
  c.send(randomBytes(256));
  const closed = await Promise.race([c.closed.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), timeoutMs))]);
  const relayed = c.bytesReceived;
  c.destroy();
  return { closed, relayed };
}
