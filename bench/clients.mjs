#!/usr/bin/env node
// Bench load generator, one job per process (argv[2] = JSON job). After the handshake it writes
// pre-built bytes and only counts what comes back: the relay decrypts and re-encrypts them like
// any client stream (it cannot tell), while this process spends almost nothing per byte, so the
// CPU on the box goes to the relay under test.
//
// Jobs:
//   {kind:'bulk', port, mode:'dd'|'ee', secretHex, domain, conns, warmupMs, durationMs}
//     prints {phase:'steady'} once every connection flows, then {phase:'done', rxBytes} after
//     durationMs; the caller samples the relay's CPU and the DC's counters at both lines.
//   {kind:'handshake', port, mode, secretHex, domain, concurrency, warmupMs, durationMs}
//     loops connect + handshake + one echo + close; prints {phase:'steady', count} and
//     {phase:'done', count, errors}.
//   {kind:'idle', port, mode, secretHex, domain, conns, sourceAddrs}
//     opens conns sessions (handshake + one echo each), prints {phase:'ready', open, errors},
//     holds them until stdin says "close", then prints {phase:'closed'}.
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { holdIdle, out, waitBytes } from './client-common.mjs';
import {
  TLS_CHANGE_CIPHER_SPEC,
  buildClientHello,
  encodeAppData,
  obf2Initiate,
  serverReplyLength,
} from '@mtedge/testkit';

const job = JSON.parse(process.argv[2]);
const secret = Buffer.from(job.secretHex, 'hex');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * The client's bytes for one handshake: the ClientHello (ee) and the flight with the obfuscated2
 * init and `first` (encrypted; wrapped in records for ee). Independent of the server's answer,
 * so a pool can be built before the measured window: the generator then spends next to nothing
 * per handshake and the relay under test, not the generator, is what runs out of CPU.
 */
function prepare(first) {
  const { init, streams } = obf2Initiate({ tag: 'padded', dcId: 2, secret });
  const payload = Buffer.concat([init, streams.encrypt.update(first)]);
  if (job.mode === 'dd') return { hello: null, flight: payload };
  const hello = buildClientHello({ secret, domain: job.domain }).record;
  return { hello, flight: Buffer.concat([TLS_CHANGE_CIPHER_SPEC, encodeAppData(payload)]) };
}

const pool = [];
function fillPool(first, n) {
  for (let i = 0; i < n; i++) pool.push(prepare(first));
}

/** Connects and completes the client handshake; `first` rides with the init. Resolves the socket. */
function handshake(first, localAddress) {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: '127.0.0.1', port: job.port, noDelay: true, ...(localAddress ? { localAddress } : {}) });
    const pre = pool.pop() ?? prepare(first);
    const fail = (err) => {
      sock.destroy();
      reject(err);
    };
    sock.once('error', fail);
    sock.once('connect', () => {
      if (pre.hello === null) {
        sock.write(pre.flight);
        sock.removeListener('error', fail);
        resolve(sock);
        return;
      }
      sock.write(pre.hello);
      let buf = Buffer.alloc(0);
      const onData = (d) => {
        buf = buf.length === 0 ? d : Buffer.concat([buf, d]);
        let len;
        try {
          len = serverReplyLength(buf);
        } catch (err) {
          sock.removeListener('data', onData);
          return fail(err);
        }
        if (len === null) return;
        sock.removeListener('data', onData);
        sock.pause();
        sock.write(pre.flight);
        sock.removeListener('error', fail);
        if (buf.length > len) sock.unshift(buf.subarray(len));
        resolve(sock);
      };
      sock.on('data', onData);
      sock.once('close', () => fail(new Error('closed during handshake')));
    });
  });
}

/** Bytes the echo of `n` payload bytes takes on the wire (ee adds a 5-byte record header per 16 KiB). */
const echoWire = (n) => (job.mode === 'ee' ? n + 5 * Math.max(1, Math.ceil(n / 16384)) : n);

/** Resolves once `n` wire bytes came back on `sock` (after the handshake). */

async function bulk() {
  // dd: any bytes; ee: whole application-data records of 16 KiB.
  const raw = randomBytes(64 * 1024);
  const wire = job.mode === 'ee' ? encodeAppData(raw) : raw;
  let rx = 0;
  let running = true;
  const socks = await Promise.all(Array.from({ length: job.conns }, () => handshake(Buffer.alloc(0))));
  for (const s of socks) {
    s.on('data', (d) => {
      rx += d.length;
    });
    s.on('error', () => undefined);
    const pump = () => {
      while (running && s.write(wire));
    };
    s.on('drain', pump);
    s.resume();
    pump();
  }
  await sleep(job.warmupMs);
  const rx0 = rx;
  out({ phase: 'steady' });
  await sleep(job.durationMs);
  out({ phase: 'done', rxBytes: rx - rx0 });
  running = false;
  for (const s of socks) s.destroy();
}

async function handshakes() {
  const first = randomBytes(32);
  const need = echoWire(first.length);
  let count = 0;
  let errors = 0;
  let running = true;
  let n = 0;
  const addrs = job.sourceAddrs ?? [undefined];
  const loop = async () => {
    while (running) {
      try {
        const s = await handshake(first, addrs[n++ % addrs.length]);
        s.on('error', () => undefined);
        await waitBytes(s, need);
        s.end();
        count++;
      } catch {
        errors++;
      }
    }
  };
  fillPool(first, job.pool ?? 0);
  const loops = Array.from({ length: job.concurrency }, loop);
  await sleep(job.warmupMs);
  out({ phase: 'steady', count });
  await sleep(job.durationMs);
  out({ phase: 'done', count, errors });
  running = false;
  await Promise.all(loops);
}

async function idle() {
  const first = randomBytes(32);
  const need = echoWire(first.length);
  const addrs = job.sourceAddrs ?? [undefined];
  fillPool(first, job.conns);
  await holdIdle(job.conns, job.concurrency ?? 64, async (i) => {
    const s = await handshake(first, addrs[i % addrs.length]);
    s.on('error', () => undefined);
    await waitBytes(s, need);
    s.pause();
    return s;
  });
}

const run = { bulk, handshake: handshakes, idle }[job.kind];
if (!run) throw new Error(`unknown job ${job.kind}`);
await run();
process.exit(0);
