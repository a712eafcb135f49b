import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { C } from './counters-registry.js';
import { createSharedStats, type StatsLayout } from './layout.js';
import { ipToWords, wordsToIp } from './ip-words.js';
import { ReplayCache, replayGeometry } from './replay-cache.js';
import { StatsReader } from './stats-reader.js';
import { WorkerStats } from './worker-stats.js';

const layout: StatsLayout = { maxWorkers: 4, userCapacity: 16, ipSlotsPerUser: 8, ...replayGeometry(1024) };

function ip(s: string): Int32Array {
  const w = new Int32Array(4);
  assert.ok(ipToWords(s, w));
  return w;
}

test('ip words round-trip v4, v6 and v4-mapped', () => {
  for (const s of ['1.2.3.4', '255.255.255.255', '::1', '2001:db8::1', 'fe80::abcd:1']) {
    assert.equal(wordsToIp(ip(s)), s);
  }
  assert.equal(wordsToIp(ip('::ffff:10.0.0.1')), '10.0.0.1');
  assert.equal(ipToWords('not-an-ip', new Int32Array(4)), false);
});

test('the IPv4 fast path agrees with the general parser', () => {
  const viaMapped = new Int32Array(4);
  const direct = new Int32Array(4);
  for (let i = 0; i < 2000; i++) {
    const ip = Array.from({ length: 4 }, () => Math.floor(Math.random() * 256)).join('.');
    assert.ok(ipToWords(ip, direct));
    assert.ok(ipToWords(`::ffff:${ip}`, viaMapped));
    assert.deepEqual([...direct], [...viaMapped], ip);
    assert.equal(wordsToIp(direct), ip);
  }
  // Forms the fast path does not take (leading zeros, 3 parts) go to ipaddr.js and come out as it reads them.
  assert.equal(ipToWords('1.2.3.4.5', direct), false);
  assert.equal(ipToWords('256.1.1.1', direct), false);
});

test('counter stripes sum exactly across workers', () => {
  const bufs = createSharedStats(layout);
  const ws = [0, 1, 2, 3].map((i) => new WorkerStats(bufs, i));
  let expected = 0;
  for (let k = 0; k < 1000; k++) {
    const n = (k * 7919) % 65536;
    ws[k % 4]!.add(C.core.octets_from_clients, n);
    ws[k % 4]!.inc(C.core.connections_total);
    expected += n;
  }
  ws[1]!.inc(C.badClass.replay);
  const snap = new StatsReader(bufs).counterSnapshot();
  assert.equal(snap.octets_from_clients, expected);
  assert.equal(snap.core.connections_total, 1000);
  assert.deepEqual(snap.accepts_by_worker, [250, 250, 250, 250]);
  assert.deepEqual(snap.core.connections_bad_by_class, { replay: 1 });
});

test('per-user connection limit and crash clean-up', () => {
  const bufs = createSharedStats(layout);
  const a = new WorkerStats(bufs, 0);
  const b = new WorkerStats(bufs, 1);
  assert.ok(a.acquireConn(3, 3));
  assert.ok(b.acquireConn(3, 3));
  assert.ok(b.acquireConn(3, 3));
  assert.equal(a.acquireConn(3, 3), false);
  const reader = new StatsReader(bufs);
  assert.equal(reader.userSnapshot(3, 30).current_connections, 3);
  reader.releaseWorker(1);
  assert.equal(reader.userSnapshot(3, 30).current_connections, 1);
  assert.ok(a.acquireConn(3, 3));
  a.releaseConn(3);
  a.releaseConn(3);
  assert.equal(reader.userSnapshot(3, 30).current_connections, 0);
  assert.ok(a.acquireConn(5, 0), 'limit 0 means unlimited');
});

test('unique IP limit: active_window counts only live IPs', () => {
  const bufs = createSharedStats(layout);
  const a = new WorkerStats(bufs, 0);
  const b = new WorkerStats(bufs, 1);
  assert.ok(a.acquireIp(2, ip('10.0.0.1'), 100, 2, 'active_window', 30));
  assert.ok(b.acquireIp(2, ip('10.0.0.2'), 100, 2, 'active_window', 30));
  assert.equal(a.acquireIp(2, ip('10.0.0.3'), 100, 2, 'active_window', 30), false);
  assert.ok(b.acquireIp(2, ip('10.0.0.1'), 100, 2, 'active_window', 30), 'a known IP is always admitted');
  const reader = new StatsReader(bufs);
  assert.deepEqual([...reader.userSnapshot(2, 30, 100).active_ips].sort(), ['10.0.0.1', '10.0.0.2']);
  b.releaseIp(2, ip('10.0.0.2'), 101);
  assert.ok(a.acquireIp(2, ip('10.0.0.3'), 102, 2, 'active_window', 30));
  assert.deepEqual(reader.userSnapshot(2, 30, 102).recent_ips.length, 3);
});

test('unique IP limit: time_window remembers released IPs for the window', () => {
  const bufs = createSharedStats(layout);
  const a = new WorkerStats(bufs, 0);
  assert.ok(a.acquireIp(1, ip('10.0.0.1'), 100, 1, 'time_window', 30));
  a.releaseIp(1, ip('10.0.0.1'), 101);
  assert.equal(a.acquireIp(1, ip('10.0.0.2'), 110, 1, 'time_window', 30), false);
  assert.ok(a.acquireIp(1, ip('10.0.0.2'), 140, 1, 'time_window', 30), 'after the window the old IP no longer counts');
});

test('quota: used bytes, reset and slot reuse', () => {
  const bufs = createSharedStats(layout);
  const a = new WorkerStats(bufs, 0);
  const b = new WorkerStats(bufs, 2);
  a.addUserOctets(4, 100, 50);
  b.addUserOctets(4, 10, 5);
  assert.equal(a.quotaUsed(4), 165);
  const reader = new StatsReader(bufs);
  reader.resetQuota(4, 1234);
  assert.equal(b.quotaUsed(4), 0);
  a.addUserOctets(4, 1, 1);
  const snap = reader.userSnapshot(4, 30);
  assert.equal(snap.quota_used_bytes, 2);
  assert.equal(snap.total_octets, 167);
  assert.equal(snap.quota_last_reset_epoch_secs, 1234);
  reader.claimSlot(4, 40);
  assert.equal(reader.userSnapshot(4, 30).total_octets, 0);
  assert.equal(a.quotaUsed(4), 40, 'carried quota survives a restart');
});

test('replay cache refuses a repeat within the window only', () => {
  const bufs = createSharedStats(layout);
  const cache = new ReplayCache(bufs);
  const key = Uint8Array.from({ length: 32 }, (_, i) => i * 3);
  assert.ok(cache.checkAndInsert(key, 8, 1000, 120));
  assert.equal(cache.checkAndInsert(key, 8, 1100, 120), false);
  assert.ok(new ReplayCache(bufs).checkAndInsert(key, 0, 1100, 120), 'another key');
  assert.ok(cache.checkAndInsert(key, 8, 1121, 120), 'expired entries count as empty');
  assert.equal(cache.checkAndInsert(key, 8, 1200, 120), false, 'and the re-insert is live again');
});

test('replay cache and connection limit hold across real worker threads', async () => {
  const bufs = createSharedStats({ ...layout, ...replayGeometry(4096) });
  const url = new URL('./stats-contention.fixture.js', import.meta.url);
  const results = await Promise.all(
    [0, 1, 2, 3].map(
      (i) =>
        new Promise<{ accepted: number; admitted: number }>((resolve, reject) => {
          const w = new Worker(url, { workerData: { bufs, index: i } });
          w.once('message', resolve);
          w.once('error', reject);
        }),
    ),
  );
  // Every worker tried the same 500 keys: each key is accepted exactly once overall.
  assert.equal(results.reduce((s, r) => s + r.accepted, 0), 500);
  // Every worker tried 100 acquisitions against a limit of 37.
  assert.equal(results.reduce((s, r) => s + r.admitted, 0), 37);
});

test('ME counters: named, summed into middle_proxy / pool / me, the drain gauge released with its worker', () => {
  const bufs = createSharedStats(layout);
  const [w0, w1] = [new WorkerStats(bufs, 0), new WorkerStats(bufs, 1)];
  w0.add(C.me.me_proxy_req_total, 5);
  w1.add(C.me.me_proxy_req_total, 7);
  w1.inc(C.me.me_fallback_direct_total);
  w0.inc(C.middleProxy.reconnect_attempt_total);
  w0.inc(C.pool.pool_drain_active);
  w1.add(C.pool.pool_drain_active, 2);
  const reader = new StatsReader(bufs);
  let snap = reader.counterSnapshot();
  assert.equal(snap.me['me_proxy_req_total'], 12);
  assert.equal(snap.me['me_fallback_direct_total'], 1);
  assert.equal(snap.me['me_no_writer_closed_total'], 0, 'every field present');
  assert.equal(snap.middle_proxy['reconnect_attempt_total'], 1);
  assert.equal(snap.pool['pool_drain_active'], 3);
  reader.releaseWorker(1);
  snap = reader.counterSnapshot();
  assert.equal(snap.pool['pool_drain_active'], 1, 'a dead worker drains nothing');
  assert.equal(snap.me['me_proxy_req_total'], 12, 'totals survive the worker');
});
