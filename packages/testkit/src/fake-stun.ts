// A fake STUN server on loopback: answers RFC 5389 Binding Requests over UDP (and over TCP on
// the same port number) with a configurable reflected address, so NAT discovery can be tested
// without the public STUN pool. It can also stay silent, send garbage, answer another
// transaction or send an error response.
import dgram from 'node:dgram';
import { createServer, type Server, type Socket } from 'node:net';
import { once } from 'node:events';
import { STUN_MAGIC_COOKIE, encodeStunBindingResponse, type StunAddress } from '@mtedge/protocol';

export type FakeStunBehavior = 'answer' | 'silent' | 'garbage' | 'wrong-txid' | 'error';

export interface FakeStunOptions {
  host?: string;
  port?: number;
  /** The address to report; by default the request's real source address. */
  reflect?: StunAddress;
  /** Which attribute carries it (default XOR-MAPPED-ADDRESS). */
  attrs?: 'xor-mapped' | 'mapped' | 'both';
  behavior?: FakeStunBehavior;
  /** Answer over UDP (default true). Off: the UDP port is left closed. */
  udp?: boolean;
  /** Answer over TCP on the same port number (default true). */
  tcp?: boolean;
}

export interface FakeStun {
  readonly host: string;
  readonly port: number;
  reflect: StunAddress | undefined;
  attrs: 'xor-mapped' | 'mapped' | 'both';
  behavior: FakeStunBehavior;
  /** Binding Requests received over UDP / TCP. */
  udpRequests(): number;
  tcpRequests(): number;
  close(): Promise<void>;
}

/** The transaction id of a Binding Request, or undefined for anything else. */
function requestTxId(b: Buffer): Buffer | undefined {
  if (b.length < 20 || b.readUInt16BE(0) !== 0x0001 || b.readUInt32BE(4) !== STUN_MAGIC_COOKIE) return undefined;
  return b.subarray(8, 20);
}

class FakeStunImpl implements FakeStun {
  port = 0;
  reflect: StunAddress | undefined;
  attrs: 'xor-mapped' | 'mapped' | 'both';
  behavior: FakeStunBehavior;
  private udpCount = 0;
  private tcpCount = 0;
  private udpSock: dgram.Socket | undefined;
  private tcpServer: Server | undefined;
  private readonly conns = new Set<Socket>();

  constructor(
    readonly host: string,
    private readonly o: FakeStunOptions,
  ) {
    this.reflect = o.reflect;
    this.attrs = o.attrs ?? 'xor-mapped';
    this.behavior = o.behavior ?? 'answer';
  }

  udpRequests(): number {
    return this.udpCount;
  }

  tcpRequests(): number {
    return this.tcpCount;
  }

  private answer(tx: Buffer, from: { address: string; port: number; family: string }): Uint8Array | undefined {
    switch (this.behavior) {
      case 'silent':
        return undefined;
      case 'garbage':
        return Buffer.from('HTTP/1.1 400 Bad Request\r\n\r\nnot stun at all, sorry', 'latin1');
      case 'error': {
        const b = Buffer.alloc(20 + 4 + 8);
        b.writeUInt16BE(0x0111, 0);
        b.writeUInt16BE(12, 2);
        b.writeUInt32BE(STUN_MAGIC_COOKIE, 4);
        tx.copy(b, 8);
        b.writeUInt16BE(0x0009, 20);
        b.writeUInt16BE(8, 22);
        b[26] = 4;
        b[27] = 20;
        b.write('Nope', 28, 'latin1');
        return b;
      }
      default: {
        const fam = from.family === 'IPv6' || from.address.includes(':') ? 6 : 4;
        const addr: StunAddress = this.reflect ?? { family: fam, ip: from.address.replace(/^::ffff:/, ''), port: from.port };
        const id = this.behavior === 'wrong-txid' ? Buffer.from(tx.map((x) => x ^ 0xff)) : tx;
        return encodeStunBindingResponse(id, addr, this.attrs);
      }
    }
  }

  async listen(port: number): Promise<void> {
    const udp = this.o.udp !== false;
    const tcp = this.o.tcp !== false;
    // UDP and TCP have separate port spaces: take a UDP port, then try the same number for TCP.
    for (let tries = 0; ; tries++) {
      let p = port;
      if (udp) {
        const s = dgram.createSocket(this.host.includes(':') ? 'udp6' : 'udp4');
        s.on('message', (msg, rinfo) => {
          const tx = requestTxId(msg);
          if (!tx) return;
          this.udpCount++;
          const out = this.answer(tx, rinfo);
          if (out) s.send(out, rinfo.port, rinfo.address);
        });
        s.bind(port, this.host);
        await once(s, 'listening');
        this.udpSock = s;
        p = s.address().port;
      }
      if (!tcp) {
        if (!udp) throw new Error('fake STUN: neither UDP nor TCP');
        this.port = p;
        return;
      }
      const srv = createServer((c) => this.onTcp(c));
      try {
        srv.listen(p, this.host);
        await once(srv, 'listening');
        this.tcpServer = srv;
        this.port = (srv.address() as { port: number }).port;
        return;
      } catch (err) {
        this.udpSock?.close();
        this.udpSock = undefined;
        if (port !== 0 || !udp || tries >= 20) throw err;
      }
    }
  }

  private onTcp(c: Socket): void {
    this.conns.add(c);
    c.on('close', () => this.conns.delete(c));
    c.on('error', () => undefined);
    let buf = Buffer.alloc(0);
    c.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length > 4096) {
        c.destroy();
        return;
      }
      while (buf.length >= 20) {
        const need = 20 + buf.readUInt16BE(2);
        if (buf.length < need) return;
        const tx = requestTxId(buf.subarray(0, need));
        buf = buf.subarray(need);
        if (!tx) continue;
        this.tcpCount++;
        const out = this.answer(Buffer.from(tx), { address: c.remoteAddress ?? '127.0.0.1', port: c.remotePort ?? 0, family: c.remoteFamily ?? 'IPv4' });
        if (out) c.write(out);
      }
    });
  }

  async close(): Promise<void> {
    for (const c of this.conns) c.destroy();
    if (this.udpSock) {
      const s = this.udpSock;
      this.udpSock = undefined;
      await new Promise<void>((r) => s.close(() => r()));
    }
    if (this.tcpServer) {
      const s = this.tcpServer;
      this.tcpServer = undefined;
      await new Promise<void>((r) => s.close(() => r()));
    }
  }
}

export async function startFakeStun(o: FakeStunOptions = {}): Promise<FakeStun> {
  const s = new FakeStunImpl(o.host ?? '127.0.0.1', o);
  await s.listen(o.port ?? 0);
  return s;
}
