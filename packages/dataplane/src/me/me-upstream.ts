/**
 * The Middle-End route behind the Upstream seam. A leg unframes the client's plaintext stream
 * (its own transport: abridged / intermediate / padded), sends one RPC_PROXY_REQ per frame over a
 * shared writer, and frames every RPC_PROXY_ANS back in the client's transport. Quick-acks become
 * the raw 4-byte form the client expects; RPC_CLOSE_EXT ends the client.
 */
import {
  DEFAULT_MAX_FRAME,
  createFrameDecoder,
  encodeFrame,
  ipv4Mapped,
  parseIpv4,
  parseIpv6,
  proxyReqFlags,
  proxyReqHeaderLength,
  quickAckBytes,
  writeProxyReqHeader,
  type FrameDecoder,
  type MeMessage,
  type ProtoTag,
} from '@mtedge/protocol';
import { UpstreamError, type Upstream, type UpstreamLeg, type UpstreamLegEvents, type UpstreamRequest } from '../upstream.js';
import type { MeBinding, MePool } from './pool.js';
import type { MeWriter } from './writer.js';

/** No writer could take the client (none ready within the wait, or the DC is not in the ME table). */
export class MeUnavailableError extends UpstreamError {
  constructor(dc: number, why: string) {
    super('MTE_ERR_DC_CONNECT', `ME for DC ${dc}: ${why}`, dc, undefined);
    this.name = 'MeUnavailableError';
  }
}

function ip16(ip: string): Buffer {
  const v4 = parseIpv4(ip.startsWith('::ffff:') ? ip.slice(7) : ip);
  if (v4) return ipv4Mapped(v4);
  return parseIpv6(ip) ?? Buffer.alloc(16);
}

class MeLeg implements UpstreamLeg, MeBinding {
  readonly route = 'me' as const;
  private readonly decoder: FrameDecoder;
  private pending: Buffer = Buffer.alloc(0);
  private readonly clientIp: Buffer;
  private readonly adTag: Buffer | undefined;
  private closed = false;

  constructor(
    private readonly pool: MePool,
    public writer: MeWriter,
    readonly connId: bigint,
    private readonly req: UpstreamRequest,
    private readonly events: UpstreamLegEvents,
  ) {
    this.decoder = createFrameDecoder(req.tag, DEFAULT_MAX_FRAME);
    this.clientIp = ip16(req.clientIp);
    const tag = req.user.adTag;
    this.adTag = tag !== undefined && /^[0-9a-fA-F]{32}$/.test(tag) ? Buffer.from(tag, 'hex') : undefined;
  }

  private get tag(): ProtoTag {
    return this.req.tag;
  }

  write(plain: Buffer): boolean {
    if (this.closed) return false;
    this.pending = this.pending.length === 0 ? plain : Buffer.concat([this.pending, plain]);
    const bodies: Buffer[][] = [];
    let bytes = 0;
    try {
      for (let f = this.decoder.decode(this.pending); f !== null; f = this.decoder.decode(this.pending)) {
        this.pending = this.pending.subarray(f.consumed);
        const p = f.payload;
        // auth_key_id 0 marks an unencrypted (auth-key creation) message; the ME routes it apart.
        const notEncrypted = p.length >= 8 && p.readBigUInt64LE(0) === 0n;
        // PAD for padded clients as telemt sends it (the official proxy leaves it out; MEs take both).
        const flags = proxyReqFlags(this.tag, { hasAdTag: this.adTag !== undefined, quickAck: f.quickAck, notEncrypted, padFlag: true });
        const hdr = Buffer.allocUnsafe(proxyReqHeaderLength(this.adTag !== undefined));
        writeProxyReqHeader(hdr, 0, {
          flags,
          connId: this.connId,
          clientIp: this.clientIp,
          clientPort: this.req.clientPort,
          proxyIp: this.writer.ourIp16,
          proxyPort: this.pool.current.publicPort,
          adTag: this.adTag,
        });
        const body = p.subarray(0, p.length & ~3);
        bytes += body.length;
        bodies.push([hdr, body]);
      }
    } catch (err) {
      this.fail(err instanceof Error ? err : new Error(String(err)));
      return false;
    }
    // Keep only what a partial frame needs, not the whole chunk it came in.
    if (this.pending.length > 0 && this.pending.byteOffset > 0) this.pending = Buffer.from(this.pending);
    if (bodies.length === 0) return true;
    const sent = this.writer.state === 'ready';
    const ok = this.writer.sendBodies(bodies, true);
    if (sent) this.pool.noteRequests(bodies.length, bytes, this.adTag !== undefined);
    if (!ok) {
      if (this.writer.state !== 'ready') return false;
      this.pool.waitDrain(this);
    }
    return ok;
  }

  onMessage(m: MeMessage): void {
    if (this.closed) return;
    switch (m.type) {
      case 'proxy_ans':
        if (m.payload.length > 0) this.events.data(encodeFrame(this.tag, m.payload));
        return;
      case 'simple_ack':
        this.events.data(quickAckBytes(this.tag, m.confirm));
        return;
      case 'close_ext':
        this.closed = true;
        this.events.close(undefined);
        return;
      default:
        return;
    }
  }

  onWriterLost(err: Error): void {
    if (this.closed) return;
    this.closed = true;
    this.events.close(new UpstreamError('MTE_ERR_DC_CONNECT', err.message, this.req.dcId, undefined, { cause: err }));
  }

  onDrain(): void {
    if (!this.closed) this.events.drain();
  }

  private fail(err: Error): void {
    if (this.closed) return;
    this.closed = true;
    this.pool.unbind(this, true);
    this.events.close(new UpstreamError('MTE_ERR_DC_CONNECT', err.message, this.req.dcId, undefined, { cause: err }));
  }

  // One ME link carries many clients: a slow client cannot pause it, so these are no-ops and the
  // client socket buffers (bounded by the session's idle/quota rules).
  pause(): void {}
  resume(): void {}

  end(): void {
    // RPC has no half-close: a client that finished sending is done.
    this.destroy();
    this.events.close(undefined);
  }

  destroy(): void {
    if (this.closed) return;
    this.closed = true;
    this.pool.unbind(this, true);
  }
}

export class MeUpstream implements Upstream {
  constructor(private readonly pool: MePool) {}

  async connect(req: UpstreamRequest, events: UpstreamLegEvents): Promise<UpstreamLeg> {
    const target = this.pool.resolveDc(req.dcId);
    if (!target) {
      const loaded = Object.keys(this.pool.current.endpoints).length > 0;
      throw new MeUnavailableError(req.dcId, loaded ? 'not in proxy-multi.conf' : 'ME inputs (proxy-secret, proxy-multi.conf) not loaded');
    }
    const writer = await this.pool.acquire(req.dcId);
    if (!writer) throw new MeUnavailableError(target.dc, 'no ready writer');
    const leg = new MeLeg(this.pool, writer, this.pool.newConnId(), req, events);
    this.pool.bind(leg);
    return leg;
  }
}
