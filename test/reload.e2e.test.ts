/**
 * End to end, hot reload of config.toml edited on disk: a new user is served within a couple of
 * seconds, a user whose secret changed or who was disabled loses its live sessions, everyone
 * else keeps relaying; a broken file is refused (the old config keeps serving, the revision does
 * not move); SIGHUP reloads too.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { obf2Initiate, sendRawProbe, startFakeDc, startMaskHost, type ClientMode, type ConnectClientOptions, type FakeDc, type MaskHost, type SimClient } from '@mtedge/testkit';
import { edgeConfigToml, freePort, randomSecretHex, startEdge, waitUntil, type EdgeProcess, type TestUser } from './helpers/edge.js';
import { counters, echoes, grew, lastSeq, recentEvents, refused, served, waitForEvent } from './helpers/observe.js';

const DOMAIN = 'front.example.com';
const alice: TestUser = { name: 'alice', secretHex: randomSecretHex() };
const bobOld: TestUser = { name: 'bob', secretHex: randomSecretHex() };
const bobNew: TestUser = { name: 'bob', secretHex: randomSecretHex() };
const carol: TestUser = { name: 'carol', secretHex: randomSecretHex() };
let dc: FakeDc;
let mask: MaskHost;
let edge: EdgeProcess;
let apiPort: number;

function configText(users: TestUser[], disabled: string[] = []): string {
  const extraToml = disabled.length > 0 ? `[access.user_enabled]\n${disabled.map((n) => `${n} = false`).join('\n')}\n` : '';
  return edgeConfigToml({ users, dcPort: dc.port, maskPort: mask.port, apiPort, tlsDomain: DOMAIN, workers: 2, extraToml });
}

function opts(u: TestUser, mode: ClientMode): ConnectClientOptions {
  return { host: '127.0.0.1', port: edge.port, mode, secret: Buffer.from(u.secretHex, 'hex'), domain: DOMAIN };
}

async function revision(): Promise<string> {
  const res = await edge.api('/v1/health');
  assert.equal(res.status, 200);
  return res.body.revision as string;
}

/** Retries until the edge serves `u` (a reload is asynchronous); bounded. */
async function servedWithin(o: ConnectClientOptions, timeoutMs: number): Promise<SimClient> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await served(o);
    } catch (err) {
      if (Date.now() > end) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

async function closedWithin(c: SimClient, ms: number, what: string): Promise<void> {
  await Promise.race([c.closed, new Promise((_, rej) => setTimeout(() => rej(new Error(`${what} still open after ${ms} ms`)), ms))]);
}

before(async () => {
  dc = await startFakeDc({ mode: 'echo' });
  mask = await startMaskHost({ reply: 'http' });
  apiPort = await freePort();
  edge = await startEdge(configText([alice, bobOld]), { apiPort });
});

after(async () => {
  await edge?.stop();
  await dc?.close();
  await mask?.close();
});

let a1: SimClient;
let c1: SimClient;

test('edit on disk: a new user is served, a changed secret cuts its sessions, others keep relaying', async () => {
  a1 = await served(opts(alice, 'tls'));
  const b1 = await served(opts(bobOld, 'secure'));
  const b2 = await served(opts(bobOld, 'tls'));
  const rev0 = await revision();
  await writeFile(edge.configPath, configText([alice, bobNew, carol]));
  c1 = await servedWithin(opts(carol, 'secure'), 10_000);
  await closedWithin(b1, 10_000, "bob's secure session");
  await closedWithin(b2, 10_000, "bob's tls session");
  assert.notEqual(await revision(), rev0, 'the revision moved');
  await echoes(a1, 30_000);
  // Bob's old secret is now just a stranger (masked); the new one is served.
  const idx = mask.connections();
  const probe = Buffer.concat([obf2Initiate({ tag: 'padded', dcId: 2, secret: Buffer.from(bobOld.secretHex, 'hex') }).init, Buffer.alloc(32, 1)]);
  const r = await sendRawProbe({ host: '127.0.0.1', port: edge.port, bytes: probe, readMs: 8000 });
  assert.ok(r.received.equals(mask.response), 'the old secret is masked');
  assert.equal(mask.connections(), idx + 1);
  const b3 = await served(opts(bobNew, 'tls'));
  b3.end();
  await b3.closed;
});

test('edit on disk: disabling or removing a user cuts its live sessions and refuses new ones; others keep relaying', async () => {
  const b4 = await served(opts(bobNew, 'secure'));
  await writeFile(edge.configPath, configText([alice, carol], ['alice']));
  await closedWithin(a1, 10_000, "alice's session");
  await closedWithin(b4, 10_000, "removed bob's session");
  await echoes(c1, 30_000);
  const idx = mask.connections();
  const gone = await refused(opts(bobNew, 'secure'));
  assert.equal(gone.closed, true, 'a removed user is not served');
  await mask.waitFor((m) => m.connections() > idx, 5000);
  // Back as it was, for the tests below.
  await writeFile(edge.configPath, configText([alice, bobNew, carol], ['alice']));
  await servedWithin(opts(bobNew, 'tls'), 10_000).then((c) => c.destroy());
  const c0 = await counters(edge);
  const r = await refused(opts(alice, 'secure'));
  assert.ok(r.closed && r.relayed === 0, 'alice is refused');
  const cAfter = await counters(edge);
  assert.equal(grew(c0.byClass, cAfter.byClass, 'user_disabled'), 1);
});

test('a broken config.toml is refused: the old config keeps serving, the revision does not move', async () => {
  const rev = await revision();
  const seq = await lastSeq(edge);
  await writeFile(edge.configPath, configText([alice, bobNew, carol], ['alice']) + '\n[[[ this is not toml\n');
  await waitForEvent(edge, (e) => e.seq > seq && e.event_type === 'config_reload_refused', 5000, 'config_reload_refused');
  assert.equal(await revision(), rev);
  await echoes(c1, 10_000);
  const c2 = await served(opts(carol, 'tls'));
  c2.end();
  await c2.closed;
  // A file that parses but does not validate is refused the same way.
  const seq2 = await lastSeq(edge);
  await writeFile(edge.configPath, configText([alice, bobNew, carol], ['alice']).replace('workers = 2', 'workers = "two"'));
  await waitForEvent(edge, (e) => e.seq > seq2 && e.event_type === 'config_reload_refused', 5000, 'config_reload_refused (schema)');
  assert.equal(await revision(), rev);
});

test('SIGHUP reloads config.toml', async () => {
  // The broken file from above is still on disk: SIGHUP re-reads it and refuses it again.
  const seq = await lastSeq(edge);
  edge.proc.kill('SIGHUP');
  const ev = await waitForEvent(edge, (e) => e.seq > seq && e.event_type === 'config_reload_refused' && e.context.startsWith('SIGHUP'), 5000, 'a SIGHUP reload');
  assert.match(ev.context, /SIGHUP/);
  // A good file applied via SIGHUP (the watcher may race it; either way it must apply once).
  const rev = await revision();
  await writeFile(edge.configPath, configText([alice, bobNew, carol]));
  edge.proc.kill('SIGHUP');
  await waitUntil(async () => (await revision()) !== rev, 5000, 'the new revision');
  const a2 = await servedWithin(opts(alice, 'secure'), 10_000);
  await echoes(c1, 1000);
  a2.end();
  c1.end();
  await Promise.all([a2.closed, c1.closed]);
  const events = await recentEvents(edge);
  assert.ok(!events.some((e) => e.event_type === 'worker_restart'), 'no worker restarted during reloads');
});
