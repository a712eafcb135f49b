#!/usr/bin/env node
// Peers benchmark (part of `npm run bench`): mtedge beside another MTProxy implementation, in ONE
// run, on the same box, with the same load generator (bench/clients.mjs) and the same echo DC
// (bench/dc.mjs), written as the `## Peers` section of docs/BENCHMARKS.md as mtedge/peer ratios.
//
// The peer is alexbers/mtprotoproxy (Python, vendored unmodified in bench/peers/mtprotoproxy),
// started through bench/peers/mtprotoproxy-run.py, which points its DC table at the echo DC and
// replaces its public-IP lookup; the generated config switches off everything else that would
// reach out (middle proxy, time sync, mask host probe, metrics).
//
// Flow: the outer process runs scripts/bench-peers-setup.sh (installs python3-cryptography /
// python3-uvloop for /usr/bin/python3 when missing: the only step that may use the network), then
// re-runs this script inside `unshare -n` with only loopback up, so nothing measured can reach
// the internet; without unshare it runs in the host namespace and says so in the report.
// Bounded: a watchdog kills the inner run's process group after BENCH_PEERS_LIMIT_S (230 s).
//
// Env knobs: BENCH_PEERS_SECONDS (window per figure, default 3), BENCH_PEERS_ROUNDS (default 3),
// BENCH_PEERS_IDLE_CONNS (default 5000), BENCH_PEERS_NO_UVLOOP=1 (peer on the stock asyncio loop).
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, writeFile, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

import { BENCH, ROOT, child, cpuSeconds, edgeGc, rssKiB } from '../bench/proc.mjs';
const PEER_DIR = join(BENCH, 'peers');
const PY = '/usr/bin/python3';
const LIMIT_S = Number(process.env.BENCH_PEERS_LIMIT_S ?? 230);
const T0 = Date.now();
const log = (...a) => console.log(`[peers ${((Date.now() - T0) / 1000).toFixed(0).padStart(3)}s]`, ...a);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---- outer: setup, network namespace, watchdog -------------------------------------------------

function outer() {
  const setup = spawnSync('sh', [join(ROOT, 'scripts/bench-peers-setup.sh')], { stdio: 'inherit' });
  if (setup.status !== 0) {
    console.error('bench-peers: setup failed, peers benchmark not run');
    process.exit(1);
  }
  const probe = spawnSync('unshare', ['-n', 'sh', '-c', 'ip link set lo up'], { stdio: 'ignore' });
  const isolated = probe.status === 0;
  const env = { ...process.env, MTEDGE_PEERS_INNER: '1', MTEDGE_PEERS_NETNS: isolated ? 'private' : 'host' };
  const script = new URL(import.meta.url).pathname;
  const [cmd, args] = isolated
    ? ['unshare', ['-n', 'sh', '-c', 'ip link set lo up && exec "$0" "$@"', process.execPath, script]]
    : [process.execPath, [script]];
  if (!isolated) log('unshare -n is not available here: running in the host network namespace (every peer option that reaches out is off)');
  // Own process group: the watchdog and signals end the inner run and everything it started.
  const child = spawn(cmd, args, { stdio: 'inherit', env, detached: true });
  const killGroup = () => {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  const watchdog = setTimeout(() => {
    console.error(`bench-peers: over the ${LIMIT_S} s limit, killing the run`);
    killGroup();
  }, LIMIT_S * 1000);
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => killGroup());
  child.on('exit', (code, signal) => {
    clearTimeout(watchdog);
    killGroup(); // anything the inner run left behind
    process.exit(code ?? (signal ? 1 : 0));
  });
}

// ---- inner: the measurements -------------------------------------------------------------------

const WINDOW_MS = Math.round(Number(process.env.BENCH_PEERS_SECONDS ?? 3) * 1000);
const ROUNDS = Number(process.env.BENCH_PEERS_ROUNDS ?? 3);
const IDLE_CONNS = Number(process.env.BENCH_PEERS_IDLE_CONNS ?? 5000);
const WARMUP_MS = 800;
const IDLE_WARMUP = 300;
// Debug knob: 'idle' or 'load' runs that part only (the doc is then written to the tmp dir).
const ONLY = process.env.BENCH_PEERS_ONLY ?? null;
const HS_POOL = 20000;
const BULK_CONNS = 16;
const HS_CONCURRENCY = 16;
const DOMAIN = 'front.example.com';
const SOURCE_ADDRS = Array.from({ length: 40 }, (_, i) => `127.0.0.${i + 2}`);
const GB = 1e9;




function median(xs) {
  const v = [...xs].sort((a, b) => a - b);
  return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
}

const secretHex = Array.from({ length: 16 }, () => Math.floor(Math.random() * 256).toString(16).padStart(2, '0')).join('');

// ---- targets -----------------------------------------------------------------------------------

let hooksRoot;

/**
 * Full GC in every thread of an edge (bench/edge-hooks.cjs), waiting for `threads` acks. Each
 * edge watches its own directory: both edges live at once and must not answer for each other.
 */

async function startMtedge(dcPort, workers, helpers) {
  const apiPort = await helpers.freePort();
  const toml = helpers.edgeConfigToml({
    users: [{ name: 'bench', secretHex }],
    dcPort,
    apiPort,
    tlsDomain: DOMAIN,
    workers,
    modes: { classic: false, secure: true, tls: true },
    serverToml: 'max_connections = 0',
  });
  const hooksDir = await mkdtemp(join(hooksRoot, `w${workers}-`));
  const env = { BENCH_HOOKS_DIR: hooksDir, NODE_OPTIONS: `--expose-gc --require ${join(BENCH, 'edge-hooks.cjs')}` };
  const edge = await helpers.startEdge(toml, { apiPort, env });
  const pid = JSON.parse(/MTEDGE_READY (\{.*\})/.exec(edge.output())[1]).pid;
  await sleep(300);
  return {
    name: `mtedge, ${workers} worker${workers > 1 ? 's' : ''}`,
    key: `mtedge${workers}`,
    port: edge.port,
    pid,
    gc: () => edgeGc(hooksDir, workers + 1),
    stop: () => edge.stop(),
  };
}

function peerConfig(port, fastMode) {
  // Everything that would reach out is off: middle proxy (config + time sync), the mask host
  // probe, metrics; the IP lookup and DC table are handled by mtprotoproxy-run.py.
  return `# generated by scripts/bench-peers.mjs
PORT = ${port}
USERS = {"bench": "${secretHex}"}
MODES = {"classic": False, "secure": True, "tls": True}
TLS_DOMAIN = "${DOMAIN}"
MASK = False
MASK_HOST = "127.0.0.1"
MASK_PORT = 9
USE_MIDDLE_PROXY = False
PREFER_IPV6 = False
FAST_MODE = ${fastMode ? 'True' : 'False'}
GET_TIME_PERIOD = 0
PROXY_INFO_UPDATE_PERIOD = 86400
STATS_PRINT_PERIOD = 86400
LISTEN_ADDR_IPV4 = "127.0.0.1"
LISTEN_ADDR_IPV6 = None
METRICS_PORT = None
`;
}

function waitListening(port, timeoutMs) {
  const end = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const s = net.connect({ host: '127.0.0.1', port }, () => {
        s.destroy();
        resolve();
      });
      s.on('error', () => {
        s.destroy();
        if (Date.now() > end) reject(new Error(`nothing listening on ${port} after ${timeoutMs} ms`));
        else setTimeout(attempt, 100);
      });
    };
    attempt();
  });
}

async function startPeer(dcPort, fastMode, helpers) {
  const dir = await mkdtemp(join(os.tmpdir(), 'mtedge-peer-'));
  const port = await helpers.freePort();
  const cfg = join(dir, 'config.py');
  await writeFile(cfg, peerConfig(port, fastMode));
  const proc = spawn(PY, [join(PEER_DIR, 'mtprotoproxy-run.py'), cfg, '127.0.0.1', String(dcPort)], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' },
  });
  let out = '';
  let info;
  const onChunk = (d) => {
    out += d.toString();
    if (out.length > 200_000) out = out.slice(-100_000);
  };
  proc.stderr.on('data', onChunk);
  createInterface({ input: proc.stdout }).on('line', (line) => {
    onChunk(line + '\n');
    if (!info && line.startsWith('{"peer"')) info = JSON.parse(line);
  });
  try {
    await waitListening(port, 15000);
    if (!info) throw new Error('no {"peer":...} line');
  } catch (err) {
    proc.kill('SIGKILL');
    throw new Error(`mtprotoproxy did not start: ${err.message}\n${out.slice(-3000)}`);
  }
  await sleep(300);
  return {
    name: `mtprotoproxy, FAST_MODE=${fastMode ? 'True' : 'False'}`,
    key: fastMode ? 'peerFast' : 'peer',
    port,
    pid: proc.pid,
    info,
    output: () => out,
    gc: async () => true, // CPython frees by reference counting: nothing to collect on demand
    stop: async () => {
      if (proc.exitCode === null) {
        const exited = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGTERM');
        const t = setTimeout(() => proc.kill('SIGKILL'), 3000);
        await exited;
        clearTimeout(t);
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

// ---- measurements (the same jobs scripts/bench.mjs runs) ---------------------------------------

async function bulk(t, dc) {
  const c = child('clients.mjs', [JSON.stringify({ kind: 'bulk', port: t.port, mode: 'dd', secretHex, domain: DOMAIN, conns: BULK_CONNS, warmupMs: WARMUP_MS, durationMs: WINDOW_MS })]);
  await c.next();
  const cpu0 = cpuSeconds(t.pid);
  dc.send('stats');
  const d0 = await dc.next();
  const w0 = performance.now();
  await c.next();
  const cpu1 = cpuSeconds(t.pid);
  dc.send('stats');
  const d1 = await dc.next();
  const wall = (performance.now() - w0) / 1000;
  await c.stop();
  const relayed = d1.rx - d0.rx + (d1.tx - d0.tx);
  const cpu = cpu1 - cpu0;
  return { relayed, cpu, cpuPerGB: cpu / (relayed / GB), mbPerS: relayed / wall / 1e6 };
}

async function handshakes(t) {
  const c = child('clients.mjs', [JSON.stringify({ kind: 'handshake', port: t.port, mode: 'dd', secretHex, domain: DOMAIN, concurrency: HS_CONCURRENCY, warmupMs: WARMUP_MS, durationMs: WINDOW_MS, sourceAddrs: SOURCE_ADDRS, pool: HS_POOL })]);
  const s = await c.next();
  const cpu0 = cpuSeconds(t.pid);
  const w0 = performance.now();
  const d = await c.next();
  const cpu1 = cpuSeconds(t.pid);
  const wall = (performance.now() - w0) / 1000;
  await c.stop();
  const count = d.count - s.count;
  return { count, errors: d.errors, cpu: cpu1 - cpu0, perCpu: count / (cpu1 - cpu0), perWall: count / wall };
}

async function settle(t) {
  let ok = true;
  for (let i = 0; i < 2; i++) {
    ok = (await t.gc()) && ok;
    await sleep(400);
  }
  return ok;
}

/** (RSS with N idle dd sessions - RSS before) / N on a fresh process, with and without a GC first. */
async function idle(t) {
  // A first small batch, opened and closed, so lazily built code and pools are not billed to
  // the measured sessions (on a fresh process they are MBs, i.e. KiBs per session at these N).
  const warm = child('clients.mjs', [JSON.stringify({ kind: 'idle', port: t.port, mode: 'dd', secretHex, domain: DOMAIN, conns: IDLE_WARMUP, concurrency: 64, sourceAddrs: SOURCE_ADDRS })]);
  await warm.next();
  warm.send('close');
  await warm.next();
  await warm.stop();
  await sleep(500);
  // Two rounds: V8 hands freed pages back only after the second full GC here.
  await settle(t);
  const rss0 = rssKiB(t.pid);
  const c = child('clients.mjs', [JSON.stringify({ kind: 'idle', port: t.port, mode: 'dd', secretHex, domain: DOMAIN, conns: IDLE_CONNS, concurrency: 64, sourceAddrs: SOURCE_ADDRS })]);
  const ready = await c.next();
  await sleep(1500);
  const rss1NoGc = rssKiB(t.pid);
  const gcOk = await settle(t);
  const rss1 = rssKiB(t.pid);
  c.send('close');
  await c.next();
  await c.stop();
  const open = Math.max(1, ready.open);
  return { open: ready.open, errors: ready.errors, lastError: ready.lastError, gcOk, rss0, rss1, perConnKiB: (rss1 - rss0) / open, perConnNoGcKiB: (rss1NoGc - rss0) / open };
}

// ---- machine, versions ----------------------------------------------------------------------------

function machine() {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const model = /model name\s*:\s*(.*)/.exec(cpuinfo)?.[1] ?? 'unknown';
  const flags = /flags\s*:\s*(.*)/.exec(cpuinfo)?.[1]?.split(' ') ?? [];
  return { model, cores: os.cpus().length, aesni: flags.includes('aes'), node: process.version, kernel: os.release(), memGiB: os.totalmem() / 2 ** 30 };
}

function mtedgeVersion() {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
  let rev = 'unknown commit';
  try {
    const head = execFileSync('git', ['-C', ROOT, 'rev-parse', '--short=12', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = execFileSync('git', ['--no-optional-locks', '-C', ROOT, 'status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() !== '';
    rev = `${head}${dirty ? ' + uncommitted changes' : ''}`;
  } catch {
    // not a git checkout
  }
  return `${pkg.version} (${rev})`;
}

function peerCommit() {
  const m = /Commit: `([0-9a-f]{40})`/.exec(readFileSync(join(PEER_DIR, 'mtprotoproxy/README.md'), 'utf8'));
  return m ? m[1] : 'unknown';
}

// ---- run -----------------------------------------------------------------------------------------

async function inner() {
  const helpers = await import('../test/dist/helpers/edge.js');
  hooksRoot = await mkdtemp(join(os.tmpdir(), 'mtedge-peers-hooks-'));
  const R = { date: new Date().toISOString(), load0: os.loadavg()[0], machine: machine(), netns: process.env.MTEDGE_PEERS_NETNS ?? 'host', mtedge: mtedgeVersion(), peerCommit: peerCommit() };
  log(`machine: ${R.machine.model}, ${R.machine.cores} cores; network namespace: ${R.netns}`);
  const dc = child('dc.mjs');
  const dcPort = (await dc.next()).port;
  const targets = [];
  try {
    // Each target holds its idle sessions first, on a fresh process, before any load grows it.
    const starters = [
      () => startMtedge(dcPort, 1, helpers),
      () => startMtedge(dcPort, 2, helpers),
      () => startPeer(dcPort, false, helpers),
      () => startPeer(dcPort, true, helpers),
    ];
    R.idle = {};
    for (const start of starters) {
      const t = await start();
      targets.push(t);
      if (t.info) R.peerInfo = t.info;
      if (t.key === 'peerFast' || ONLY === 'load') continue; // FAST_MODE changes only the relay path
      const r = (R.idle[t.key] = await idle(t));
      log(`${t.name}: ${r.perConnKiB.toFixed(2)} KiB per idle conn (${r.open} open, ${r.errors} errors${r.lastError ? `, ${r.lastError}` : ''})`);
    }
    // Rounds over all targets, the order reversed every other round so drift sides with none.
    R.bulk = {};
    R.hs = {};
    for (let round = 0; round < (ONLY === 'idle' ? 0 : ROUNDS); round++) {
      const order = round % 2 === 0 ? targets : [...targets].reverse();
      for (const t of order) {
        const b = await bulk(t, dc);
        (R.bulk[t.key] ??= []).push(b);
        log(`round ${round + 1} ${t.name}: relay ${b.cpuPerGB.toFixed(2)} CPU-s/GB, ${b.mbPerS.toFixed(0)} MB/s`);
      }
      for (const t of order) {
        if (t.key === 'peerFast') continue;
        const h = await handshakes(t);
        (R.hs[t.key] ??= []).push(h);
        log(`round ${round + 1} ${t.name}: ${h.perCpu.toFixed(0)} handshakes/CPU-s, ${h.perWall.toFixed(0)}/s wall, ${h.errors} errors`);
      }
    }
    R.names = Object.fromEntries(targets.map((t) => [t.key, t.name]));
  } finally {
    for (const t of targets.reverse()) await t.stop().catch(() => undefined);
    await dc.stop();
    await rm(hooksRoot, { recursive: true, force: true });
  }
  R.elapsedS = (Date.now() - T0) / 1000;
  R.load1 = os.loadavg()[0];
  const section = render(R);
  const docPath = join(ROOT, 'docs/BENCHMARKS.md');
  let doc = '';
  try {
    doc = await readFile(docPath, 'utf8');
  } catch {
    doc = '# mtedge benchmarks\n';
  }
  if (ONLY === null) await writeFile(docPath, replaceSection(doc, section));
  else await writeFile(join(os.tmpdir(), 'BENCHMARKS.peers.partial.md'), section);
  await writeFile(join(os.tmpdir(), 'mtedge-bench-peers.json'), JSON.stringify(R, null, 2));
  log(`done in ${R.elapsedS.toFixed(1)} s -> ${ONLY === null ? 'docs/BENCHMARKS.md (## Peers)' : join(os.tmpdir(), 'BENCHMARKS.peers.partial.md')}`);
}

/** Replaces the `## Peers` section (up to the next `## ` heading) or appends it; the rest stays byte for byte. */
function replaceSection(doc, section) {
  const lines = doc.split('\n');
  const start = lines.findIndex((l) => /^## Peers\s*$/.test(l));
  if (start < 0) return `${doc.replace(/\n*$/, '')}\n\n${section}`;
  let end = lines.findIndex((l, i) => i > start && /^## /.test(l));
  if (end < 0) end = lines.length;
  const after = lines.slice(end).join('\n');
  return [...lines.slice(0, start), ...section.replace(/\n$/, '').split('\n'), ...(end < lines.length ? ['', after] : [''])].join('\n');
}

// ---- report --------------------------------------------------------------------------------------

const f0 = (x) => (Number.isFinite(x) ? x.toFixed(0) : 'n/a');
const f1 = (x) => (Number.isFinite(x) ? x.toFixed(1) : 'n/a');
const f2 = (x) => (Number.isFinite(x) ? x.toFixed(2) : 'n/a');

function render(R) {
  const m = R.machine;
  const P = R.peerInfo ?? {};
  const L = [];
  const p = (s = '') => L.push(s);
  const med = (set, key, k) => median((set[key] ?? []).map((x) => x[k]));
  const cpuGb = (k) => med(R.bulk, k, 'cpuPerGB');
  const mbs = (k) => med(R.bulk, k, 'mbPerS');
  const hsCpu = (k) => med(R.hs, k, 'perCpu');
  const hsWall = (k) => med(R.hs, k, 'perWall');
  const idleK = (k) => R.idle[k]?.perConnKiB;
  const idleNoGc = (k) => R.idle[k]?.perConnNoGcKiB;
  const row = (name, get, peerKey, better, fmt = f2) => {
    const a = get('mtedge1');
    const b = get('mtedge2');
    const c = get(peerKey);
    p(`| ${name} | ${fmt(a)} | ${fmt(b)} | ${fmt(c)} | **${f2(a / c)}** | **${f2(b / c)}** | ${better} |`);
  };
  p('## Peers');
  p();
  p('Generated by `node scripts/bench-peers.mjs` (last step of `npm run bench`): mtedge and another');
  p('MTProxy implementation measured in the same run, on the same box, with the same load generator');
  p('(bench/clients.mjs), the same echo DC (bench/dc.mjs) and the same windows. Ratios are mtedge / peer:');
  p('below 1 favours mtedge in the "lower" rows, above 1 in the "higher" rows.');
  p();
  p(`- Date: ${R.date}; CPU: ${m.model}, ${m.cores} cores (shared), AES-NI: ${m.aesni ? 'yes' : 'no'}; ${f1(m.memGiB)} GiB RAM; kernel ${m.kernel}`);
  p(`- mtedge ${R.mtedge}, Node ${m.node}, direct mode (no middle proxy), dd + ee enabled, classic off`);
  p(`- Peer: [alexbers/mtprotoproxy](https://github.com/alexbers/mtprotoproxy) at \`${R.peerCommit.slice(0, 12)}\` (vendored unmodified in bench/peers/mtprotoproxy), Python ${P.python ?? '?'} (${P.executable ?? PY}), AES from \`cryptography\` ${P.cryptography ?? '?'} (${P.openssl ?? 'OpenSSL ?'}), event loop: ${P.uvloop ? `uvloop ${P.uvloop} (as its Docker image ships)` : 'stock asyncio'}; direct mode, secure + tls enabled, classic off`);
  p(`- Network: ${R.netns === 'private' ? 'a private network namespace (`unshare -n`) with only loopback up: neither proxy could reach the internet' : 'the host namespace on loopback (`unshare -n` unavailable); every peer option that reaches out is off'}`);
  p(`- ${ROUNDS} rounds over all targets (order reversed every other round), ${WINDOW_MS / 1000} s window per figure after ${WARMUP_MS} ms warm-up; medians; whole peers run ${f1(R.elapsedS)} s`);
  p();
  p('| figure (dd mode) | mtedge 1 worker | mtedge 2 workers | mtprotoproxy (FAST_MODE=False unless the row says) | 1 worker / mtprotoproxy | 2 workers / mtprotoproxy | better |');
  p('|---|---:|---:|---:|---:|---:|---|');
  row(`relay CPU-s per GB, ${BULK_CONNS} conns, peer FAST_MODE=False (same AES work)`, cpuGb, 'peer', 'lower');
  row(`relay CPU-s per GB, ${BULK_CONNS} conns, peer FAST_MODE=True (its default)`, cpuGb, 'peerFast', 'lower');
  row(`relay wall MB/s, ${BULK_CONNS} conns, peer FAST_MODE=False`, mbs, 'peer', 'higher', f0);
  row('handshakes per CPU-s (connect + handshake + first echo + close)', hsCpu, 'peer', 'higher', f0);
  row(`handshakes per s wall, ${HS_CONCURRENCY} loops`, hsWall, 'peer', 'higher', f0);
  row(`KiB per idle connection, ${IDLE_CONNS} idle sessions`, idleK, 'peer', 'lower');
  row('KiB per idle connection, no GC before the reading', idleNoGc, 'peer', 'lower');
  p();
  p('How: CPU = utime+stime of the measured process (every thread) from /proc/<pid>/stat over the');
  p('window; bytes relayed = both directions, counted at the echo DC. Handshakes: 16 loops of connect,');
  p('dd handshake, 32-byte echo, close, from 40 source addresses. Idle memory: VmRSS of a freshly');
  p(`started process (after ${IDLE_WARMUP} sessions opened and closed once) before and with ${IDLE_CONNS} idle dd sessions`);
  p('(handshake + one echo each, then silent), divided by the sessions. The mtedge figure is read after');
  p('two full GCs in every thread (bench/edge-hooks.cjs); CPython frees by reference counting and gets');
  p('no GC call, so its two rows are the same reading. With fewer sessions than section 3 holds, more of');
  p('mtedge\'s per-session heap fits in V8 heap slack the process already has, so its after-GC figure');
  p('here can read lower than there; the no-GC row bounds it from above.');
  p();
  p('The peer runs through bench/peers/mtprotoproxy-run.py, which imports the unmodified mtprotoproxy.py,');
  p('points its DC table at the echo DC and replaces its public-IP lookup, in that process only; its');
  p('generated config.py turns off the middle proxy (and with it time sync and proxy-list updates), the');
  p('mask host, metrics and IPv6, and listens on 127.0.0.1. scripts/bench-peers-setup.sh installs');
  p('python3-cryptography and python3-uvloop for /usr/bin/python3 when missing. Run alone with');
  p('`npm run build && node scripts/bench-peers.mjs`.');
  p();
  p('Limits of the comparison:');
  p();
  p('- mtprotoproxy is one Python process on one event loop (one core at most); mtedge runs a');
  p('  supervisor thread plus N worker threads. Per-CPU-second figures compare the cost of the work;');
  p('  wall figures also show how much of the 2 shared cores each could use beside the DC and the load');
  p('  generator.');
  p('- FAST_MODE=True (mtprotoproxy\'s default) has the DC encrypt with the client\'s key, so bytes from');
  p('  the DC go to the client without being decrypted and re-encrypted: half the AES work per relayed');
  p('  byte. mtedge accepts `fast_mode` in its config but does not implement it (every byte is');
  p('  re-encrypted), so the FAST_MODE=False row is the like-for-like one.');
  p('- The peer pre-opens 16 DC connections per DC and hands one to each new client; its DC connect');
  p('  work still lands in its own CPU account, but partly before the handshake is counted.');
  p('- Idle memory also counts each proxy\'s own per-connection socket buffers as far as RSS sees them');
  p('  (kernel socket memory is not in RSS for either).');
  const spreads = [...Object.values(R.bulk), ...Object.values(R.hs)].map((xs) => {
    const v = xs.map((x) => x.cpuPerGB ?? x.perCpu);
    return (Math.max(...v) - Math.min(...v)) / median(v);
  });
  p(`- Noise: the 2 cores are shared with whatever else runs on the box (1-minute load average ${f1(R.load0)} at the`);
  p(`  start, ${f1(R.load1)} at the end). Round-to-round spread of one figure reached ${f0(Math.max(...spreads) * 100)}% of its median`);
  p('  (per-round values below), so ratios within ~0.2 of 1 are not resolved by one run.');
  const errs = Object.entries(R.hs).map(([k, xs]) => [k, xs.reduce((a, x) => a + x.errors, 0)]).filter(([, n]) => n > 0);
  if (errs.length) p(`- Handshake errors in the windows: ${errs.map(([k, n]) => `${R.names[k]} ${n}`).join(', ')}.`);
  const gcLate = Object.entries(R.idle).filter(([, r]) => !r.gcOk);
  if (gcLate.length) p(`- The GC acknowledgement timed out for ${gcLate.map(([k]) => R.names[k]).join(', ')}: that idle figure may hold garbage.`);
  const idleErr = Object.entries(R.idle).filter(([, r]) => r.errors > 0);
  if (idleErr.length) p(`- Idle sessions that failed to open: ${idleErr.map(([k, r]) => `${R.names[k]} ${r.errors} (${r.lastError})`).join(', ')}.`);
  p();
  p('Per-round values (relay CPU-s/GB; handshakes/CPU-s):');
  p();
  for (const k of Object.keys(R.bulk)) {
    const hs = R.hs[k] ? `; ${R.hs[k].map((x) => f0(x.perCpu)).join(', ')}` : '';
    p(`- ${R.names[k]}: ${R.bulk[k].map((x) => f2(x.cpuPerGB)).join(', ')}${hs}`);
  }
  return L.join('\n') + '\n';
}

if (process.env.MTEDGE_PEERS_INNER === '1') {
  inner().catch((err) => {
    console.error(err);
    process.exit(1);
  });
} else {
  outer();
}
