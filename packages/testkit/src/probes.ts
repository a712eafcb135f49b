// Active-probing helpers: what a censor's scanner sends to a suspected proxy. The proxy must look
// like its mask host to all of them.
import { connect } from 'node:net';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { buildClientHello } from './wire/fake-tls.js';

export interface RawProbeOptions {
  host: string;
  port: number;
  bytes: Uint8Array;
  /** How long to collect the answer after writing (ends early when the peer closes). */
  readMs: number;
  /** Half-close our side after writing (default false: scanners usually keep it open). */
  endAfterWrite?: boolean;
  /** Stop collecting past this many bytes (default 1 MiB). */
  maxBytes?: number;
  /** Finish as soon as this many bytes came back (the peer is then not reported closed). */
  untilBytes?: number;
}

export interface RawProbeResult {
  received: Buffer;
  /** The peer closed (FIN or reset) within readMs. */
  closed: boolean;
  /** The connection was reset or failed rather than closed cleanly. */
  errored: boolean;
}

/** Connects, writes `bytes`, and collects what comes back for at most `readMs`. */
export function sendRawProbe(o: RawProbeOptions): Promise<RawProbeResult> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let total = 0;
    let errored = false;
    let done = false;
    const cap = o.maxBytes ?? 1024 * 1024;
    const socket = connect({ host: o.host, port: o.port });
    const finish = (closed: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ received: Buffer.concat(chunks), closed, errored });
    };
    const timer = setTimeout(() => finish(false), o.readMs);
    socket.on('connect', () => {
      if (o.endAfterWrite === true) socket.end(o.bytes);
      else socket.write(o.bytes);
    });
    socket.on('data', (c: Buffer) => {
      if (total < cap) chunks.push(c.subarray(0, cap - total));
      total += c.length;
      if (o.untilBytes !== undefined && total >= o.untilBytes) finish(false);
    });
    socket.on('error', () => {
      errored = true;
    });
    // 'end' = the peer's FIN: count it as closed even if our half is still open.
    socket.on('end', () => finish(true));
    socket.on('close', () => finish(true));
  });
}

/** Re-sends captured handshake bytes `times` times on fresh connections (replay-attack tests). */
export async function replayBytes(o: RawProbeOptions & { times?: number }): Promise<RawProbeResult[]> {
  const out: RawProbeResult[] = [];
  for (let i = 0; i < (o.times ?? 1); i++) out.push(await sendRawProbe(o));
  return out;
}

export function httpGetProbe(host = 'example.com', path = '/'): Buffer {
  return Buffer.from(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\nUser-Agent: Mozilla/5.0\r\nAccept: */*\r\n\r\n`, 'latin1');
}

export function garbageProbe(length = 256): Buffer {
  return randomBytes(length);
}

/** A browser-like ClientHello signed with a random (wrong) secret: must reach the mask host intact. */
export function wrongSecretTlsProbe(domain: string): Buffer {
  return buildClientHello({ secret: randomBytes(16), domain }).record;
}

export interface SlowLorisOptions {
  host: string;
  port: number;
  bytesPerSec: number;
  /** Hard bound on the whole run. */
  maxMs: number;
  /** What to dribble (default: an endless-looking HTTP request line). */
  bytes?: Buffer;
}

export interface SlowLorisResult {
  bytesWritten: number;
  /** The server closed on us before maxMs (what a handshake timeout should do). */
  closedByPeer: boolean;
  /** ms from connect until the peer closed, or until maxMs. */
  durationMs: number;
  received: Buffer;
}

/** Writes one byte at a time at `bytesPerSec`, until the peer closes or `maxMs` passes. */
export function slowLoris(o: SlowLorisOptions): Promise<SlowLorisResult> {
  const src = o.bytes ?? Buffer.from('GET / HTTP/1.1\r\nHost: example.com\r\nX-a: ' + 'b'.repeat(4096), 'latin1');
  const interval = Math.max(1, Math.floor(1000 / Math.max(1, o.bytesPerSec)));
  return new Promise((resolve) => {
    const t0 = performance.now();
    const chunks: Buffer[] = [];
    let written = 0;
    let done = false;
    const socket = connect({ host: o.host, port: o.port });
    const finish = (closedByPeer: boolean): void => {
      if (done) return;
      done = true;
      clearInterval(tick);
      clearTimeout(deadline);
      socket.destroy();
      resolve({ bytesWritten: written, closedByPeer, durationMs: performance.now() - t0, received: Buffer.concat(chunks) });
    };
    const tick = setInterval(() => {
      if (!socket.writable || socket.connecting) return;
      const b = src.subarray(written % src.length, (written % src.length) + 1);
      written++;
      socket.write(b);
    }, interval);
    const deadline = setTimeout(() => finish(false), o.maxMs);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', () => { /* a reset counts as the peer closing */ });
    socket.on('end', () => finish(true));
    socket.on('close', () => finish(true));
  });
}
