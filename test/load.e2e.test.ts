/**
 * CI load test: the built binary with 2 workers under a bounded mixed run — hundreds of
 * concurrent bulk clients (classic, dd, ee), a stream of short connections, probes with wrong
 * secrets or none, replays — while a scraper polls the Control API without pause. Asserts only
 * what must be exact: bytes sent = relayed = counted, every valid client served, every invalid one
 * masked, no worker crash, no API error, no leaked socket, RSS back near its start. No timing.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  MASK_HOST_HTTP_RESPONSE,
  connectClient,
  garbageProbe,
  httpGetProbe,
  obf2Initiate,
  runLoad,
  sendRawProbe,
  startFakeDc,
  startMaskHost,
  wrongSecretTlsProbe,
  type ClientMode,
  type FakeDc,
  type LoadResult,
  type MaskHost,
} from '@mtedge/testkit';
import { edgeConfigToml, freePort, randomSecretHex, startEdge, waitUntil, type EdgeProcess, type TestUser } from './helpers/edge.js';

const DOMAIN = 'front.example.com';
const USERS: TestUser[] = Array.from({ length: 5 }, (_, i) => ({ name: `load${i}`, secretHex: randomSecretHex() }));
const SECRETS = USERS.map((u) => Buffer.from(u.secretHex, 'hex'));
const MODES: readonly ClientMode[] = ['classic', 'secure', 'tls'];

// The shape of the run. Bounded by bytes and by time, whichever comes first.
const BULK_CLIENTS = 240; // 16 KiB writes
const SMALL_CLIENTS = 60; // ~700-byte writes: many frames per read, partial TLS records
const RUN_MS = 15_000;
const SHORT_WORKERS = 12;
const PROBES = 40;
const MIB = 1024 * 1024;

let dc: FakeDc;
let mask: MaskHost;
let edge: EdgeProcess;
let edgePid = 0;
let stopScraper: (() => Promise<unknown>) | undefined;

function rssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]);
}

before(async () => {
  dc = await startFakeDc({ mode: 'echo' });
  mask = await startMaskHost({ reply: 'http' });
  const apiPort = await freePort();
  edge = await startEdge(edgeConfigToml({ users: USERS, dcPort: dc.port, maskPort: mask.port, apiPort, tlsDomain: DOMAIN, workers: 2 }), { apiPort });
  const ready = /MTEDGE_READY (\{.*\})/.exec(edge.output());
  edgePid = (JSON.parse(ready![1]!) as { pid: number }).pid;
});

after(async () => {
  // A failed assertion leaves the scraper running: stop it before the edge goes away.
  await stopScraper?.();
  await edge?.stop();
  await dc?.close();
  await mask?.close();
});

interface Scrape {
  count: number;
  failures: string[];
}

/** Polls the two stats routes back to back until stopped; records every non-200 or ok:false. */
function startScraper(): { stop: () => Promise<Scrape> } {
  const r: Scrape = { count: 0, failures: [] };
  let running = true;
  const loop = (async () => {
    const paths = ['/v1/stats/zero/all', '/v1/stats/users'];
    for (let i = 0; running; i++) {
      const path = paths[i % paths.length]!;
      try {
        const res = await edge.api<{ ok?: boolean }>(path);
        r.count++;
        // A short breath between scrapes: continuous, but not a CPU-bound spin of its own.
        await new Promise((res) => setTimeout(res, 5));
        if (res.status !== 200 || res.body.ok !== true) r.failures.push(`${path}: ${res.status} ${JSON.stringify(res.body).slice(0, 200)}`);
      } catch (err) {
        r.failures.push(`${path}: ${(err as Error).message}`);
        await new Promise((res) => setTimeout(res, 50));
      }
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return r;
    },
  };
}

interface ShortStats {
  sessions: number;
  bytesByUser: number[];
  failures: string[];
  /** Handshakes of finished sessions, for replays. */
  captured: { mode: ClientMode; bytes: Buffer }[];
}

/** Connect, handshake, one echo round trip, close — in a loop until `until()` says stop. */
async function shortConnections(until: () => boolean): Promise<ShortStats> {
  const st: ShortStats = { sessions: 0, bytesByUser: USERS.map(() => 0), failures: [], captured: [] };
  let n = 0;
  const worker = async (): Promise<void> => {
    while (!until()) {
      const i = n++;
      const mode = MODES[i % MODES.length]!;
      const u = i % USERS.length;
      const payload = randomBytes(64 + (i % 7) * 300);
      try {
        const c = await connectClient({
          host: '127.0.0.1',
          port: edge.port,
          mode,
          secret: SECRETS[u]!,
          domain: DOMAIN,
          dcId: [1, 2, 3, 4, 5, -2][i % 6]!,
          handshakeTimeoutMs: 20_000,
        });
        c.send(payload);
        const got = await c.waitForBytes(payload.length, 20_000);
        if (!got.equals(payload)) st.failures.push(`short ${i} (${mode}): echo differs`);
        c.end();
        await c.closed;
        st.sessions++;
        st.bytesByUser[u]! += payload.length;
        if (st.captured.filter((x) => x.mode === mode).length < 2) st.captured.push({ mode, bytes: mode === 'tls' ? c.capturedHello : c.capturedHandshake });
      } catch (err) {
        st.failures.push(`short ${i} (${mode}): ${(err as Error).message}`);
      }
    }
  };
  await Promise.all(Array.from({ length: SHORT_WORKERS }, worker));
  return st;
}

type ProbeKind = 'http' | 'garbage' | 'obf2-wrong-secret' | 'tls-wrong-secret';
const PROBE_KINDS: readonly ProbeKind[] = ['http', 'garbage', 'obf2-wrong-secret', 'tls-wrong-secret'];

function probeBytes(kind: ProbeKind): Buffer {
  switch (kind) {
    case 'http':
      return httpGetProbe(DOMAIN, `/p${Math.floor(Math.random() * 1e9)}`);
    case 'garbage': {
      // Not a TLS record start, not an HTTP verb: falls through to the obfuscated2 path.
      const g = garbageProbe(256);
      g[0] = 0xef;
      return g;
    }
    case 'obf2-wrong-secret':
      return obf2Initiate({ tag: 'padded', dcId: 2, secret: randomBytes(16) }).init;
    case 'tls-wrong-secret':
      return wrongSecretTlsProbe(DOMAIN);
  }
}

/** A masked connection shows the mask host's answer, byte for byte. */
async function probe(bytes: Buffer): Promise<string | undefined> {
  const r = await sendRawProbe({ host: '127.0.0.1', port: edge.port, bytes, readMs: 20_000, untilBytes: MASK_HOST_HTTP_RESPONSE.length });
  return r.received.equals(MASK_HOST_HTTP_RESPONSE) ? undefined : `got ${r.received.length} bytes (${r.received.subarray(0, 40).toString('hex')}), closed=${r.closed}`;
}

async function probes(spreadMs: number): Promise<{ sent: Buffer[]; failures: string[] }> {
  const sent: Buffer[] = [];
  const failures: string[] = [];
  const runs: Promise<void>[] = [];
  for (let i = 0; i < PROBES; i++) {
    const kind = PROBE_KINDS[i % PROBE_KINDS.length]!;
    runs.push(
      new Promise<void>((r) => setTimeout(r, (spreadMs * i) / PROBES)).then(async () => {
        const bytes = probeBytes(kind);
        sent.push(bytes);
        const f = await probe(bytes);
        if (f !== undefined) failures.push(`${kind} probe ${i}: ${f}`);
      }),
    );
  }
  await Promise.all(runs);
  return { sent, failures };
}

function sentByUser(r: LoadResult): number[] {
  const by = USERS.map(() => 0);
  for (const c of r.clients) by[c.index % USERS.length]! += c.bytesSent;
  return by;
}

test('a mixed load is relayed, counted and masked exactly, with no crash, leak or API error', async () => {
  const rssStart = rssKiB(edgePid);
  const scraper = startScraper();
  stopScraper = scraper.stop;
  let bulkDone = false;

  const bulkRun = runLoad({
    host: '127.0.0.1',
    port: edge.port,
    clients: BULK_CLIENTS,
    mode: MODES,
    secrets: SECRETS,
    domain: DOMAIN,
    bytesPerClient: 2 * MIB,
    durationMs: RUN_MS,
    chunkSize: 16384,
    windowBytes: 128 * 1024,
    concurrencyRampMs: 2000,
    handshakeTimeoutMs: 20_000,
    drainTimeoutMs: 20_000,
  });
  const smallRun = runLoad({
    host: '127.0.0.1',
    port: edge.port,
    clients: SMALL_CLIENTS,
    mode: MODES,
    secrets: SECRETS,
    domain: DOMAIN,
    bytesPerClient: 512 * 1024,
    durationMs: RUN_MS,
    chunkSize: 700,
    windowBytes: 16 * 1024,
    concurrencyRampMs: 2000,
    handshakeTimeoutMs: 20_000,
    drainTimeoutMs: 20_000,
  });
  const both = Promise.all([bulkRun, smallRun]).finally(() => {
    bulkDone = true;
  });
  const shortRun = shortConnections(() => bulkDone);
  const probeRun = probes(RUN_MS * 0.6);
  const t0 = Date.now();
  const [[bulk, small], short, pr] = await Promise.all([both, shortRun, probeRun]);
  const runMs = Date.now() - t0;

  assert.deepEqual(short.failures, [], 'every short connection served');
  // Replays of handshakes that already served a session: refused, and masked like any prober.
  assert.ok(short.captured.some((c) => c.mode !== 'tls') && short.captured.some((c) => c.mode === 'tls'), `captured handshakes of both kinds (${short.sessions} short sessions)`);
  const replays = [short.captured.find((c) => c.mode !== 'tls')!, short.captured.find((c) => c.mode === 'tls')!];
  const replayFailures: string[] = [];
  for (const r of replays) {
    const f = await probe(r.bytes);
    if (f !== undefined) replayFailures.push(`replay (${r.mode}): ${f}`);
  }

  const scrape = await scraper.stop();

  // Every valid client was served, byte for byte.
  const failedBulk = [...bulk.clients, ...small.clients].filter((c) => !c.ok);
  assert.deepEqual(failedBulk.map((c) => `${c.index}/${c.mode}: ${c.error?.code} ${c.error?.message}`), [], 'every bulk client served');
  assert.ok(short.sessions > 0, 'short connections ran');
  // Every invalid one was masked: the prober saw the mask host's answer.
  assert.deepEqual(pr.failures, [], 'every probe masked');
  assert.deepEqual(replayFailures, [], 'every replay masked');
  // No API error under load.
  assert.deepEqual(scrape.failures, [], 'every scrape answered 200 ok:true');
  assert.ok(scrape.count > 0, 'the scraper ran');

  const validSessions = BULK_CLIENTS + SMALL_CLIENTS + short.sessions;
  const masked = PROBES + replays.length;
  const byUser = USERS.map(() => 0);
  for (const r of [bulk, small]) sentByUser(r).forEach((b, i) => (byUser[i]! += b));
  short.bytesByUser.forEach((b, i) => (byUser[i]! += b));
  const totalSent = byUser.reduce((a, b) => a + b, 0);

  // No leaked socket: every leg closes once the clients are gone.
  await waitUntil(() => dc.activeConnections() === 0 && mask.activeConnections() === 0, 20_000, 'fake DC and mask host connections to close');
  const liveTotal = async (): Promise<number> => {
    const r = await edge.api('/v1/runtime/connections/summary');
    assert.equal(r.status, 200);
    assert.equal(r.body.data.enabled, true);
    return r.body.data.data.totals.current_connections as number;
  };
  // The summary is cached for a short TTL: poll until a fresh copy shows 0.
  let live = -1;
  await waitUntil(async () => (live = await liveTotal()) === 0, 20_000, 'edge current_connections back to 0').catch((err: Error) => {
    throw new Error(`${err.message} (still ${live}; ${validSessions} sessions, ${masked} masked)`);
  });
  const users = (await edge.api('/v1/users')).body.data as { username: string; total_octets: number; current_connections: number }[];
  for (const u of users) assert.equal(u.current_connections, 0, `current_connections of ${u.username}`);

  // Bytes sent = bytes relayed (fake DC) = bytes counted (per user, both directions since echo).
  assert.equal(dc.bytesReceived(), totalSent, 'fake DC received every byte the clients sent');
  assert.equal(dc.bytesSent(), totalSent, 'fake DC echoed every byte');
  assert.equal(dc.records().length, validSessions, 'one DC leg per valid session');
  for (const u of users) {
    const i = USERS.findIndex((x) => x.name === u.username);
    assert.ok(i >= 0, `unexpected user ${u.username}`);
    assert.equal(u.total_octets, 2 * byUser[i]!, `total_octets of ${u.username}`);
  }
  const zero = (await edge.api('/v1/stats/zero/all')).body.data;
  assert.equal(zero.core.connections_total, validSessions + masked);
  assert.equal(zero.core.connections_bad_total, masked);
  const badReplay = (zero.core.connections_bad_by_class as { class: string; total: number }[]).find((c) => c.class === 'replay');
  assert.equal(badReplay?.total, replays.length, 'replays refused');
  assert.equal(zero.upstream.connect_success_total, validSessions);

  // The mask host saw exactly the invalid connections, each with the bytes the prober sent.
  assert.equal(mask.connections(), masked, 'one mask connection per invalid client');
  const seen = new Set(mask.received().map((b) => b.toString('hex')));
  for (const b of [...pr.sent, ...replays.map((r) => r.bytes)]) assert.ok(seen.has(b.toString('hex')), 'mask host received the probe verbatim');

  // No worker crash.
  const events = (await edge.api('/v1/runtime/events/recent?limit=1000')).body.data;
  const evs = events.data.events as { event_type: string }[];
  assert.equal(evs.filter((e) => e.event_type === 'worker_restart').length, 0, 'no worker_restart event');
  assert.doesNotMatch(edge.output(), /worker_restart/);
  assert.equal(edge.proc.exitCode, null, 'edge still running');

  // Memory returns near where it started once the clients are gone. Generous, and given a few
  // seconds to settle: GC and the allocator give memory back lazily.
  let rssEnd = rssKiB(edgePid);
  await waitUntil(() => (rssEnd = rssKiB(edgePid)) < rssStart + 150 * 1024, 10_000, 'edge RSS to settle').catch(() => undefined);
  assert.ok(rssEnd < rssStart + 150 * 1024, `RSS ${rssStart} KiB at start, ${rssEnd} KiB after the run`);
  console.log(
    `# load: ${validSessions} sessions (${BULK_CLIENTS} bulk, ${SMALL_CLIENTS} small, ${short.sessions} short), ${masked} masked, ` +
      `${(totalSent / MIB).toFixed(1)} MiB each way in ${runMs} ms (bulk ${bulk.durationMs.toFixed(0)} ms, small ${small.durationMs.toFixed(0)} ms), ${scrape.count} scrapes, RSS ${(rssStart / 1024).toFixed(0)} -> ${(rssEnd / 1024).toFixed(0)} MiB`,
  );
});
