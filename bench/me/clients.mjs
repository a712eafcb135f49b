#!/usr/bin/env node
// ME bench load generator (argv[2] = JSON job), dd secret (padded intermediate) only. Unlike
// bench/clients.mjs it sends real frames, encrypted per connection: in ME mode the edge must
// parse every frame to wrap it in RPC_PROXY_REQ, so raw bytes would not be relayed at all. The
// same frames go to the direct edge so both modes carry identical client traffic. Replies are
// only counted, never decrypted, so this process stays cheap.
//
// Jobs (same protocol as bench/clients.mjs):
//   {kind:'bulk', port, secretHex, conns, warmupMs, durationMs, minPayload, maxPayload, blockBytes?, rateBytesPerSec?}
//     blockBytes (default 256 KiB): what one connection writes at a time (whole frames).
//     rateBytesPerSec (optional): pace the sending to that many bytes/s in total (all connections);
//     without it every connection sends as fast as the echo allows.
//   {kind:'handshake', port, secretHex, concurrency, warmupMs, durationMs, sourceAddrs}
//   {kind:'idle', port, secretHex, conns, concurrency, sourceAddrs}
import net from 'node:net';
import { randomBytes, randomInt } from 'node:crypto';
import { holdIdle, out, waitBytes } from '../client-common.mjs';
import { frameEncode, obf2Initiate } from '@mtedge/testkit';

const job = JSON.parse(process.argv[2]);
const secret = Buffer.from(job.secretHex, 'hex');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** An MTProto-looking payload: non-zero auth_key_id, so nothing treats it as a handshake message. */
function payload(n) {
  const b = randomBytes(n);
  b.writeBigUInt64LE(0x1122334455667788n, 0);
  return b;
}

/** Frames of random sizes in [min, max] (multiples of 4), concatenated to about `total` bytes. */
function frameBlock(min, max, total) {
  const parts = [];
  let len = 0;
  while (len < total) {
    const f = frameEncode('padded', payload(4 * randomInt(min / 4, max / 4 + 1)));
    parts.push(f);
    len += f.length;
  }
  return Buffer.concat(parts);
}

/** Connects, writes the obfuscated2 init (+ `first`, encrypted); resolves {sock, encrypt}. */
function connect(first, localAddress) {
  return new Promise((resolve, reject) => {
    const { init, streams } = obf2Initiate({ tag: 'padded', dcId: 2, secret });
    const sock = net.connect({ host: '127.0.0.1', port: job.port, noDelay: true, ...(localAddress ? { localAddress } : {}) });
    sock.once('error', reject);
    sock.once('connect', () => {
      sock.removeListener('error', reject);
      sock.on('error', () => undefined);
      sock.write(first ? Buffer.concat([init, streams.encrypt.update(first)]) : init);
      resolve({ sock, encrypt: streams.encrypt });
    });
  });
}

/** Resolves once `n` bytes came back (any framing: the answer is not decrypted). */

// A 32-byte frame, no padding: its echo is at least 4 + 32 bytes in either mode.
const FIRST = frameEncode('padded', payload(32), 0);
const FIRST_ECHO = 36;

// Pacing: one token bucket for all connections, refilled on a short tick from the real elapsed
// time (timers run late on a busy box). A connection sends a whole block while the bucket is
// positive (it may go one block into debt, so the long-run rate is exact) and only when its socket
// has drained. Unspent credit is capped, so a stalled edge is not paid back with a burst later:
// the window then simply delivers less than offered, which the bench checks.
const PACE_TICK_MS = 5;
const PACE_BURST_MS = 20;

async function bulk() {
  let rx = 0;
  let tx = 0;
  let running = true;
  const block = frameBlock(job.minPayload, job.maxPayload, job.blockBytes ?? 256 * 1024);
  const conns = await Promise.all(Array.from({ length: job.conns }, () => connect(null)));
  const rate = Number(job.rateBytesPerSec ?? 0);
  const paced = rate > 0;
  const cap = Math.max(block.length, (rate * PACE_BURST_MS) / 1000);
  let tokens = 0;
  // Encrypting per write is this process's cost; the edge's work per byte does not change.
  const send = (c) => {
    tx += block.length;
    tokens -= block.length;
    c.ready = c.sock.write(c.encrypt.update(block));
  };
  // Connections the edge closed while the window ran (a slow reader cut, say): a window that lost
  // some did not carry the offered load on all of them.
  let lost = 0;
  for (const c of conns) {
    c.ready = true;
    c.sock.on('data', (d) => {
      rx += d.length;
    });
    c.sock.on('close', () => {
      if (running) lost++;
    });
    const pump = () => {
      c.ready = true;
      if (paced) {
        if (running && tokens > 0) send(c);
        return;
      }
      while (running && c.ready) send(c);
    };
    c.sock.on('drain', pump);
    if (!paced) pump();
  }
  let timer;
  if (paced) {
    let last = performance.now();
    let next = 0; // round robin start, so no connection is favoured
    timer = setInterval(() => {
      const now = performance.now();
      tokens = Math.min(cap, tokens + (rate * (now - last)) / 1000);
      last = now;
      for (let k = 0; k < conns.length && running && tokens > 0; k++) {
        const c = conns[(next + k) % conns.length];
        if (c.ready) send(c);
      }
      next = (next + 1) % conns.length;
    }, PACE_TICK_MS);
  }
  await sleep(job.warmupMs);
  const rx0 = rx;
  const tx0 = tx;
  out({ phase: 'steady' });
  await sleep(job.durationMs);
  out({ phase: 'done', rxBytes: rx - rx0, txBytes: tx - tx0, lost });
  running = false;
  clearInterval(timer);
  for (const { sock } of conns) sock.destroy();
}

async function handshakes() {
  let count = 0;
  let errors = 0;
  let lastError = '';
  let running = true;
  let n = 0;
  const addrs = job.sourceAddrs ?? [undefined];
  const loop = async () => {
    while (running) {
      try {
        const { sock } = await connect(FIRST, addrs[n++ % addrs.length]);
        await waitBytes(sock, FIRST_ECHO);
        sock.end();
        count++;
      } catch (err) {
        errors++;
        lastError = err.message;
      }
    }
  };
  const loops = Array.from({ length: job.concurrency }, loop);
  await sleep(job.warmupMs);
  out({ phase: 'steady', count });
  await sleep(job.durationMs);
  out({ phase: 'done', count, errors, lastError });
  running = false;
  await Promise.all(loops);
}

async function idle() {
  const addrs = job.sourceAddrs ?? [undefined];
  await holdIdle(job.conns, job.concurrency ?? 64, async (i) => {
    const { sock } = await connect(FIRST, addrs[i % addrs.length]);
    await waitBytes(sock, FIRST_ECHO);
    sock.pause();
    return sock;
  });
}

const run = { bulk, handshake: handshakes, idle }[job.kind];
if (!run) throw new Error(`unknown job ${job.kind}`);
await run();
process.exit(0);
