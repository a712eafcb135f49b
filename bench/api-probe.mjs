#!/usr/bin/env node
// HTTP latency probe, one keep-alive connection, one request at a time, raw sockets (no client
// library in the measured path). argv[2] = JSON {port, path, requests?, durationMs?, ratePerSec?}.
// Runs until `requests` are done or `durationMs` passed; with ratePerSec it paces requests (a
// scraper), otherwise it sends the next one as soon as the previous answer is in.
// Prints {count, errors, non200, p50Ms, p99Ms, maxMs, meanMs}.
import net from 'node:net';
import { performance } from 'node:perf_hooks';

const job = JSON.parse(process.argv[2]);
const req = Buffer.from(`GET ${job.path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n`, 'latin1');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function connect() {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port: job.port, noDelay: true }, () => resolve(s));
    s.once('error', reject);
  });
}

let sock = await connect();
let buf = Buffer.alloc(0);
let waiter = null;
const attach = (s) => {
  s.on('data', (d) => {
    buf = buf.length === 0 ? d : Buffer.concat([buf, d]);
    waiter?.();
  });
  s.on('close', () => waiter?.());
};
attach(sock);

/** One request; resolves the status code once the whole body is in. */
async function once() {
  sock.write(req);
  for (;;) {
    const end = buf.indexOf('\r\n\r\n');
    if (end >= 0) {
      const head = buf.toString('latin1', 0, end);
      const m = /content-length:\s*(\d+)/i.exec(head);
      const len = m ? Number(m[1]) : 0;
      if (buf.length >= end + 4 + len) {
        buf = buf.subarray(end + 4 + len);
        return Number(head.slice(9, 12));
      }
    }
    if (sock.destroyed) throw new Error('connection closed');
    await new Promise((r) => (waiter = r));
    waiter = null;
  }
}

const lat = [];
let errors = 0;
let non200 = 0;
const t0 = performance.now();
const maxReq = job.requests ?? Number.POSITIVE_INFINITY;
const until = job.durationMs !== undefined ? t0 + job.durationMs : Number.POSITIVE_INFINITY;
const gap = job.ratePerSec ? 1000 / job.ratePerSec : 0;
for (let i = 0; i < maxReq && performance.now() < until; i++) {
  const start = performance.now();
  try {
    const status = await once();
    lat.push(performance.now() - start);
    if (status !== 200) non200++;
  } catch {
    errors++;
    sock.destroy();
    buf = Buffer.alloc(0);
    sock = await connect();
    attach(sock);
  }
  if (gap > 0) {
    const next = t0 + (i + 1) * gap;
    const wait = next - performance.now();
    if (wait > 0) await sleep(wait);
  }
}
sock.destroy();
lat.sort((a, b) => a - b);
const at = (q) => (lat.length ? lat[Math.min(lat.length - 1, Math.floor(q * lat.length))] : 0);
process.stdout.write(
  JSON.stringify({ count: lat.length, errors, non200, p50Ms: at(0.5), p99Ms: at(0.99), maxMs: at(1), meanMs: lat.reduce((a, b) => a + b, 0) / Math.max(1, lat.length) }) + '\n',
);
process.exit(0);
