/**
 * End to end, per-user limits held across 2 workers: max TCP connections, max unique IPs (from
 * different 127.0.0.x sources), data quota (live cut, refusal, reset through the API),
 * expiration and disabled users. Each refusal is a close with nothing relayed, counted by class.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { startFakeDc, startMaskHost, type ClientMode, type ConnectClientOptions, type FakeDc, type MaskHost, type SimClient } from '@mtedge/testkit';
import { edgeConfigToml, freePort, randomSecretHex, startEdge, waitUntil, type EdgeProcess, type TestUser } from './helpers/edge.js';
import { counters, grew, lastSeq, recentEvents, refused, served, user, workersOf } from './helpers/observe.js';

const DOMAIN = 'front.example.com';
const TCP_LIMIT = 3;
const QUOTA = 300_000;
const mk = (name: string): TestUser => ({ name, secretHex: randomSecretHex() });
const alice = mk('alice');
const bob = mk('bob');
const carol = mk('carol');
const dave = mk('dave');
const erin = mk('erin');
const frank = mk('frank');
let dc: FakeDc;
let mask: MaskHost;
let edge: EdgeProcess;

before(async () => {
  dc = await startFakeDc({ mode: 'echo' });
  mask = await startMaskHost({ reply: 'http' });
  const apiPort = await freePort();
  const extraToml = `
[access.user_max_tcp_conns]
alice = ${TCP_LIMIT}

[access.user_max_unique_ips]
bob = 2

[access.user_data_quota]
carol = ${QUOTA}

[access.user_expirations]
dave = "2020-01-01T00:00:00Z"
erin = "2099-01-01T00:00:00Z"

[access.user_enabled]
frank = false
`;
  edge = await startEdge(
    edgeConfigToml({ users: [alice, bob, carol, dave, erin, frank], dcPort: dc.port, maskPort: mask.port, apiPort, tlsDomain: DOMAIN, workers: 2, extraToml }),
    { apiPort },
  );
});

after(async () => {
  await edge?.stop();
  await dc?.close();
  await mask?.close();
});

function opts(u: TestUser, mode: ClientMode = 'secure', localAddress?: string): ConnectClientOptions {
  return {
    host: '127.0.0.1',
    port: edge.port,
    mode,
    secret: Buffer.from(u.secretHex, 'hex'),
    domain: DOMAIN,
    ...(localAddress !== undefined ? { localAddress } : {}),
  };
}

/**
 * Refused attempts until both workers have refused at least one (seen in the events' worker=),
 * so the limit is shown to hold in each worker, not only in the one that admitted the others.
 */
async function refusedByBothWorkers(o: () => ConnectClientOptions, cls: string): Promise<number> {
  const seq = await lastSeq(edge);
  let tries = 0;
  let workers = new Set<number>();
  while (tries < 150 && (tries < 8 || workers.size < 2)) {
    const r = await refused(o());
    tries++;
    assert.ok(r.closed, `attempt #${tries} was not closed`);
    assert.equal(r.relayed, 0, `attempt #${tries} relayed data`);
    if (tries >= 8) workers = workersOf(await recentEvents(edge), `handshake_${cls}`, seq);
  }
  assert.deepEqual([...workers].sort(), [0, 1], `refusals came from workers ${[...workers].join(',')} after ${tries} tries`);
  return tries;
}

test('user_max_tcp_conns: N sessions are served across workers, the N+1st is refused, a freed slot is reused', async () => {
  const held: SimClient[] = [];
  for (let i = 0; i < TCP_LIMIT; i++) held.push(await served(opts(alice, i % 2 === 0 ? 'secure' : 'tls')));
  assert.equal((await user(edge, 'alice')).current_connections, TCP_LIMIT);
  const c0 = await counters(edge);
  const tries = await refusedByBothWorkers(() => opts(alice), 'user_tcp_limit');
  const c1 = await counters(edge);
  assert.equal(grew(c0.byClass, c1.byClass, 'user_tcp_limit'), tries);
  assert.equal((await user(edge, 'alice')).current_connections, TCP_LIMIT, 'refusals hold nothing');
  // The held sessions still relay.
  for (const c of held) {
    c.send(randomBytes(10));
    await c.waitForBytes(1024 + 10, 5000);
  }
  held.shift()!.end();
  await waitUntil(async () => (await user(edge, 'alice')).current_connections === TCP_LIMIT - 1, 5000, 'alice to drop to N-1');
  held.push(await served(opts(alice, 'classic')));
  const again = await refused(opts(alice));
  assert.ok(again.closed && again.relayed === 0, 'full again');
  for (const c of held) c.destroy();
  await waitUntil(async () => (await user(edge, 'alice')).current_connections === 0, 5000, 'alice to drain');
});

test('user_max_tcp_conns under a concurrent burst over both workers: exactly N get through', async () => {
  const burst = 12;
  const outcomes = await Promise.all(
    Array.from({ length: burst }, async () => {
      try {
        return await served(opts(alice, 'secure'));
      } catch {
        return undefined;
      }
    }),
  );
  const admitted = outcomes.filter((c): c is SimClient => c !== undefined);
  assert.equal(admitted.length, TCP_LIMIT, `${admitted.length} of ${burst} concurrent connects were served`);
  assert.equal((await user(edge, 'alice')).current_connections, TCP_LIMIT);
  for (const c of admitted) c.destroy();
  await waitUntil(async () => (await user(edge, 'alice')).current_connections === 0, 5000, 'alice to drain');
});

test('user_max_unique_ips: a third source address is refused while two are active; same IP is fine', async () => {
  const b2 = await served(opts(bob, 'secure', '127.0.0.2'));
  const b3 = await served(opts(bob, 'tls', '127.0.0.3'));
  const b2again = await served(opts(bob, 'classic', '127.0.0.2'));
  const c0 = await counters(edge);
  const tries = await refusedByBothWorkers(() => opts(bob, 'secure', '127.0.0.4'), 'user_ip_limit');
  const c1 = await counters(edge);
  assert.equal(grew(c0.byClass, c1.byClass, 'user_ip_limit'), tries);
  const view = await user(edge, 'bob');
  assert.deepEqual([...view.active_unique_ips_list].sort(), ['127.0.0.2', '127.0.0.3']);
  assert.equal(view.current_connections, 3);
  b3.end();
  await waitUntil(async () => !(await user(edge, 'bob')).active_unique_ips_list.includes('127.0.0.3'), 5000, '127.0.0.3 to leave the active list');
  const b4 = await served(opts(bob, 'secure', '127.0.0.4'));
  assert.deepEqual([...(await user(edge, 'bob')).active_unique_ips_list].sort(), ['127.0.0.2', '127.0.0.4']);
  for (const c of [b2, b2again, b4]) c.destroy();
});

test('user_data_quota: a live session is cut past the quota, new ones refused until reset-quota', async () => {
  const seq = await lastSeq(edge);
  const c = await served(opts(carol, 'tls'));
  let relayed = 1024;
  const chunk = 40_000;
  for (let i = 0; i < 20 && !c.isClosed; i++) {
    const before = c.bytesReceived;
    c.send(randomBytes(chunk));
    try {
      await c.waitForBytes(before + chunk, 5000);
      relayed += chunk;
    } catch {
      break;
    }
  }
  await Promise.race([c.closed, new Promise((_, rej) => setTimeout(() => rej(new Error('carol was never cut')), 5000))]);
  // Both directions count; the edge checks at least every 64 KiB per session and once a second
  // for every live session, so the cut may land inside the chunk in flight (partly relayed).
  assert.ok(2 * (relayed + chunk) >= QUOTA, `cut after only ${2 * relayed} bytes (+ at most one chunk in flight)`);
  assert.ok(2 * relayed <= QUOTA + 2 * 65536 + 2 * chunk, `cut only after ${2 * relayed} bytes`);
  const ev = await recentEvents(edge);
  assert.ok(ev.some((e) => e.seq > seq && e.event_type === 'user_quota_exceeded' && e.context.includes('user=carol')), 'event user_quota_exceeded');
  await waitUntil(async () => (await user(edge, 'carol')).current_connections === 0, 5000, 'carol to be released');
  assert.ok((await user(edge, 'carol')).total_octets >= QUOTA);

  // The quota is global: whichever worker takes the next attempt refuses it.
  const c0 = await counters(edge);
  let n = 0;
  const tries = await refusedByBothWorkers(() => opts(carol, n++ % 2 === 0 ? 'secure' : 'tls'), 'user_quota_exceeded');
  const c1 = await counters(edge);
  assert.equal(grew(c0.byClass, c1.byClass, 'user_quota_exceeded'), tries);

  const res = await edge.api('/v1/users/carol/reset-quota', { method: 'POST' });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body.data.used_bytes, 0);
  const again = await served(opts(carol, 'secure'));
  again.end();
  await again.closed;
});

test('an expired user is refused, one expiring in the future is served', async () => {
  const c0 = await counters(edge);
  for (const mode of ['secure', 'tls'] as const) {
    const r = await refused(opts(dave, mode));
    assert.ok(r.closed && r.relayed === 0, `dave (${mode}) refused`);
  }
  const c1 = await counters(edge);
  assert.equal(grew(c0.byClass, c1.byClass, 'user_expired'), 2);
  const e = await served(opts(erin, 'tls'));
  e.end();
  await e.closed;
});

test('a disabled user is refused', async () => {
  const c0 = await counters(edge);
  for (const mode of ['classic', 'tls'] as const) {
    const r = await refused(opts(frank, mode));
    assert.ok(r.closed && r.relayed === 0, `frank (${mode}) refused`);
  }
  const c1 = await counters(edge);
  assert.equal(grew(c0.byClass, c1.byClass, 'user_disabled'), 2);
});
