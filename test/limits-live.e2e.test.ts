/**
 * Limits that change with time, not traffic: an expiration that passes during a live session,
 * and a quota crossed by one connection while another of the same user sits idle.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connectClient, startFakeDc, type FakeDc, type SimClient } from '@mtedge/testkit';
import { edgeConfigToml, freePort, randomSecretHex, startEdge, type EdgeProcess } from './helpers/edge.js';
import { recentEvents } from './helpers/observe.js';

let dc: FakeDc;
let edge: EdgeProcess;
const soon = { name: 'soon', secretHex: randomSecretHex() };
const metered = { name: 'metered', secretHex: randomSecretHex() };
const QUOTA = 300_000;

before(async () => {
  dc = await startFakeDc({ mode: 'echo' });
  const apiPort = await freePort();
  edge = await startEdge(
    edgeConfigToml({
      users: [soon, metered],
      dcPort: dc.port,
      apiPort,
      extraToml: `[access.user_data_quota]\nmetered = ${QUOTA}\n`,
    }),
    { apiPort },
  );
});

after(async () => {
  await edge?.stop();
  await dc?.close();
});

async function served(user: { secretHex: string }): Promise<SimClient> {
  const c = await connectClient({ host: '127.0.0.1', port: edge.port, mode: 'secure', secret: Buffer.from(user.secretHex, 'hex') });
  const probe = randomBytes(64);
  c.send(probe);
  assert.ok((await c.waitForBytes(64, 3000)).equals(probe));
  return c;
}

test('a session is closed when its user expires, without any traffic or reload', async () => {
  // Set through the API once the edge runs, so a slow start cannot eat the margin.
  const expiresAt = new Date(Date.now() + 4000);
  const patched = await edge.api('/v1/users/soon', { method: 'PATCH', body: { expiration_rfc3339: expiresAt.toISOString() } });
  assert.equal(patched.status, 200, JSON.stringify(patched.body));
  let c: SimClient | undefined;
  for (let i = 0; i < 40 && !c; i++) {
    c = await served(soon).catch(() => undefined);
    if (!c) await new Promise((r) => setTimeout(r, 50));
  }
  assert.ok(c, 'soon was never served before its expiration');
  const waitMs = expiresAt.getTime() - Date.now();
  assert.ok(waitMs > 0, 'the client connected before the expiration');
  const closed = await Promise.race([c.closed.then(() => Date.now()), new Promise<number>((r) => setTimeout(() => r(-1), waitMs + 5000))]);
  assert.notEqual(closed, -1, 'session still open 5 s after the expiration');
  assert.ok(closed >= expiresAt.getTime() - 50, 'closed before the expiration');
  const events = await recentEvents(edge);
  assert.ok(events.some((e) => e.event_type === 'user_expired' && e.context.includes('user=soon')));
});

test('an idle session is closed once another session of the user uses up the quota', async () => {
  const idle = await served(metered);
  const busy = await served(metered);
  const chunk = randomBytes(50_000);
  // Echo doubles the bytes: 4 chunks up and back cross 300 kB.
  for (let i = 0; i < 4 && !busy.isClosed; i++) {
    busy.send(chunk);
    await busy.waitForBytes(64 + (i + 1) * chunk.length, 3000).catch(() => undefined);
  }
  const idleClosed = await Promise.race([idle.closed.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 5000))]);
  assert.ok(idleClosed, 'the idle session outlived the quota');
  const user = (await edge.api('/v1/users/metered')).body.data;
  assert.ok(user.total_octets >= QUOTA);
  busy.destroy();
});
