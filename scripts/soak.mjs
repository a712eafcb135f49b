#!/usr/bin/env node
// `npm run soak`: a long mixed run against the built binary (loopback only, bounded by
// SOAK_MINUTES, default 10). Rounds alternate between a direct-mode edge and a Middle-End edge
// (SOAK_ME=0 leaves the ME edge out). Each round relays through the edge, then checks what must
// stay exact over hours: bytes counted = bytes echoed, gauges back to zero, no worker restart,
// no ME link lost, and RSS that does not keep growing. Prints one line per round; exits non-zero
// on the first violation.
import { readFileSync } from 'node:fs';
import { runLoad, startFakeDc, startFakeMe, startFakeMeHttp, startMaskHost } from '@mtedge/testkit';
import { edgeConfigToml, freePort, randomSecretHex, startEdge } from '../test/dist/helpers/edge.js';
import { meGeneralToml, oneDcMeConfig, withMiddleProxy } from '../test/dist/helpers/me.js';

const minutes = Number(process.env.SOAK_MINUTES ?? 10);
const clients = Number(process.env.SOAK_CLIENTS ?? 200);
const withMe = process.env.SOAK_ME !== '0';
const roundMs = 20_000;
const RSS_GROWTH_KIB = 200 * 1024;
/** Events that mean an ME link or route failed during a round. */
const ME_TROUBLE = new Set(['me_writer_down', 'me_no_writer', 'me_fallback_direct', 'me_unavailable']);

const dc = await startFakeDc({ mode: 'echo' });
const mask = await startMaskHost({ reply: 'http' });
const me = withMe ? await startFakeMe({ maxRecordedRequests: 100 }) : undefined;
// The ME edge's own DC: with me2dc_fallback off nothing may ever reach it.
const meDc = withMe ? await startFakeDc({ mode: 'echo' }) : undefined;
const meHttp = me ? await startFakeMeHttp({ secret: me.secret, config: oneDcMeConfig(me) }) : undefined;

const newUsers = (prefix) => Array.from({ length: 4 }, (_, i) => ({ name: `${prefix}${i}`, secretHex: randomSecretHex() }));

async function startSoakEdge(kind) {
  const users = newUsers(kind);
  const apiPort = await freePort();
  let toml = edgeConfigToml({
    users,
    dcPort: kind === 'me' ? meDc.port : dc.port,
    maskPort: mask.port,
    apiPort,
    workers: 2,
    ...(kind === 'me' ? { generalToml: meGeneralToml(meHttp, { adTag: 'a1b2c3d4e5f60718293a4b5c6d7e8f90', poolSize: 4, fallback: false }) } : {}),
  });
  if (kind === 'me') toml = withMiddleProxy(toml);
  const edge = await startEdge(toml, { apiPort });
  return { kind, users, edge, sent: 0, rounds: 0, firstRss: 0 };
}

const edges = [await startSoakEdge('direct')];
if (withMe) edges.push(await startSoakEdge('me'));

async function stopAll() {
  for (const e of edges) await e.edge.stop();
  await dc.close();
  await mask.close();
  await me?.close();
  await meHttp?.close();
  await meDc?.close();
}

const fail = async (msg) => {
  console.error(`soak: FAILED: ${msg}`);
  await stopAll();
  process.exit(1);
};

const rssKiB = (edge) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${edge.proc.pid}/status`, 'utf8'))?.[1] ?? 0);

/**
 * The load of one round. Through ME every answer is re-framed by the edge, and a padded frame
 * gets 0-3 fresh padding bytes (as the official proxy pads), so the byte-exact echo check uses
 * the two transports whose framing is deterministic: intermediate and abridged.
 */
function loadFor(s) {
  const common = {
    host: '127.0.0.1',
    port: s.edge.port,
    clients,
    secrets: s.users.map((u) => Buffer.from(u.secretHex, 'hex')),
    durationMs: roundMs,
    chunkSize: 8192,
    concurrencyRampMs: 2000,
  };
  if (s.kind === 'direct') return { ...common, mode: ['classic', 'secure', 'tls'], domain: 'front.example.com' };
  return { ...common, mode: 'classic', tag: s.rounds % 2 === 0 ? 'intermediate' : 'abridged' };
}

const deadline = Date.now() + minutes * 60_000;
let round = 0;
let relayed = 0;
while (Date.now() < deadline) {
  const s = edges[round % edges.length];
  round++;
  s.rounds++;
  const r = await runLoad(loadFor(s));
  if (!r.ok || r.errors > 0) await fail(`round ${round} (${s.kind}): ${r.errors} client errors, first: ${JSON.stringify(r.clients.find((c) => !c.ok)?.error)}`);
  s.sent += r.totalSent;
  relayed += r.totalSent;
  const settle = Date.now() + 10_000;
  let users;
  do {
    await new Promise((res) => setTimeout(res, 250));
    users = (await s.edge.api('/v1/users')).body.data;
  } while (users.some((u) => u.current_connections > 0) && Date.now() < settle);
  const counted = users.reduce((sum, u) => sum + u.total_octets, 0);
  if (counted !== 2 * s.sent) await fail(`round ${round} (${s.kind}): counted ${counted} octets, clients sent ${s.sent} (echoed twice)`);
  if (users.some((u) => u.current_connections > 0)) await fail(`round ${round} (${s.kind}): connections did not drain`);
  const events = (await s.edge.api('/v1/runtime/events/recent?limit=1000')).body.data.data.events;
  if (events.some((e) => e.event_type === 'worker_restart')) await fail(`round ${round} (${s.kind}): a worker restarted`);
  let meNote = '';
  if (s.kind === 'me') {
    const trouble = events.filter((e) => ME_TROUBLE.has(e.event_type));
    if (trouble.length > 0) await fail(`round ${round} (me): ${trouble.map((e) => `${e.event_type} ${e.context}`).join('; ')}`);
    if (meDc.connections() > 0) await fail(`round ${round} (me): ${meDc.connections()} connections went direct`);
    meNote = `, over ${me.links().filter((l) => l.open && l.handshaked).length} ME links (${me.handshakes()} handshakes in all)`;
  }
  const rss = rssKiB(s.edge);
  if (s.rounds === 2) s.firstRss = rss;
  if (s.firstRss > 0 && rss > s.firstRss + RSS_GROWTH_KIB) await fail(`round ${round} (${s.kind}): RSS grew from ${s.firstRss} to ${rss} KiB`);
  console.log(`soak round ${round} (${s.kind}): ${(r.totalSent / 1e6).toFixed(0)} MB sent, ${r.clients.length} clients, echo verified, counted exactly, RSS ${(rss / 1024).toFixed(0)} MiB${meNote}`);
}
console.log(`soak: OK, ${round} rounds, ${(relayed / 1e9).toFixed(2)} GB relayed and counted exactly`);
await stopAll();
