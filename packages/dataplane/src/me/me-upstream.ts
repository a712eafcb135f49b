/**
 * The Middle-End route behind the Upstream seam. A leg unframes the client's plaintext stream
 * (its own transport: abridged / intermediate / padded), queues one RPC_PROXY_REQ per frame on a
 * shared writer (which sends everything queued in one turn as one write), and frames every
 * RPC_PROXY_ANS back in the client's transport where it lies. Quick-acks become the raw 4-byte
 * form the client expects; RPC_CLOSE_EXT ends the client.
 */
import {
  DEFAULT_MAX_FRAME,
  ME_FLAG_NOT_ENCRYPTED,
  ME_FLAG_QUICKACK,
  createFrameDecoder,
  frameInPlace,
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

/** Legs holding answers for their clients this turn, and the one immediate that hands them over. */
let legsWithOutput: MeLeg[] = [];
let outTimer: NodeJS.Immediate | undefined;

function flushAllOutput(): void {
  outTimer = undefined;
  const legs = legsWithOutput;
  legsWithOutput = [];
  for (const leg of legs) {
    // A client whose socket throws loses its own leg, not the others' answers.
    try {
      leg.flushOut();
    } catch (err) {
      leg.failFromFlush(err);
    }
  }
}

class MeLeg implements UpstreamLeg, MeBinding {
  readonly route = 'me' as const;
  private readonly decoder: FrameDecoder;
  /** The start of a frame whose end has not come in yet (a view; the chunk is ours). */
  private pending: Buffer = Buffer.alloc(0);
  /** Later pieces of that frame, joined once it is whole (a big upload is copied once). */
  private readonly more: Buffer[] = [];
  private moreBytes = 0;
  private readonly adTag: Buffer | undefined;
  /** This client's RPC_PROXY_REQ header; each frame only changes the flags word. */
  private readonly template: Buffer;
  private readonly baseFlags: number;
  private closed = false;
  // Frames for the client gathered over one turn of the event loop and handed over together (one
  // corked write): answers are 1-16 KiB each, and a write per answer cost more.
  private readonly out: Buffer[] = [];
  private outBytes = 0;
  private outPending = false;

  constructor(
    private readonly pool: MePool,
    public writer: MeWriter,
    readonly connId: bigint,
    private readonly req: UpstreamRequest,
    private readonly events: UpstreamLegEvents,
  ) {
    this.decoder = createFrameDecoder(req.tag, DEFAULT_MAX_FRAME);
    const tag = req.user.adTag;
    this.adTag = tag !== undefined && /^[0-9a-fA-F]{32}$/.test(tag) ? Buffer.from(tag, 'hex') : undefined;
    // PAD for padded clients as telemt sends it (the official proxy leaves it out; MEs take both).
    this.baseFlags = proxyReqFlags(req.tag, { hasAdTag: this.adTag !== undefined, quickAck: false, notEncrypted: false, padFlag: true });
    this.template = Buffer.allocUnsafe(proxyReqHeaderLength(this.adTag !== undefined));
    writeProxyReqHeader(this.template, 0, {
      flags: this.baseFlags,
      connId,
      clientIp: ip16(req.clientIp),
      clientPort: req.clientPort,
      proxyIp: writer.ourIp16,
      proxyPort: pool.current.publicPort,
      adTag: this.adTag,
    });
  }

  private get tag(): ProtoTag {
    return this.req.tag;
  }

  write(plain: Buffer): boolean {
    if (this.closed) return false;
    if (this.writer.state !== 'ready') return false;
    let ok = true;
    try {
      let rest = plain;
      // Complete a pending frame with just the bytes it still needs, so the rest of the chunk is
      // never copied.
      while (this.pending.length > 0 && rest.length > 0) {
        const need = this.decoder.frameLength(this.pending);
        const want = need < 0 ? 4 : need;
        const have = this.pending.length + this.moreBytes;
        if (have + rest.length < want) {
          this.more.push(rest);
          this.moreBytes += rest.length;
          rest = rest.subarray(rest.length);
          break;
        }
        const n = want - have;
        this.pending = Buffer.concat([this.pending, ...this.more, rest.subarray(0, n)], want);
        this.more.length = 0;
        this.moreBytes = 0;
        rest = rest.subarray(n);
        ok = this.sendFrames() && ok;
      }
      if (rest.length > 0) {
        this.pending = rest;
        ok = this.sendFrames() && ok;
      }
    } catch (err) {
      this.fail(err instanceof Error ? err : new Error(String(err)));
      return false;
    }
    if (!ok) {
      if (this.writer.state !== 'ready') return false;
      this.pool.waitDrain(this);
    }
    return ok;
  }

  /** Queues every whole frame at the start of `pending`; false when the writer pushes back. */
  private sendFrames(): boolean {
    let ok = true;
    let frames = 0;
    let bytes = 0;
    for (let f = this.decoder.decode(this.pending); f !== null; f = this.decoder.decode(this.pending)) {
      this.pending = this.pending.subarray(f.consumed);
      const p = f.payload;
      let flags = this.baseFlags;
      // auth_key_id 0 marks an unencrypted (auth-key creation) message; the ME routes it apart.
      if (p.length >= 8 && p.readUInt32LE(0) === 0 && p.readUInt32LE(4) === 0) flags |= ME_FLAG_NOT_ENCRYPTED;
      if (f.quickAck) flags |= ME_FLAG_QUICKACK;
      const body = (p.length & 3) === 0 ? p : p.subarray(0, p.length & ~3);
      ok = this.writer.sendProxyReq(this.template, flags >>> 0, body) && ok;
      frames++;
      bytes += body.length;
    }
    if (frames > 0) this.pool.noteRequests(frames, bytes, this.adTag !== undefined);
    return ok;
  }

  onMessage(m: MeMessage): void {
    if (this.closed) return;
    switch (m.type) {
      case 'simple_ack':
        this.deliver(quickAckBytes(this.tag, m.confirm));
        return;
      case 'close_ext':
        this.flushOut();
        this.closed = true;
        this.events.close(undefined);
        return;
      default:
        return;
    }
  }

  onAnswer(packet: Buffer, start: number, len: number): void {
    if (!this.closed && len > 0) this.deliver(frameInPlace(this.tag, packet, start, len));
  }

  private deliver(frame: Buffer): void {
    this.out.push(frame);
    this.outBytes += frame.length;
    if (!this.outPending) {
      this.outPending = true;
      legsWithOutput.push(this);
      outTimer ??= setImmediate(flushAllOutput);
    }
  }

  flushOut(): void {
    this.outPending = false;
    if (this.out.length === 0) return;
    const bytes = this.outBytes;
    this.outBytes = 0;
    if (this.closed) {
      this.out.length = 0;
      return;
    }
    if (this.out.length === 1) this.events.data(this.out[0]!);
    else if (this.events.dataPieces) this.events.dataPieces(this.out, bytes);
    else this.events.data(Buffer.concat(this.out, bytes));
    this.out.length = 0;
  }

  onWriterLost(err: Error): void {
    if (this.closed) return;
    this.flushOut();
    this.closed = true;
    this.events.close(new UpstreamError('MTE_ERR_DC_CONNECT', err.message, this.req.dcId, undefined, { cause: err }));
  }

  onDrain(): void {
    if (!this.closed) this.events.drain();
  }

  failFromFlush(err: unknown): void {
    this.out.length = 0;
    this.fail(err instanceof Error ? err : new Error(String(err)));
  }

  private fail(err: Error): void {
    if (this.closed) return;
    this.closed = true;
    this.pool.unbind(this, true);
    this.events.close(new UpstreamError('MTE_ERR_DC_CONNECT', err.message, this.req.dcId, undefined, { cause: err }));
  }

  // One ME link carries many clients and cannot pause for one: these are no-ops, and the session
  // holds a slow client's own reads instead (cut past 16 MiB unsent).
  pause(): void {}
  resume(): void {}

  end(): void {
    // RPC has no half-close: a client that finished sending is done (after this turn's answers).
    this.flushOut();
    this.destroy();
    this.events.close(undefined);
  }

  destroy(): void {
    if (this.closed) return;
    this.closed = true;
    this.out.length = 0;
    this.more.length = 0;
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
