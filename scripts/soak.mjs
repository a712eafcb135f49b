#!/usr/bin/env node
// `npm run soak`: a long mixed run against the built binary (loopback only, bounded by
// SOAK_MINUTES, default 10). Each round relays through every mode, then checks what must stay
// exact over hours: bytes counted = bytes echoed, gauges back to zero, no worker restart, and RSS
// that does not keep growing. Prints one line per round; exits non-zero on the first violation.
import { readFileSync } from 'node:fs';
import { runLoad, startFakeDc, startMaskHost } from '@mtedge/testkit';
import { edgeConfigToml, freePort, randomSecretHex, startEdge } from '../test/dist/helpers/edge.js';

const minutes = Number(process.env.SOAK_MINUTES ?? 10);
const clients = Number(process.env.SOAK_CLIENTS ?? 200);
const roundMs = 20_000;
const users = Array.from({ length: 4 }, (_, i) => ({ name: `soak${i}`, secretHex: randomSecretHex() }));

const dc = await startFakeDc({ mode: 'echo' });
const mask = await startMaskHost({ reply: 'http' });
const apiPort = await freePort();
const edge = await startEdge(edgeConfigToml({ users, dcPort: dc.port, maskPort: mask.port, apiPort, workers: 2 }), { apiPort });
const rssKiB = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${edge.proc.pid}/status`, 'utf8'))?.[1] ?? 0);
const fail = async (msg) => {
  console.error(`soak: FAILED: ${msg}`);
  await edge.stop();
  await dc.close();
  await mask.close();
  process.exit(1);
};

const deadline = Date.now() + minutes * 60_000;
let round = 0;
let sentTotal = 0;
let firstRss = 0;
while (Date.now() < deadline) {
  round++;
  const r = await runLoad({
    host: '127.0.0.1',
    port: edge.port,
    clients,
    mode: ['classic', 'secure', 'tls'],
    secrets: users.map((u) => Buffer.from(u.secretHex, 'hex')),
    domain: 'front.example.com',
    durationMs: roundMs,
    chunkSize: 8192,
    concurrencyRampMs: 2000,
  });
  if (!r.ok || r.errors > 0) await fail(`round ${round}: ${r.errors} client errors`);
  sentTotal += r.totalSent;
  const settle = Date.now() + 10_000;
  let users_;
  do {
    await new Promise((res) => setTimeout(res, 250));
    users_ = (await edge.api('/v1/users')).body.data;
  } while (users_.some((u) => u.current_connections > 0) && Date.now() < settle);
  const counted = users_.reduce((s, u) => s + u.total_octets, 0);
  if (counted !== 2 * sentTotal) await fail(`round ${round}: counted ${counted} octets, clients sent ${sentTotal} (echoed twice)`);
  if (users_.some((u) => u.current_connections > 0)) await fail(`round ${round}: connections did not drain`);
  const events = (await edge.api('/v1/runtime/events/recent?limit=1000')).body.data.data.events;
  if (events.some((e) => e.event_type === 'worker_restart')) await fail(`round ${round}: a worker restarted`);
  const rss = rssKiB();
  if (round === 2) firstRss = rss;
  if (firstRss > 0 && rss > firstRss + 200 * 1024) await fail(`round ${round}: RSS grew from ${firstRss} to ${rss} KiB`);
  console.log(`soak round ${round}: ${(r.totalSent / 1e6).toFixed(0)} MB sent, ${r.clients.length} clients, echo verified, counted exactly, RSS ${(rss / 1024).toFixed(0)} MiB`);
}
console.log(`soak: OK, ${round} rounds, ${(sentTotal / 1e9).toFixed(2)} GB relayed and counted exactly`);
await edge.stop();
await dc.close();
await mask.close();
