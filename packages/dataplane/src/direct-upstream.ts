/**
 * Direct mode: one TCP connection per client to the DC, opened with our own obfuscated2 init
 * (no secret), relaying the client's frames re-encrypted.
 */
import net from 'node:net';
import { initiateObfuscated2 } from '@mtedge/protocol';
import { C, type WorkerStats } from '@mtedge/stats';
import { createCtrStream } from './ctr.js';
import type { DcEndpoint, WorkerSettings } from './settings.js';
import { UpstreamError, type Upstream, type UpstreamLeg, type UpstreamLegEvents, type UpstreamRequest } from './upstream.js';

/** Negative ids are media DCs of the same cluster; unknown ones go to the default DC. */
export function resolveDc(settings: WorkerSettings, dcId: number): { dc: number; endpoints: readonly DcEndpoint[] } | undefined {
  const exact = settings.dcs[String(dcId)];
  if (exact && exact.length > 0) return { dc: dcId, endpoints: exact };
  const abs = Math.abs(dcId) % 10000;
  const base = settings.dcs[String(abs)];
  if (base && base.length > 0) return { dc: abs, endpoints: base };
  const fallback = settings.dcs[String(settings.defaultDc)];
  return fallback && fallback.length > 0 ? { dc: settings.defaultDc, endpoints: fallback } : undefined;
}

function durationBucket(ms: number, ok: boolean): number {
  const u = C.upstream;
  if (ok) {
    return ms <= 100 ? u.connect_duration_success_bucket_le_100ms
      : ms <= 500 ? u.connect_duration_success_bucket_101_500ms
      : ms <= 1000 ? u.connect_duration_success_bucket_501_1000ms
      : u.connect_duration_success_bucket_gt_1000ms;
  }
  return ms <= 100 ? u.connect_duration_fail_bucket_le_100ms
    : ms <= 500 ? u.connect_duration_fail_bucket_101_500ms
    : ms <= 1000 ? u.connect_duration_fail_bucket_501_1000ms
    : u.connect_duration_fail_bucket_gt_1000ms;
}

export class DirectUpstream implements Upstream {
  private next = 0;

  constructor(
    private readonly settings: () => WorkerSettings,
    private readonly stats: WorkerStats,
  ) {}

  async connect(req: UpstreamRequest, events: UpstreamLegEvents): Promise<UpstreamLeg> {
    const settings = this.settings();
    const target = resolveDc(settings, req.dcId);
    if (!target) throw new UpstreamError('MTE_ERR_DC_UNKNOWN', `no address for DC ${req.dcId}`, req.dcId, undefined);
    const ep = target.endpoints[this.next++ % target.endpoints.length]!;
    const endpoint = ep.host.includes(':') ? `[${ep.host}]:${ep.port}` : `${ep.host}:${ep.port}`;
    const s = this.stats;
    s.inc(C.upstream.connect_attempt_total);
    const started = performance.now();
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const sock = net.connect({ host: ep.host, port: ep.port, allowHalfOpen: true, noDelay: true });
      const timer = setTimeout(() => {
        sock.destroy();
        reject(new UpstreamError('MTE_ERR_DC_TIMEOUT', `DC ${target.dc} ${endpoint}: connect timed out after ${settings.dcConnectTimeoutMs} ms`, target.dc, endpoint));
      }, settings.dcConnectTimeoutMs);
      sock.once('connect', () => {
        clearTimeout(timer);
        sock.removeAllListeners('error');
        resolve(sock);
      });
      sock.once('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(new UpstreamError('MTE_ERR_DC_CONNECT', `DC ${target.dc} ${endpoint}: ${err.code ?? err.message}`, target.dc, endpoint, { cause: err }));
      });
    }).catch((err: unknown) => {
      s.inc(C.upstream.connect_fail_total);
      s.inc(durationBucket(performance.now() - started, false));
      throw err;
    });
    s.inc(C.upstream.connect_success_total);
    s.inc(C.upstream.connect_attempts_bucket_1);
    s.inc(durationBucket(performance.now() - started, true));

    const { init, session } = initiateObfuscated2({ tag: req.tag, dcId: req.dcId });
    socket.write(init);
    const m = session.material;
    const dcOut = createCtrStream(m.encryptKey, m.encryptIv, m.encryptSkip);
    const dcIn = createCtrStream(m.decryptKey, m.decryptIv, m.decryptSkip);
    let closed = false;
    socket.on('data', (chunk: Buffer) => events.data(dcIn.apply(chunk)));
    socket.on('drain', () => events.drain());
    socket.on('end', () => events.end());
    socket.on('error', () => {
      // 'close' follows with hadError; the error itself is reported there.
    });
    socket.on('close', (hadError) => {
      if (closed) return;
      closed = true;
      events.close(hadError ? new UpstreamError('MTE_ERR_DC_CONNECT', `DC ${target.dc} ${endpoint}: connection reset`, target.dc, endpoint) : undefined);
    });
    return {
      route: 'direct',
      write: (plain) => socket.write(dcOut.apply(plain)),
      pause: () => socket.pause(),
      resume: () => socket.resume(),
      end: () => socket.end(),
      destroy: () => socket.destroy(),
    };
  }
}
