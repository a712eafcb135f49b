#!/usr/bin/env node
// `npm run bench`, Middle-End part: the built edge (2 workers, dd secret, framed traffic) in
// direct mode and in ME mode in one run, same load clients, writing the `## Middle-End` section
// of docs/BENCHMARKS.md (the rest of the file is left as it is).
//
// Processes: edge under test, lean echo DC (bench/dc.mjs), fake ME (bench/me/fake-me.mjs, its own
// process so its AES-CBC + CRC work is not charged to the edge), load client (bench/me/clients.mjs).
// Edge CPU is read from /proc/<pid>/stat (utime+stime of all its threads), its syscall counts from
// /proc/<pid>/io.
//
// Bulk is measured twice per mode: at full speed (each mode as fast as the box lets it) and at equal
// load (both paced by the client to one rate, picked from the full-speed windows of this run).
//
// Env knobs: BENCH_SECONDS (window, default 4), BENCH_ME_IDLE_CONNS (default 10000),
// BENCH_CPU_PROF=<dir> (profile every edge thread, see bench/cpu-prof.cjs), BENCH_ME_DOC=0 (do not
// write the doc; print the section instead), BENCH_ME_CONNS (bulk connections, default 16), BENCH_ME_ONLY=me-bulk|direct-bulk (one bulk window only, to profile; paced when BENCH_ME_RATE_MBPS is set),
// BENCH_ME_RATE_MBPS (equal-load rate in relayed MB/s instead of the computed one),
// BENCH_ME_BLOCK_KIB (bytes a bulk connection writes at a time, default 256), BENCH_ME_MANY_CONNS
// (connections of the many-clients shape, default 256; 0 skips that shape),
// BENCH_EDGE_NODE_OPTIONS (added to the edge's NODE_OPTIONS, e.g. --perf-basic-prof for perf),
// BENCH_EDGE_OUTPUT=<file> (the edge's stdout and stderr, e.g. a V8 trace; the ME edge's in a full run).
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, writeFile, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { edgeConfigToml, freePort, randomSecretHex, startEdge } from '../test/dist/helpers/edge.js';
import { meInputsToml } from '../test/dist/helpers/me.js';
import { nativeAddon } from '@mtedge/native';

import { BENCH, ROOT, child as spawnChild, cpuSeconds, cpuSplit, edgeGc, rssKiB } from '../bench/proc.mjs';

/** Every child is tracked so an interrupted run kills them all. */
function child(script, args = []) {
  const c = spawnChild(script, args);
  children.add(c.proc);
  c.proc.on('exit', () => children.delete(c.proc));
  return c;
}
const WINDOW_MS = Math.round(Number(process.env.BENCH_SECONDS ?? 4) * 1000);
const WARMUP_MS = 1000;
const IDLE_CONNS = Number(process.env.BENCH_ME_IDLE_CONNS ?? 10000);
const WORKERS = 2;
const POOL_SIZE = 8; // middle_proxy_pool_size: per process, so 4 writers per worker (for the one ME DC)
const POOL_PER_WORKER = Math.ceil(POOL_SIZE / WORKERS);
const BULK_CONNS = Number(process.env.BENCH_ME_CONNS ?? 16);
const BULK_BLOCK_KIB = Number(process.env.BENCH_ME_BLOCK_KIB ?? 256);
// The second traffic shape: many clients, each writing little at a time, as a public proxy
// carries them. Few clients writing big blocks (above) put most of a turn's upload on one ME link,
// where CBC encryption runs one serial stream; many clients spread it over the worker's links.
const MANY = { conns: Number(process.env.BENCH_ME_MANY_CONNS ?? 256), blockKiB: 32 };
const MANY_BULK_PAIRS = 3;
const MIN_PAYLOAD = 1024;
const MAX_PAYLOAD = 16384;
const HS_CONCURRENCY = 16;
// BENCH_ME_PAIRS: windows per mode for each bulk kind (odd keeps a true median; default 5).
const BULK_PAIRS = Number(process.env.BENCH_ME_PAIRS ?? 5);
const PACED_PAIRS = BULK_PAIRS;
// Equal load = this share of the slower mode's full-speed median: low enough that both modes can
// carry it on this box, high enough to be a real load.
const PACED_SHARE = 0.7;
// A paced window that delivered outside offered +-5% did not run at the equal load.
const PACED_TOLERANCE = 0.05;
const HS_PAIRS = 3;
const PROF_MS = 9000;
const AD_TAG = 'a1b2c3d4e5f60718293a4b5c6d7e8f90';
const USER = { name: 'bench', secretHex: randomSecretHex() };
// The client derives keys from the 16 raw bytes; the padded tag in the init is what makes it a dd client.
const SECRET_DD = USER.secretHex;
const SOURCE_ADDRS = Array.from({ length: 40 }, (_, i) => `127.0.0.${i + 2}`);
const TARGET_CPU_RATIO = 1.5;
const TARGET_IDLE = 10000;
const T0 = Date.now();
const log = (...a) => console.log(`[bench-me ${((Date.now() - T0) / 1000).toFixed(0).padStart(3)}s]`, ...a);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---- processes ----------------------------------------------------------------------------------

const children = new Set();
const liveEdges = new Set();
// Whatever way this script ends (error, Ctrl-C), nothing it started outlives it: the edge does not
// exit with its parent.
process.on('exit', () => {
  for (const p of [...liveEdges, ...children]) p.kill('SIGKILL');
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(130));

let hooksDir;

/** The built edge, 2 workers; ME mode when `me` (the fake ME's ready line) is given. */
async function startMtedge(dcPort, me, profDir = process.env.BENCH_CPU_PROF) {
  const apiPort = await freePort();
  const env = { BENCH_HOOKS_DIR: hooksDir, NODE_OPTIONS: `--expose-gc --require ${join(BENCH, 'edge-hooks.cjs')}` };
  // e.g. --perf-basic-prof, to read the edge with `perf record` during a window.
  if (process.env.BENCH_EDGE_NODE_OPTIONS) env.NODE_OPTIONS += ` ${process.env.BENCH_EDGE_NODE_OPTIONS}`;
  if (profDir) {
    env.NODE_OPTIONS += ` --require ${join(BENCH, 'cpu-prof.cjs')}`;
    env.BENCH_PROF_DIR = profDir;
    env.BENCH_PROF_MS = String(process.env.BENCH_PROF_MS ?? PROF_MS);
  }
  let toml = edgeConfigToml({
    users: [USER],
    dcPort,
    apiPort,
    workers: WORKERS,
    serverToml: 'max_connections = 0',
    ...(me ? { generalToml: meInputsToml(me, { adTag: AD_TAG, poolSize: POOL_SIZE, fallback: false }) } : {}),
  });
  if (me) toml = toml.replace('use_middle_proxy = false', 'use_middle_proxy = true');
  const edge = await startEdge(toml, { apiPort, env });
  liveEdges.add(edge.proc);
  edge.proc.once('exit', () => liveEdges.delete(edge.proc));
  const pid = JSON.parse(/MTEDGE_READY (\{.*\})/.exec(edge.output())[1]).pid;
  return { edge, pid, port: edge.port };
}

/** Waits until the fake ME sees `n` handshaked links (the pool warms up after READY). */
async function waitLinks(fakeMe, n, ms = 15000) {
  const end = Date.now() + ms;
  let s;
  while (Date.now() < end) {
    s = await fakeMe.ask('stats');
    if (s.openHandshaked >= n) return s;
    await sleep(100);
  }
  return s;
}

// ---- measurements -------------------------------------------------------------------------------

/** Read/write syscalls of a process (all threads) and the bytes they moved, from /proc/<pid>/io. */
function ioCounts(pid) {
  const f = readFileSync(`/proc/${pid}/io`, 'utf8');
  const get = (k) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(f)?.[1] ?? NaN);
  return { calls: get('syscr') + get('syscw'), bytes: get('rchar') + get('wchar') };
}

/**
 * Framed echo, at full speed or paced to `relayedRate` (bytes/s relayed, i.e. twice what the
 * client sends); bytes relayed = 2 x bytes the clients got back (in + out of the edge, client side).
 */
async function bulk(target, fakeMePid, relayedRate, shape = { conns: BULK_CONNS, blockKiB: BULK_BLOCK_KIB }) {
  const job = { kind: 'bulk', port: target.port, secretHex: SECRET_DD, conns: shape.conns, warmupMs: WARMUP_MS, durationMs: WINDOW_MS, minPayload: MIN_PAYLOAD, maxPayload: MAX_PAYLOAD, blockBytes: shape.blockKiB * 1024 };
  if (relayedRate) job.rateBytesPerSec = relayedRate / 2;
  const c = child('me/clients.mjs', [JSON.stringify(job)]);
  await c.next();
  const cpu0 = cpuSplit(target.pid);
  const io0 = ioCounts(target.pid);
  const me0 = fakeMePid ? cpuSeconds(fakeMePid) : 0;
  const cl0 = cpuSeconds(c.pid);
  const t0 = performance.now();
  const done = await c.next();
  const cpu1 = cpuSplit(target.pid);
  const io1 = ioCounts(target.pid);
  const me1 = fakeMePid ? cpuSeconds(fakeMePid) : 0;
  const cl1 = cpuSeconds(c.pid);
  const wall = (performance.now() - t0) / 1000;
  await c.stop();
  const relayed = 2 * done.rxBytes;
  const sys = cpu1.sys - cpu0.sys;
  const cpu = cpu1.user - cpu0.user + sys;
  const calls = io1.calls - io0.calls;
  return {
    relayed,
    cpu,
    sysShare: sys / cpu,
    wall,
    cpuPerGB: cpu / (relayed / 1e9),
    mbPerSec: relayed / wall / 1e6,
    edgeCores: cpu / wall,
    fakeMeCores: fakeMePid ? (me1 - me0) / wall : undefined,
    clientCores: (cl1 - cl0) / wall,
    txBytes: done.txBytes,
    lostConns: done.lost ?? 0,
    rxBytes: done.rxBytes,
    // Bytes each read/write syscall of the edge moved (sockets both sides): how much work one
    // wake-up amortises.
    bytesPerSyscall: (io1.bytes - io0.bytes) / calls,
    syscallsPerMB: calls / (relayed / 1e6),
    ...(relayedRate ? { offeredMBps: relayedRate / 1e6, delivered: relayed / wall / relayedRate } : {}),
  };
}

async function handshakes(target, fakeMePid) {
  const c = child('me/clients.mjs', [JSON.stringify({ kind: 'handshake', port: target.port, secretHex: SECRET_DD, concurrency: HS_CONCURRENCY, warmupMs: WARMUP_MS, durationMs: WINDOW_MS, sourceAddrs: SOURCE_ADDRS })]);
  const s = await c.next();
  const cpu0 = cpuSeconds(target.pid);
  const me0 = fakeMePid ? cpuSeconds(fakeMePid) : 0;
  const t0 = performance.now();
  const d = await c.next();
  const cpu1 = cpuSeconds(target.pid);
  const me1 = fakeMePid ? cpuSeconds(fakeMePid) : 0;
  const wall = (performance.now() - t0) / 1000;
  await c.stop();
  const count = d.count - s.count;
  const cpu = cpu1 - cpu0;
  return { count, errors: d.errors, lastError: d.lastError, cpu, wall, perCpu: count / cpu, perWall: count / wall, edgeCores: cpu / wall, fakeMeCores: fakeMePid ? (me1 - me0) / wall : undefined };
}

/** N idle ME sessions (handshake + one echo each): RSS per session after GC, ME links seen. */
async function idle(target, fakeMe, n) {
  await sleep(500);
  await edgeGc(hooksDir, WORKERS + 1);
  const rss0 = rssKiB(target.pid);
  const before = await fakeMe.ask('stats');
  const t0 = performance.now();
  const c = child('me/clients.mjs', [JSON.stringify({ kind: 'idle', port: target.port, secretHex: SECRET_DD, conns: n, concurrency: 64, sourceAddrs: SOURCE_ADDRS })]);
  const ready = await c.next();
  const openS = (performance.now() - t0) / 1000;
  await sleep(1500);
  const rss1NoGc = rssKiB(target.pid);
  const gcOk = await edgeGc(hooksDir, WORKERS + 1);
  await sleep(300);
  const rss1 = rssKiB(target.pid);
  const during = await fakeMe.ask('stats');
  c.send('close');
  await c.next();
  await c.stop();
  const open = Math.max(1, ready.open);
  return {
    requested: n,
    open: ready.open,
    errors: ready.errors,
    lastError: ready.lastError,
    openS,
    gcOk,
    rss0,
    rss1,
    rss1NoGc,
    perClientKiB: (rss1 - rss0) / open,
    perClientNoGcKiB: (rss1NoGc - rss0) / open,
    linksBefore: before.openHandshaked,
    links: during.openHandshaked,
    tcpToMe: during.activeLinks,
    meConnectionsTotal: during.connections,
    connIdsOnLinks: during.connIdsOnLinks,
    clientsPerLink: ready.open / Math.max(1, during.openHandshaked),
  };
}

/** `x` rounded down to two significant digits (a rate that reads as chosen, not measured). */
function roundDown2(x) {
  if (!(x > 0)) return 0;
  const unit = 10 ** (Math.floor(Math.log10(x)) - 1);
  return Math.floor(x / unit) * unit;
}

/** The run whose `key` is the median (odd count) or the lower middle one, kept whole. */
function medianRun(rs, key) {
  const v = [...rs].sort((a, b) => a[key] - b[key]);
  return { ...v[Math.floor((v.length - 1) / 2)], all: rs.map((r) => r[key]) };
}

/** Self time of the edge's worker threads during an ME bulk window, grouped by function. */
async function profileMeBulk(dcPort, me, fakeMe, edges) {
  const dir = await mkdtemp(join(os.tmpdir(), 'mtedge-bench-me-prof-'));
  try {
    const e = await startMtedge(dcPort, me, dir);
    edges.push(e);
    await waitLinks(fakeMe, POOL_SIZE);
    const r = await bulk(e, fakeMe.pid);
    const end = Date.now() + PROF_MS + 5000;
    let files = [];
    while (Date.now() < end) {
      files = (await readdir(dir)).filter((f) => f.startsWith(`${e.pid}-`) && !f.endsWith('-0.cpuprofile'));
      if (files.length >= WORKERS) break;
      await sleep(200);
    }
    await e.edge.stop();
    if (files.length === 0) return undefined;
    const self = new Map();
    let busy = 0;
    for (const f of files) {
      const prof = JSON.parse(await readFile(join(dir, f), 'utf8'));
      const byId = new Map(prof.nodes.map((n) => [n.id, n.callFrame]));
      for (let i = 0; i < prof.samples.length; i++) {
        const cf = byId.get(prof.samples[i]);
        const t = prof.timeDeltas[i] ?? 0;
        if (cf.functionName === '(idle)') continue;
        busy += t;
        const name = `${cf.functionName || '(anonymous)'} (${cf.url.split('/').slice(-2).join('/') || 'native'})`;
        self.set(name, (self.get(name) ?? 0) + t);
      }
    }
    const top = [...self].sort((a, b) => b[1] - a[1]).slice(0, 10).map(([name, t]) => ({ name, share: t / busy }));
    return { busyS: busy / 1e6, threads: files.length, top, cpuPerGB: r.cpuPerGB };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Per-byte primitives the edge uses, on one core, 16 KiB buffers transformed in place (bytes/s):
 * the addon's CRC32-C (SSE4.2; the RPC link's checksum, negotiated with the fake ME), AES-256-CBC
 * encrypt and decrypt (the ME link) and AES-256-CTR (obfuscated2, both modes). Best of 3 short
 * runs: on a shared box other work only ever slows a run down. `openssl speed` CBC encrypt is the
 * outside baseline (undefined when openssl is not on PATH).
 */
function primitives() {
  const n = nativeAddon();
  const buf = randomBytes(16384);
  const rate = (fn) => {
    for (let i = 0; i < 200; i++) fn();
    let best = 0;
    for (let run = 0; run < 3; run++) {
      let k = 0;
      const t0 = performance.now();
      while (performance.now() - t0 < 200) {
        for (let i = 0; i < 50; i++) fn();
        k += 50;
      }
      best = Math.max(best, (k * buf.length) / ((performance.now() - t0) / 1000));
    }
    return best;
  };
  const key = randomBytes(32);
  const cbcEnc = n.cbcCreate(key, randomBytes(16), false);
  const cbcDec = n.cbcCreate(key, randomBytes(16), true);
  const ctr = n.ctrCreate(key, randomBytes(16));
  const crc = n.crc32c;
  // The edge encrypts the links that flush in the same turn together (AES-NI lanes): 3 streams.
  let lanes3;
  if (n.cbcLaneCreate && n.cbcLaneEncrypt) {
    const lanes = [0, 1, 2].map(() => n.cbcLaneCreate(randomBytes(32), randomBytes(16)));
    const bufs = [0, 1, 2].map(() => randomBytes(16384));
    lanes3 = 3 * rate(() => n.cbcLaneEncrypt(lanes, bufs));
  }
  return {
    cbcEncLanes3: lanes3,
    crc32c: crc ? rate(() => crc(buf, 0, buf.length, 0)) : NaN,
    cbcEnc: rate(() => n.cipherApply(cbcEnc, buf)),
    cbcDec: rate(() => n.cipherApply(cbcDec, buf)),
    ctr: rate(() => n.ctrApply(ctr, buf)),
    opensslCbcEnc: opensslCbc(),
  };
}

/** `openssl speed` AES-256-CBC encrypt on 16 KiB blocks, bytes/s (undefined without openssl). */
function opensslCbc() {
  try {
    const txt = execFileSync('openssl', ['speed', '-elapsed', '-seconds', '1', '-bytes', '16384', '-evp', 'aes-256-cbc'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 15000 });
    const k = /^aes-256-cbc\s+([\d.]+)k\s*$/im.exec(txt)?.[1];
    return k ? Number(k) * 1000 : undefined;
  } catch {
    return undefined;
  }
}

// ---- report -------------------------------------------------------------------------------------

function machine() {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const model = /model name\s*:\s*(.*)/.exec(cpuinfo)?.[1] ?? 'unknown';
  let fdLimit = 'unknown';
  try {
    fdLimit = execFileSync('bash', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim();
  } catch {
    // keep unknown
  }
  return { model, cores: os.cpus().length, node: process.version, kernel: os.release(), memGiB: os.totalmem() / 2 ** 30, fdLimit, loadAvg1: os.loadavg()[0] };
}

const f1 = (x) => (Number.isFinite(x) ? x.toFixed(1) : 'n/a');
const f2 = (x) => (Number.isFinite(x) ? x.toFixed(2) : 'n/a');
const pct = (x) => (Number.isFinite(x) ? `${(x * 100).toFixed(0)}%` : 'n/a');
const yes = (b) => (b ? '**met**' : '**not met**');
const kib = (r) => f1(r.bytesPerSyscall / 1024);
// A full-speed window whose echo fell behind: the clients got back much less than they sent (the
// rest waited in socket buffers or the fake ME), so bytes relayed undercount the edge's work.
const BEHIND = 0.8;
const behind = (r) => r.txBytes > 0 && r.rxBytes / r.txBytes < BEHIND;
const fullWindows = (runs) => runs.map((r) => `${f2(r.cpuPerGB)}${behind(r) ? ` (echo behind: ${pct(r.rxBytes / r.txBytes)} of sent)` : ''}`).join(', ');
// Profile entries by what they do (names as bench/cpu-prof.cjs records them: `fn (dir/file)`).
const PROFILE_GROUPS = {
  crc: /crc/i,
  // The addon's calls are charged to the JS function that makes them.
  cipher: /^(apply \((me\/accelerators|dist\/ctr)\.js\)|applyLanes |cipherApply |ctrApply |update \(crypto)/,
  write: /^(writeBuffer|writev|writeGeneric|writevGeneric|writeUtf8String) /,
  copy: /^(_copyActual|copy|concat|createUnsafeBuffer|allocUnsafe|allocUnsafeSlow) /,
  gc: /garbage collector/,
};

function render(R) {
  const L = [];
  const p = (s = '') => L.push(s);
  const d = R.direct;
  const m = R.me;
  const cpuRatio = m.bulk.cpuPerGB / d.bulk.cpuPerGB;
  const eqRatio = m.paced.cpuPerGB / d.paced.cpuPerGB;
  const rate = R.pacedRate.relayedMBps;
  const deliv = (mode) => R.runs[mode].paced.map((r) => r.delivered);
  const delivOk = (mode) => deliv(mode).every((x) => Math.abs(x - 1) <= PACED_TOLERANCE);
  const busyMe = (m.bulk.edgeCores ?? 0) + (m.bulk.fakeMeCores ?? 0) + (m.bulk.clientCores ?? 0);
  const hsRatio = m.hs.perCpu / d.hs.perCpu;
  const i = R.idle;
  const linkBound = POOL_PER_WORKER * WORKERS;
  p('## Middle-End');
  p();
  p(`Generated by \`node scripts/bench-me.mjs\` (last step of \`npm run bench\`) on ${R.date.slice(0, 16).replace('T', ' ')} UTC.`);
  p(`Machine: ${R.machine.model}, ${R.machine.cores} cores, ${f1(R.machine.memGiB)} GiB, Node ${R.machine.node}, Linux ${R.machine.kernel}, open files ${R.machine.fdLimit}, 1-min load average at start ${f2(R.machine.loadAvg1)} (other work on the box skews wall figures more than CPU-s ones).`);
  p();
  p(`Setup: the built edge, ${WORKERS} workers, dd secret (padded intermediate), measured in direct mode and in ME mode in the same run with the same load client.`);
  p(`ME mode: \`use_middle_proxy = true\`, ad tag, \`middle_proxy_pool_size = ${POOL_SIZE}\` (${POOL_PER_WORKER} writers per worker for the one ME DC), proxy-secret and proxy-multi.conf served over HTTP by the testkit fake ME, which answers every RPC_PROXY_REQ with the same payload.`);
  p(`Direct mode: the lean echo DC (bench/dc.mjs). Fake ME, DC and load client each run in their own process; **only the edge process's CPU** (utime+stime from /proc, all threads) is counted.`);
  p(`Windows alternate between the two edges (both up, the idle one costs nothing), after one uncounted full-speed window on each (V8 compiles the hot paths in the first seconds under load): ${BULK_PAIRS} full-speed bulk, ${PACED_PAIRS} equal-load bulk and ${HS_PAIRS} handshake windows per mode; the table shows the median window (by CPU-s per GB for bulk), its other rows are from that same window.`);
  p(`Traffic: ${BULK_CONNS} connections sending real frames of ${MIN_PAYLOAD / 1024}-${MAX_PAYLOAD / 1024} KiB payloads (uniform, multiples of 4) in ${BULK_BLOCK_KIB} KiB blocks; ${WINDOW_MS / 1000} s windows after ${WARMUP_MS / 1000} s warm-up. Bytes relayed = 2 x bytes echoed back to the clients (client->edge and edge->client, counted at the client).`);
  p();
  p(`- **Full speed**: each connection sends its next block as soon as its socket drains, so each mode runs as fast as the box lets it.`);
  p(
    `- **Equal load**: the client paces all connections together to **${f1(rate)} MB/s relayed** (${f1(rate / 2)} MB/s sent; one token bucket refilled every 5 ms, whole blocks, socket backpressure still respected), the same for both modes. ` +
      (R.pacedRate.forced ? 'The rate was set by BENCH_ME_RATE_MBPS.' : `The rate is ${pct(R.pacedRate.share)} of the slower mode's full-speed median in this run (${f1(R.pacedRate.fromMBps)} MB/s), rounded down, so that both modes can carry it.`),
  );
  p();
  p('| | direct | ME | ME / direct | target |');
  p('|---|---:|---:|---:|---|');
  p(`| **equal load**: edge CPU-s per GB relayed (median) | ${f2(d.paced.cpuPerGB)} | ${f2(m.paced.cpuPerGB)} | ${f2(eqRatio)}x | <= ${TARGET_CPU_RATIO}x: ${yes(eqRatio <= TARGET_CPU_RATIO)} |`);
  p(`| all windows | ${d.paced.all.map(f2).join(', ')} | ${m.paced.all.map(f2).join(', ')} | | |`);
  p(`| delivered / offered ${f1(rate)} MB/s, all windows | ${deliv('direct').map(pct).join(', ')} | ${deliv('me').map(pct).join(', ')} | | within ${pct(PACED_TOLERANCE)}: direct ${delivOk('direct') ? 'yes' : '**no**'}, ME ${delivOk('me') ? 'yes' : '**no**'} |`);
  p(`| edge KiB per read/write syscall | ${kib(d.paced)} | ${kib(m.paced)} | | |`);
  p(`| edge cores busy | ${f2(d.paced.edgeCores)} | ${f2(m.paced.edgeCores)} | | |`);
  p(`| **full speed**: edge CPU-s per GB relayed (median) | ${f2(d.bulk.cpuPerGB)} | ${f2(m.bulk.cpuPerGB)} | ${f2(cpuRatio)}x | <= ${TARGET_CPU_RATIO}x: ${yes(cpuRatio <= TARGET_CPU_RATIO)} |`);
  p(`| all windows | ${fullWindows(R.runs.direct.bulk)} | ${fullWindows(R.runs.me.bulk)} | | |`);
  p(`| throughput (wall) | ${f1(d.bulk.mbPerSec)} MB/s | ${f1(m.bulk.mbPerSec)} MB/s | ${f2(m.bulk.mbPerSec / d.bulk.mbPerSec)}x | |`);
  p(`| edge KiB per read/write syscall | ${kib(d.bulk)} | ${kib(m.bulk)} | | |`);
  p(`| edge cores busy | ${f2(d.bulk.edgeCores)} | ${f2(m.bulk.edgeCores)} | | |`);
  p(`| handshakes per edge CPU-s (median) | ${f1(d.hs.perCpu)} | ${f1(m.hs.perCpu)} | ${f2(hsRatio)}x | (reported) |`);
  p(`| all windows | ${d.hs.all.map(f1).join(', ')} | ${m.hs.all.map(f1).join(', ')} | | |`);
  p(`| handshakes per second (wall) | ${f1(d.hs.perWall)} | ${f1(m.hs.perWall)} | ${f2(m.hs.perWall / d.hs.perWall)}x | |`);
  p(`| handshake errors in the window | ${d.hs.errors} | ${m.hs.errors} | | |`);
  p();
  p(`A handshake = TCP connect + obfuscated2 init + one 32-byte frame + its echo + close, ${HS_CONCURRENCY} in flight, 40 source addresses 127.0.0.2-41. KiB per read/write syscall = (rchar + wchar) / (syscr + syscw) of the edge process over the window (/proc/<pid>/io; client and upstream sockets).`);
  p();
  p(
    `**Target (ME CPU per GB within ${TARGET_CPU_RATIO}x of direct):** at equal load ${f2(eqRatio)}x, ${yes(eqRatio <= TARGET_CPU_RATIO)}; at full speed ${f2(cpuRatio)}x, ${yes(cpuRatio <= TARGET_CPU_RATIO)}` +
      (R.many ? `; many clients at equal load (table below) ${f2(R.many.me.paced.cpuPerGB / R.many.direct.paced.cpuPerGB)}x, ${yes(R.many.me.paced.cpuPerGB / R.many.direct.paced.cpuPerGB <= TARGET_CPU_RATIO)}. ` : '. ') +
      `Equal load is the fairer comparison of the edge's work per byte: the client offers both modes the same bytes at the same pace (same rate, same ${BULK_BLOCK_KIB} KiB blocks, same 5 ms tick), so both edges are offered the same bytes per wake-up. ` +
      `At full speed each mode runs at its own pace (${f1(d.bulk.mbPerSec)} MB/s direct, ${f1(m.bulk.mbPerSec)} MB/s ME; ` +
      (busyMe > R.machine.cores - 0.25
        ? `the ME window saturates this ${R.machine.cores}-core box: edge ${f2(m.bulk.edgeCores)} + fake ME ${f2(m.bulk.fakeMeCores)} + client ${f2(m.bulk.clientCores)} = ${f2(busyMe)} cores)`
        : `the bench's processes kept ${f2(busyMe)} of ${R.machine.cores} cores busy in the ME window: edge ${f2(m.bulk.edgeCores)}, fake ME ${f2(m.bulk.fakeMeCores)}, client ${f2(m.bulk.clientCores)})`) +
      `, and the batch each wake-up handles follows that pace, so the full-speed ratio mixes the two modes' work per byte with how fast this box lets each of them run. ` +
      `(KiB per read/write syscall counts the upstream socket too, where ME mode batches a link's packets per event-loop turn, so it does not compare the client side alone.)` +
      (delivOk('direct') && delivOk('me')
        ? ''
        : !delivOk('direct') && !delivOk('me')
          ? ` **Caveat:** neither mode delivered the offered rate within ${pct(PACED_TOLERANCE)} in every equal-load window (see the delivered row), so the equal-load row is not at the offered load.`
          : ` **Caveat:** ${delivOk('me') ? 'direct' : 'ME'} did not deliver the offered rate within ${pct(PACED_TOLERANCE)} in every equal-load window (see the delivered row), so its equal-load figure is not at the same load as the other mode's.`),
  );
  p();
  if (R.many) {
    const y = R.many;
    const manyRatio = y.me.paced.cpuPerGB / y.direct.paced.cpuPerGB;
    const manyFull = y.me.bulk.cpuPerGB / y.direct.bulk.cpuPerGB;
    const mdeliv = (mode) => y.runs[mode].paced.map((r) => r.delivered);
    const mOk = (mode) => mdeliv(mode).every((x) => Math.abs(x - 1) <= PACED_TOLERANCE);
    p(
      `**Many clients** (second traffic shape, same edges, same frames): ${y.conns} connections, each writing ${y.blockKiB} KiB at a time, so a turn's upload is spread over all of a worker's ME links, as on a public proxy with many clients, instead of one client's ${BULK_BLOCK_KIB} KiB burst on one link. ` +
        `${MANY_BULK_PAIRS} full-speed windows per mode pick the equal-load rate (${pct(y.pacedRate.share)} of the slower mode's ${y.pacedRate.from ?? 'median'} window, ${f1(y.pacedRate.fromMBps)} MB/s, rounded down${y.pacedRate.from === 'best' ? '; the best, not the median: a window slowed by the rest of the box says nothing of what both modes can carry' : ''}): **${f1(y.pacedRate.relayedMBps)} MB/s relayed**; then ${PACED_PAIRS} equal-load windows per mode.`,
    );
    p();
    p('| many clients | direct | ME | ME / direct | target |');
    p('|---|---:|---:|---:|---|');
    p(`| **equal load**: edge CPU-s per GB relayed (median) | ${f2(y.direct.paced.cpuPerGB)} | ${f2(y.me.paced.cpuPerGB)} | ${f2(manyRatio)}x | <= ${TARGET_CPU_RATIO}x: ${yes(manyRatio <= TARGET_CPU_RATIO)} |`);
    p(`| all windows | ${y.direct.paced.all.map(f2).join(', ')} | ${y.me.paced.all.map(f2).join(', ')} | | |`);
    p(`| delivered / offered ${f1(y.pacedRate.relayedMBps)} MB/s, all windows | ${mdeliv('direct').map(pct).join(', ')} | ${mdeliv('me').map(pct).join(', ')} | | within ${pct(PACED_TOLERANCE)}: direct ${mOk('direct') ? 'yes' : '**no**'}, ME ${mOk('me') ? 'yes' : '**no**'} |`);
    p(`| edge KiB per read/write syscall | ${kib(y.direct.paced)} | ${kib(y.me.paced)} | | |`);
    p(`| full speed: edge CPU-s per GB relayed (median) | ${f2(y.direct.bulk.cpuPerGB)} | ${f2(y.me.bulk.cpuPerGB)} | ${f2(manyFull)}x | (reported) |`);
    p(`| all windows | ${fullWindows(y.runs.direct.bulk)} | ${fullWindows(y.runs.me.bulk)} | | |`);
    p(`| throughput (wall) | ${f1(y.direct.bulk.mbPerSec)} MB/s | ${f1(y.me.bulk.mbPerSec)} MB/s | ${f2(y.me.bulk.mbPerSec / y.direct.bulk.mbPerSec)}x | |`);
    p(`| cores busy in that window: edge, fake ME, client | ${f2(y.direct.bulk.edgeCores)}, -, ${f2(y.direct.bulk.clientCores)} | ${f2(y.me.bulk.edgeCores)}, ${f2(y.me.bulk.fakeMeCores)}, ${f2(y.me.bulk.clientCores)} | | |`);
    p();
    const busyMany = (y.me.bulk.edgeCores ?? 0) + (y.me.bulk.fakeMeCores ?? 0) + (y.me.bulk.clientCores ?? 0);
    p(
      `At full speed each mode runs at its own pace here too (${f1(y.direct.bulk.mbPerSec)} MB/s direct, ${f1(y.me.bulk.mbPerSec)} MB/s ME, with ${f2(busyMany)} of the box's ${R.machine.cores} cores busy in the ME window: edge, fake ME and load client); as for the first shape, the pace changes what a byte costs (every wake-up and syscall has a fixed cost that more bytes at once spread thinner), ` +
        'so that ratio mixes work per byte with how fast this box lets each mode run. It is reported, not judged: the equal-load row is the comparison. ' +
        (y.runs.me.bulk.some(behind) || y.runs.direct.bulk.some(behind)
          ? `In a window marked "echo behind" the clients got back less than ${pct(BEHIND)} of what they sent (the rest waited in socket buffers or the fake ME), so bytes relayed, counted from what came back, undercount what the edge carried and its CPU per GB is overstated.`
          : ''),
    );
    p();
  }
  const windows = [R.runs, R.many?.runs].filter(Boolean).flatMap((runs) => ['direct', 'me'].flatMap((mode) => [...runs[mode].bulk, ...runs[mode].paced]));
  const lost = windows.reduce((a, r) => a + (r.lostConns ?? 0), 0);
  if (lost > 0) {
    p(`**Caveat:** the edge closed ${lost} load-client connection(s) while bulk windows ran (in ${windows.filter((r) => r.lostConns > 0).length} of ${windows.length} windows): those windows did not carry their load on every connection.`);
    p();
  }
  p(`Fake ME process during the ME full-speed bulk window: ${f2(m.bulk.fakeMeCores)} cores busy (load client ${f2(m.bulk.clientCores)}, edge ${f2(m.bulk.edgeCores)}); during the ME equal-load window: ${f2(m.paced.fakeMeCores)} (client ${f2(m.paced.clientCores)}, edge ${f2(m.paced.edgeCores)}); during the ME handshakes: ${f2(m.hs.fakeMeCores)} cores.`);
  p();
  p(`**Idle clients** (fresh ME edge; each client: handshake + one echoed frame, then silent): ${i.open} of ${i.requested} open (${i.errors} errors${i.errors ? `, last: ${i.lastError}` : ''}) in ${f1(i.openS)} s.`);
  p();
  p('| | value | target |');
  p('|---|---:|---|');
  p(`| ME links the fake ME sees (open, handshaked) | ${i.links} (before the clients: ${i.linksBefore}; TCP connections the fake ME accepted since it started, all edges of this run: ${i.meConnectionsTotal}) | <= ${POOL_PER_WORKER} per worker x ${WORKERS} = ${linkBound}: ${yes(i.links <= linkBound)} |`);
  p(`| idle clients | ${i.open} | ${TARGET_IDLE}: ${yes(i.open >= TARGET_IDLE)} |`);
  p(`| clients per writer | ${f1(i.clientsPerLink)} (conn ids per link: ${i.connIdsOnLinks.join(', ')}) | |`);
  p(`| edge RSS per idle ME client, after a full GC | ${f2(i.perClientKiB)} KiB (${f1(i.rss0 / 1024)} -> ${f1(i.rss1 / 1024)} MiB) | |`);
  p(`| same, before the GC | ${f2(i.perClientNoGcKiB)} KiB | |`);
  p();
  if (R.profile) {
    p(`**Where the ME edge's CPU goes** (separate profiled ME bulk window, bench/cpu-prof.cjs in both workers, ${f2(R.profile.busyS)} s busy; self time, top 10; that window ran at ${f2(R.profile.cpuPerGB)} CPU-s/GB with the profiler on):`);
    p();
    p('| function (file) | share of worker busy time |');
    p('|---|---:|');
    for (const t of R.profile.top) p(`| \`${t.name}\` | ${pct(t.share)} |`);
    p();
  }
  p('### What bounds the ME figures');
  p();
  for (const line of R.bounds) p(`- ${line}`);
  p();
  return L.join('\n');
}

function bounds(R) {
  const d = R.direct;
  const m = R.me;
  const out = [];
  const cores = R.machine.cores;
  const P = R.prim;
  if (P) {
    // Seconds per byte of each primitive; the floors are per byte relayed, half of which goes each way.
    const t = { crc: 1 / P.crc32c, enc: 1 / P.cbcEnc, dec: 1 / P.cbcDec, ctr: 1 / P.ctr };
    const directCrypto = 2 * t.ctr * 1e9;
    const meCrypto = (t.ctr + t.crc + 0.5 * (t.enc + t.dec)) * 1e9;
    const names = { crc32c: 'CRC32-C', cbcEnc: 'AES-256-CBC encrypt', cbcDec: 'AES-256-CBC decrypt', ctr: 'AES-256-CTR' };
    const slowest = Object.keys(names).reduce((a, k) => (P[k] < P[a] ? k : a));
    out.push(
      `Per-byte primitives the edge uses, one core of this box (native addon, 16 KiB buffers in place, best of 3): CRC32-C (SSE4.2) ${f1(P.crc32c / 1e6)} MB/s, AES-256-CBC encrypt ${f1(P.cbcEnc / 1e6)} MB/s, decrypt ${f1(P.cbcDec / 1e6)} MB/s, AES-256-CTR ${f1(P.ctr / 1e6)} MB/s; the slowest is ${names[slowest]}` +
        (slowest === 'cbcEnc' ? ' (CBC encryption is serial: each block needs the previous ciphertext, while CBC decryption and CTR run blocks in parallel)' : '') +
        '. ' +
        (Number.isFinite(P.opensslCbcEnc)
          ? `Outside baseline: \`openssl speed -evp aes-256-cbc\` (encrypt, 16 KiB) ${f1(P.opensslCbcEnc / 1e6)} MB/s, so the addon's CBC encrypt runs at ${pct(P.cbcEnc / P.opensslCbcEnc)} of it.`
          : '`openssl` is not on PATH here: no outside baseline.') +
        (Number.isFinite(P.cbcEncLanes3)
          ? ` The edge encrypts every link of a worker that flushes in the same event-loop turn in one call, up to four streams interleaved on AES-NI: 3 streams together run at ${f1(P.cbcEncLanes3 / 1e6)} MB/s in all (${f2(P.cbcEncLanes3 / P.cbcEnc)}x one stream). How many links share a turn depends on the traffic (${BULK_CONNS} clients over ${POOL_PER_WORKER} links per worker in the main shape), so the floor below counts one stream's rate: an upper bound.`
          : ''),
    );
    const floor = (dir) => dir - directCrypto + meCrypto;
    const eqFloor = floor(d.paced.cpuPerGB);
    out.push(
      `Crypto floor per GB relayed (half the relayed bytes go each way): direct mode does 2 AES-CTR passes per byte (client decrypt + DC encrypt one way, DC decrypt + client encrypt back) = ${f2(directCrypto)} CPU-s/GB; ` +
        `ME mode does 1 CTR pass (client side only), CBC encrypt toward the ME on the way up, CBC decrypt on the way back and 1 CRC32-C pass (each RPC packet is checksummed when sent and checked when received) = ${f2(meCrypto)} CPU-s/GB. ` +
        `Direct's measured ${f2(d.paced.cpuPerGB)} CPU-s/GB at equal load leaves ${f2(d.paced.cpuPerGB - directCrypto)} for everything but crypto; the same plus ME's crypto is a floor of ${f2(eqFloor)} CPU-s/GB = **${f2(eqFloor / d.paced.cpuPerGB)}x direct** ` +
        `(from the full-speed direct figure: ${f2(floor(d.bulk.cpuPerGB) / d.bulk.cpuPerGB)}x), ` +
        (eqFloor / d.paced.cpuPerGB <= TARGET_CPU_RATIO ? `so crypto alone leaves the ${TARGET_CPU_RATIO}x target within reach.` : `so crypto alone already exceeds the ${TARGET_CPU_RATIO}x target.`),
    );
    // Mean frame on the wire: mean payload + 4-byte length + mean random padding (0-15).
    const meanFrame = (MIN_PAYLOAD + MAX_PAYLOAD) / 2 + 4 + 7.5;
    const framesPerGB = 1e9 / meanFrame;
    const rest = m.paced.cpuPerGB - eqFloor;
    if (rest <= 0) out.push(`ME at equal load measured ${f2(m.paced.cpuPerGB)} CPU-s/GB, not above that floor: in this run the windows' noise is larger than the non-crypto gap.`);
    else out.push(
      `The rest of the gap: ME at equal load measured ${f2(m.paced.cpuPerGB)} CPU-s/GB, ${f2(rest)} above that floor (${pct(rest / m.paced.cpuPerGB)} of its CPU). ` +
        `That is the per-frame work direct mode does not have: direct mode streams the bytes through its CTR passes without parsing them, while ME mode parses every ${MIN_PAYLOAD / 1024}-${MAX_PAYLOAD / 1024} KiB client frame, wraps it in an RPC_PROXY_REQ (conn id, addresses, ad tag) inside an RPC packet (length, sequence number, CRC) and copies it into the link's batch, then unwraps every RPC_PROXY_ANS and joins a client's answers into one write per turn. ` +
        `At about ${f1(framesPerGB / 1000)}k frames per GB relayed (mean frame ${f1(meanFrame / 1024)} KiB, both directions counted), that is about ${f1((rest / framesPerGB) * 1e6)} us of edge CPU per frame.`,
    );
  }
  const busy = (m.bulk.edgeCores ?? 0) + (m.bulk.fakeMeCores ?? 0) + (m.bulk.clientCores ?? 0);
  out.push(
    `Full speed on this box: ${cores} cores shared by the edge (${WORKERS} workers), the fake ME (one JS thread, with the edge's native CRC32-C and AES-CBC) and the load client; ${f2(busy)} cores were busy in the median ME full-speed window (fake ME ${f2(m.bulk.fakeMeCores)}). ` +
      ((m.bulk.fakeMeCores ?? 0) > 0.85
        ? 'The fake ME is saturated, so **ME wall throughput at full speed is bounded by the fake ME, not the edge**. '
        : busy > cores - 0.25
          ? "The box is saturated, so ME wall throughput at full speed is bounded by the cores the edge shares with the fake ME and the client, not the edge's own ceiling. "
          : `The bench's processes left ${f2(cores - busy)} cores free, so unless other work took them (load average above) ME wall throughput at full speed is not bounded by CPU; this script does not identify what bounds it. `) +
      `Full speed against equal load, CPU-s/GB (KiB per read/write syscall): direct ${f2(d.bulk.cpuPerGB)} (${kib(d.bulk)}) against ${f2(d.paced.cpuPerGB)} (${kib(d.paced)}), ME ${f2(m.bulk.cpuPerGB)} (${kib(m.bulk)}) against ${f2(m.paced.cpuPerGB)} (${kib(m.paced)}): ` +
        `the pace changes what a byte costs, since every wake-up and syscall has a fixed cost that more bytes per batch spread thinner; that is why the ratio is compared at equal load.`,
  );
  if (R.many) {
    const y = R.many;
    out.push(
      `Many clients against few (equal load, CPU-s/GB): direct ${f2(y.direct.paced.cpuPerGB)} against ${f2(d.paced.cpuPerGB)}, ME ${f2(y.me.paced.cpuPerGB)} against ${f2(m.paced.cpuPerGB)}, at ${f1(y.pacedRate.relayedMBps)} against ${f1(R.pacedRate.relayedMBps)} MB/s. ` +
        `With many clients a turn's upload is spread over a worker's links, so several CBC streams share the AES unit (the lanes above) instead of one; but both modes then read and write smaller pieces per client (${kib(y.direct.paced)} and ${kib(y.me.paced)} KiB per syscall against ${kib(d.paced)} and ${kib(m.paced)}), which costs per byte in both.` +
        (y.pacedRate.relayedMBps < R.pacedRate.relayedMBps ? ' This box carries the many-clients load (edge, fake ME and client together) at a lower rate, so its equal load is lower too, and every wake-up does less work.' : ''),
    );
  }
  out.push(
    `Handshakes per CPU-s in ME mode include the RPC_PROXY_REQ round trip of the first frame over an existing writer (no new ME link per client); the fake ME used ${f2(m.hs.fakeMeCores)} cores there. Direct mode opens a TCP connection to the DC per client instead.`,
  );
  if (R.profile) {
    const share = (re) => R.profile.top.filter((t) => re.test(t.name)).reduce((a, t) => a + t.share, 0);
    out.push(
      `Edge CPU in ME mode at full speed, per the profile above: ${R.profile.top.slice(0, 4).map((t) => `\`${t.name}\` ${pct(t.share)}`).join(', ')}. ` +
        `Of the top 10: AES (the native CBC and CTR calls, charged to their JS wrappers \`apply\` in me/accelerators.js and dist/ctr.js) ${pct(share(PROFILE_GROUPS.cipher))}, socket writes ${pct(share(PROFILE_GROUPS.write))}, buffer copies and allocations ${pct(share(PROFILE_GROUPS.copy))}, CRC ${pct(share(PROFILE_GROUPS.crc))}, garbage collection ${pct(share(PROFILE_GROUPS.gc))}.`,
    );
  }
  const i = R.idle;
  if (i.open < i.requested) out.push(`Idle: only ${i.open} of ${i.requested} clients opened (${i.lastError}); the open-files limit is ${R.machine.fdLimit} per process.`);
  else out.push(`Idle: ${i.open} clients need ${i.open} sockets in the edge and in the client process each (open-files limit ${R.machine.fdLimit}), spread over 40 source addresses; the ME side stays at ${i.links} links.`);
  return out;
}

async function writeDoc(section) {
  const docPath = join(ROOT, 'docs/BENCHMARKS.md');
  let old = '';
  try {
    old = await readFile(docPath, 'utf8');
  } catch {
    old = '# Benchmarks\n';
  }
  const at = old.search(/^## Middle-End\b/m);
  let doc;
  if (at < 0) doc = old.replace(/\n*$/, '\n\n') + section + '\n';
  else {
    const rest = old.slice(at);
    const nxt = rest.slice(1).search(/^## /m);
    const tail = nxt < 0 ? '' : rest.slice(nxt + 1);
    doc = old.slice(0, at) + section + (tail ? '\n' + tail : '\n');
  }
  await writeFile(docPath, doc);
}

// ---- main ---------------------------------------------------------------------------------------

async function main() {
  if (process.env.BENCH_ME_RENDER) {
    // Re-render a saved run (its raw JSON) with this script's current prose.
    const R = JSON.parse(await readFile(process.env.BENCH_ME_RENDER, 'utf8'));
    R.bounds = bounds(R);
    if (process.env.BENCH_ME_DOC === '0') console.log(render(R));
    else await writeDoc(render(R));
    return;
  }
  hooksDir = await mkdtemp(join(os.tmpdir(), 'mtedge-bench-me-hooks-'));
  const R = { machine: machine(), date: new Date().toISOString(), prim: primitives() };
  log(`primitives (MB/s, one core, native): crc32c ${f1(R.prim.crc32c / 1e6)}, aes-256-cbc encrypt ${f1(R.prim.cbcEnc / 1e6)}, decrypt ${f1(R.prim.cbcDec / 1e6)}, aes-256-ctr ${f1(R.prim.ctr / 1e6)}; openssl speed aes-256-cbc encrypt ${f1(R.prim.opensslCbcEnc / 1e6)}`);
  log(`machine: ${R.machine.model}, ${R.machine.cores} cores, node ${R.machine.node}`);
  const dc = child('dc.mjs');
  const dcPort = (await dc.next()).port;
  const fakeMe = child('me/fake-me.mjs');
  const me = await fakeMe.next();
  const edges = [];
  try {
    if (process.env.BENCH_ME_ONLY === 'me-bulk' || process.env.BENCH_ME_ONLY === 'direct-bulk') {
      // Profiling aid (with BENCH_CPU_PROF): one edge, one bulk window, nothing else.
      const viaMe = process.env.BENCH_ME_ONLY === 'me-bulk';
      const e = await startMtedge(dcPort, viaMe ? me : null);
      edges.push(e);
      if (viaMe) await waitLinks(fakeMe, POOL_SIZE);
      const paced = Number(process.env.BENCH_ME_RATE_MBPS ?? 0) * 1e6;
      const r = await bulk(e, viaMe ? fakeMe.pid : undefined, paced > 0 ? paced : undefined);
      log(`${viaMe ? 'ME' : 'direct'} bulk${paced > 0 ? ` (paced to ${f1(paced / 1e6)} MB/s relayed)` : ''}: ${f2(r.cpuPerGB)} CPU-s/GB, ${f1(r.mbPerSec)} MB/s, edge ${f2(r.edgeCores)} cores, fake ME ${f2(r.fakeMeCores)} cores, client ${f2(r.clientCores)}`);
      await sleep(Number(process.env.BENCH_PROF_MS ?? 0));
      // With V8 tracing flags set through BENCH_EDGE_NODE_OPTIONS, the edge's output is the trace.
      if (process.env.BENCH_EDGE_OUTPUT) await writeFile(process.env.BENCH_EDGE_OUTPUT, e.edge.output());
      await e.edge.stop();
      return;
    }
    // Both edges stay up and the windows alternate (direct, ME, ME, direct, ...): this box's
    // run-to-run drift is larger than a single pair would show, so the figures are medians.
    const direct = await startMtedge(dcPort, null);
    edges.push(direct);
    const meEdge = await startMtedge(dcPort, me);
    edges.push(meEdge);
    const warm = await waitLinks(fakeMe, POOL_SIZE);
    log(`ME links up: ${warm?.openHandshaked}`);
    const runs = { direct: { bulk: [], paced: [], hs: [] }, me: { bulk: [], paced: [], hs: [] } };
    const few = { name: '', shape: { conns: BULK_CONNS, blockKiB: BULK_BLOCK_KIB }, runs, rate: 0 };
    const one = async (mode, kind, sh) => {
      const e = mode === 'me' ? meEdge : direct;
      const pid = mode === 'me' ? fakeMe.pid : undefined;
      const r = kind === 'handshake' ? await handshakes(e, pid) : await bulk(e, pid, kind === 'paced' ? sh.rate : undefined, sh.shape);
      sh.runs[mode][kind === 'handshake' ? 'hs' : kind].push(r);
      if (kind !== 'handshake') {
        const paced = kind === 'paced' ? ` (paced: ${pct(r.delivered)} of ${f1(r.offeredMBps)} MB/s delivered)` : '';
        log(`${mode} ${sh.name}${kind}: ${f2(r.cpuPerGB)} CPU-s/GB, ${f1(r.mbPerSec)} MB/s${paced}, edge ${f2(r.edgeCores)} cores, fake ME ${f2(r.fakeMeCores)}, client ${f2(r.clientCores)}, ${f1(r.bytesPerSyscall / 1024)} KiB/syscall${r.lostConns ? `, ${r.lostConns} connections closed by the edge` : ''}`);
      } else log(`${mode} handshakes: ${f1(r.perCpu)}/CPU-s, ${f1(r.perWall)}/s, errors ${r.errors} ${r.lastError ?? ''}`);
    };
    const alternate = async (pairs, kind, sh = few) => {
      for (let i = 0; i < pairs; i++) for (const mode of i % 2 ? ['me', 'direct'] : ['direct', 'me']) await one(mode, kind, sh);
    };
    /**
     * Equal load for a shape: one offered rate for both modes, from its full-speed windows (their
     * median, or with `best` the fastest one: a window the box slowed down says nothing of what
     * the modes can carry).
     */
    const equalLoad = (sh, forcedMBps, best = false) => {
      const full = (mode) => (best ? Math.max(...sh.runs[mode].bulk.map((r) => r.mbPerSec)) : medianRun(sh.runs[mode].bulk, 'mbPerSec').mbPerSec);
      const slower = Math.min(full('direct'), full('me'));
      const from = best ? 'best' : 'median';
      sh.rate = forcedMBps * 1e6 || roundDown2(PACED_SHARE * slower) * 1e6;
      log(`${sh.name}equal load: ${f1(sh.rate / 1e6)} MB/s relayed (${f1(sh.rate / 2e6)} MB/s sent by the client), ${forcedMBps ? 'BENCH_ME_RATE_MBPS' : `${pct(PACED_SHARE)} of the slower full-speed ${from} ${f1(slower)} MB/s`}`);
      return { relayedMBps: sh.rate / 1e6, fromMBps: slower, from, share: PACED_SHARE, forced: Boolean(forcedMBps) };
    };
    // One uncounted full-speed window per edge first: V8 compiles each edge's hot paths in its
    // first seconds under load (read with perf: about 6% of an ME edge's CPU then, 1% after).
    for (const [e, pid] of [[direct, undefined], [meEdge, fakeMe.pid]]) await bulk(e, pid);
    log('warm-up windows done (not counted)');
    await alternate(BULK_PAIRS, 'bulk');
    R.pacedRate = equalLoad(few, Number(process.env.BENCH_ME_RATE_MBPS ?? 0));
    await alternate(PACED_PAIRS, 'paced');
    if (MANY.conns > 0) {
      const many = { name: 'many-clients ', shape: MANY, runs: { direct: { bulk: [], paced: [] }, me: { bulk: [], paced: [] } }, rate: 0 };
      // This shape takes paths the first one barely did (slow readers, held reads): warm them too.
      for (const [e, pid] of [[direct, undefined], [meEdge, fakeMe.pid]]) await bulk(e, pid, undefined, MANY);
      await alternate(MANY_BULK_PAIRS, 'bulk', many);
      // Best window: with 256 sockets in the client, some windows are slowed by the box itself.
      const pacedRate = equalLoad(many, 0, true);
      await alternate(PACED_PAIRS, 'paced', many);
      const med = (mode) => ({ bulk: medianRun(many.runs[mode].bulk, 'cpuPerGB'), paced: medianRun(many.runs[mode].paced, 'cpuPerGB') });
      R.many = { ...MANY, pacedRate, runs: many.runs, direct: med('direct'), me: med('me') };
    }
    await alternate(HS_PAIRS, 'handshake');
    R.runs = runs;
    R.direct = { bulk: medianRun(runs.direct.bulk, 'cpuPerGB'), paced: medianRun(runs.direct.paced, 'cpuPerGB'), hs: medianRun(runs.direct.hs, 'perCpu') };
    R.me = { bulk: medianRun(runs.me.bulk, 'cpuPerGB'), paced: medianRun(runs.me.paced, 'cpuPerGB'), hs: medianRun(runs.me.hs, 'perCpu') };
    if (process.env.BENCH_EDGE_OUTPUT) await writeFile(process.env.BENCH_EDGE_OUTPUT, meEdge.edge.output());
    await direct.edge.stop();
    await meEdge.edge.stop();

    // Where the ME edge's CPU goes: a profiled ME bulk window on its own edge (the profiler's
    // overhead stays out of the figures above).
    if (process.env.BENCH_ME_PROFILE !== '0') {
      R.profile = await profileMeBulk(dcPort, me, fakeMe, edges);
      if (R.profile) log(`profile: ${R.profile.top.map((t) => `${t.name} ${pct(t.share)}`).join(', ')}`);
    }

    // Idle, on a fresh ME edge so the bulk runs' heap growth does not hide the per-client cost.
    const e = await startMtedge(dcPort, me);
    edges.push(e);
    await waitLinks(fakeMe, POOL_SIZE);
    log(`idle: opening ${IDLE_CONNS} ME clients ...`);
    R.idle = await idle(e, fakeMe, IDLE_CONNS);
    log(`idle: ${R.idle.open} open (${R.idle.errors} errors), ${R.idle.links} ME links, ${f2(R.idle.perClientKiB)} KiB/client after GC`);
    await e.edge.stop();
  } finally {
    for (const e of edges) if (e.edge.proc.exitCode === null && e.edge.proc.signalCode === null) await e.edge.stop().catch(() => undefined);
    await fakeMe.stop();
    await dc.stop();
    for (const p of children) p.kill('SIGKILL');
    await rm(hooksDir, { recursive: true, force: true });
  }
  R.bounds = bounds(R);
  R.elapsedS = (Date.now() - T0) / 1000;
  await writeFile(join(os.tmpdir(), 'mtedge-bench-me.json'), JSON.stringify(R, null, 2));
  const section = render(R);
  if (process.env.BENCH_ME_DOC === '0') console.log(section);
  else await writeDoc(section);
  log(`done in ${f1(R.elapsedS)} s -> ${process.env.BENCH_ME_DOC === '0' ? 'stdout' : 'docs/BENCHMARKS.md'} (raw: ${join(os.tmpdir(), 'mtedge-bench-me.json')})`);
}

await main();
