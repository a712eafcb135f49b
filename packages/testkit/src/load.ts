// Load generator: many simulated clients push random bytes through the proxy to an echo fake DC
// and check that every byte comes back identical and in order. Bounded in bytes and time.
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { connectClient, type ClientMode, type SimClient } from './client.js';
import { TestkitError, TestkitMismatchError, TestkitOptionsError } from './errors.js';
import { Waiters, delay } from './internal/waiters.js';
import { frameEncode } from './wire/framing.js';
import type { ProtoTag } from './wire/obf2.js';

export interface LoadOptions {
  host: string;
  port: number;
  clients: number;
  /** One mode for all, or a list used round-robin by client index. */
  mode: ClientMode | readonly ClientMode[];
  /** One secret per user; client i uses secrets[i % secrets.length]. Omit to dial a fake DC directly. */
  secrets?: readonly Buffer[];
  /** SNI for tls clients. */
  domain?: string;
  tag?: ProtoTag;
  dcId?: number;
  /** Stop sending after this many payload bytes per client... */
  bytesPerClient?: number;
  /** ...or after this long (both may be given; the first reached wins). */
  durationMs?: number;
  /** Payload bytes per write (default 16 KiB; rounded down to a multiple of 4). */
  chunkSize?: number;
  /** Start clients evenly over this many ms (default 0: all at once). */
  concurrencyRampMs?: number;
  /** Send well-formed frames for the client's tag (default true) rather than raw bytes. */
  framed?: boolean;
  /** Max unechoed bytes per client (default 256 KiB): bounds memory and models a real window. */
  windowBytes?: number;
  handshakeTimeoutMs?: number;
  /** Time a client waits for its last echoes after it stopped sending (default 10 s). */
  drainTimeoutMs?: number;
}

export interface LoadClientResult {
  index: number;
  mode: ClientMode;
  ok: boolean;
  /** Stream bytes written after the init (frame headers included when framed). */
  bytesSent: number;
  /** Stream bytes echoed back and verified. */
  bytesReceived: number;
  handshakeMs: number;
  /** From connect start to the first verified echo byte; -1 if none came. */
  firstByteMs: number;
  error?: { code: string; message: string };
}

export interface LatencySummary {
  count: number;
  min: number;
  p50: number;
  p95: number;
  max: number;
  mean: number;
}

export interface LoadResult {
  ok: boolean;
  clients: LoadClientResult[];
  totalSent: number;
  totalReceived: number;
  errors: number;
  durationMs: number;
  handshakeMs: LatencySummary;
  firstByteMs: LatencySummary;
  /** Verified echo bytes per second over the whole run. */
  throughputBytesPerSec: number;
}

export function summarize(values: readonly number[]): LatencySummary {
  if (values.length === 0) return { count: 0, min: 0, p50: 0, p95: 0, max: 0, mean: 0 };
  const s = [...values].sort((a, b) => a - b);
  const at = (q: number): number => s[Math.min(s.length - 1, Math.floor(q * s.length))] as number;
  return { count: s.length, min: s[0] as number, p50: at(0.5), p95: at(0.95), max: s[s.length - 1] as number, mean: s.reduce((a, b) => a + b, 0) / s.length };
}

/** Sent-but-unverified bytes; the incoming echo is compared against its head. */
class PendingBytes {
  private readonly chunks: Buffer[] = [];
  private headOff = 0;
  size = 0;
  verified = 0;

  push(b: Buffer): void {
    this.chunks.push(b);
    this.size += b.length;
  }

  /** Throws TestkitMismatchError at the first differing byte or on bytes never sent. */
  check(incoming: Buffer): void {
    let i = 0;
    while (i < incoming.length) {
      const head = this.chunks[0];
      if (head === undefined) throw new TestkitMismatchError(`echo carried ${incoming.length - i} bytes never sent`, this.verified);
      const n = Math.min(head.length - this.headOff, incoming.length - i);
      if (head.compare(incoming, i, i + n, this.headOff, this.headOff + n) !== 0) {
        let k = 0;
        while (head[this.headOff + k] === incoming[i + k]) k++;
        this.verified += k;
        throw new TestkitMismatchError(`echoed byte differs at stream offset ${this.verified}`, this.verified);
      }
      i += n;
      this.headOff += n;
      this.verified += n;
      this.size -= n;
      if (this.headOff === head.length) {
        this.chunks.shift();
        this.headOff = 0;
      }
    }
  }
}

const TAG_OF: Readonly<Record<ClientMode, ProtoTag>> = { classic: 'intermediate', secure: 'padded', tls: 'padded' };

async function runOne(o: LoadOptions, index: number, deadline: number): Promise<LoadClientResult> {
  const modes = typeof o.mode === 'string' ? [o.mode] : o.mode;
  const mode = modes[index % modes.length] as ClientMode;
  const secret = o.secrets === undefined ? undefined : o.secrets[index % o.secrets.length];
  const tag = o.tag ?? TAG_OF[mode];
  const chunk = Math.max(4, (o.chunkSize ?? 16384) & ~3);
  const window = o.windowBytes ?? 256 * 1024;
  const framed = o.framed ?? true;
  const pending = new PendingBytes();
  const waiters = new Waiters();
  const res: LoadClientResult = { index, mode, ok: false, bytesSent: 0, bytesReceived: 0, handshakeMs: -1, firstByteMs: -1 };
  let failure: Error | undefined;
  let client: SimClient | undefined;
  const t0 = performance.now();
  try {
    client = await connectClient({
      host: o.host,
      port: o.port,
      mode,
      ...(secret !== undefined ? { secret } : {}),
      tag,
      dcId: o.dcId ?? 2,
      retainReceived: false,
      ...(o.domain !== undefined ? { domain: o.domain } : {}),
      ...(o.handshakeTimeoutMs !== undefined ? { handshakeTimeoutMs: o.handshakeTimeoutMs } : {}),
      onData: (plain) => {
        if (failure !== undefined) return;
        try {
          pending.check(plain);
          if (res.firstByteMs < 0) res.firstByteMs = performance.now() - t0;
        } catch (err) {
          failure = err as Error;
          client?.destroy();
        }
        waiters.notify();
      },
    });
    res.handshakeMs = client.handshakeMs;
    const c = client;
    void c.closed.then(() => waiters.notify());
    const budget = o.bytesPerClient ?? Number.POSITIVE_INFINITY;
    const stopAt = o.durationMs !== undefined ? Math.min(deadline, performance.now() + o.durationMs) : deadline;
    let payloadSent = 0;
    while (payloadSent < budget && performance.now() < stopAt && failure === undefined && !c.isClosed) {
      if (pending.size >= window) {
        await waiters.waitFor(() => pending.size < window || failure !== undefined || c.isClosed, Math.max(1, deadline - performance.now()), 'echo window to drain');
        continue;
      }
      const n = Math.min(chunk, budget - payloadSent) & (tag === 'abridged' ? ~3 : ~0);
      if (n <= 0) break;
      const payload = randomBytes(n);
      const bytes = framed ? frameEncode(tag, payload, 0) : payload;
      pending.push(bytes);
      c.send(bytes);
      payloadSent += n;
      res.bytesSent += bytes.length;
      // Yield to the event loop now and then so echoes get read while we write.
      if (pending.size >= window / 2) await delay(0);
    }
    const drainBy = Math.min(deadline, performance.now() + (o.drainTimeoutMs ?? 10_000));
    await waiters.waitFor(() => pending.size === 0 || failure !== undefined || c.isClosed, Math.max(1, drainBy - performance.now()), `echo of the last ${pending.size} bytes`);
    if (failure !== undefined) throw failure;
    if (pending.size !== 0) throw new TestkitError('MTE_ERR_TESTKIT_CLOSED', `connection closed with ${pending.size} bytes not echoed`);
    res.ok = true;
  } catch (err) {
    const e = failure ?? (err as Error);
    res.error = { code: e instanceof TestkitError ? e.code : (e as NodeJS.ErrnoException).code ?? 'ERR', message: e.message };
  } finally {
    res.bytesReceived = pending.verified;
    if (client !== undefined) {
      client.end();
      const closed = client.closed;
      const t = setTimeout(() => client?.destroy(), 1000);
      await closed;
      clearTimeout(t);
    }
  }
  return res;
}

/** Runs `clients` echo sessions against the proxy (or a fake DC directly) and checks every byte. */
export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  if (o.bytesPerClient === undefined && o.durationMs === undefined) {
    throw new TestkitOptionsError('runLoad needs bytesPerClient or durationMs');
  }
  if (o.secrets !== undefined && o.secrets.length === 0) throw new TestkitOptionsError('secrets, when given, must not be empty');
  if (!Number.isInteger(o.clients) || o.clients < 1) throw new TestkitOptionsError('clients must be a positive integer');
  const t0 = performance.now();
  // Hard bound: nothing in a run may outlive this, whatever the proxy does.
  const ramp = o.concurrencyRampMs ?? 0;
  const deadline = t0 + ramp + (o.durationMs ?? 60_000) + (o.drainTimeoutMs ?? 10_000) + 5_000;
  const runs: Promise<LoadClientResult>[] = [];
  for (let i = 0; i < o.clients; i++) {
    const startIn = ramp > 0 ? (ramp * i) / o.clients : 0;
    runs.push(delay(startIn).then(() => runOne(o, i, deadline)));
  }
  const clients = await Promise.all(runs);
  const durationMs = performance.now() - t0;
  const totalReceived = clients.reduce((a, c) => a + c.bytesReceived, 0);
  const errors = clients.filter((c) => !c.ok).length;
  return {
    ok: errors === 0,
    clients,
    totalSent: clients.reduce((a, c) => a + c.bytesSent, 0),
    totalReceived,
    errors,
    durationMs,
    handshakeMs: summarize(clients.filter((c) => c.handshakeMs >= 0).map((c) => c.handshakeMs)),
    firstByteMs: summarize(clients.filter((c) => c.firstByteMs >= 0).map((c) => c.firstByteMs)),
    throughputBytesPerSec: durationMs > 0 ? (totalReceived * 1000) / durationMs : 0,
  };
}

