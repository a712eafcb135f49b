// The "mask host": where the proxy relays anything that is not a valid client. It records every
// byte verbatim so a test can assert the relay was byte-for-byte in both directions.
import { createServer, type Server, type Socket } from 'node:net';
import { once } from 'node:events';
import { Waiters } from './internal/waiters.js';

export const MASK_HOST_HTTP_RESPONSE = Buffer.from(
  'HTTP/1.1 200 OK\r\nServer: mtedge-testkit-mask\r\nContent-Type: text/plain\r\nContent-Length: 11\r\nConnection: close\r\n\r\nmask-host\r\n',
  'latin1',
);

/** 'http' answers the first bytes with `response`; 'echo' returns every byte; 'silent' only records. */
export type MaskHostReply = 'http' | 'echo' | 'silent';

export interface MaskHostOptions {
  host?: string;
  port?: number;
  reply?: MaskHostReply;
  /** Bytes sent in 'http' mode (default MASK_HOST_HTTP_RESPONSE). */
  response?: Buffer;
  /** Close after the 'http' response (default true, as `Connection: close` says). */
  closeAfterResponse?: boolean;
  /** Stop recording a connection past this many bytes (still counted); default 1 MiB. */
  maxRecordedBytes?: number;
}

export interface MaskHostConnection {
  readonly id: number;
  readonly remotePort: number;
  bytesIn: number;
  bytesOut: number;
  open: boolean;
}

export interface MaskHost {
  readonly host: string;
  readonly port: number;
  readonly response: Buffer;
  connections(): number;
  activeConnections(): number;
  /** Raw bytes each connection sent, in accept order. */
  received(): Buffer[];
  records(): readonly MaskHostConnection[];
  waitFor(pred: (m: MaskHost) => boolean, timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}

class MaskHostImpl implements MaskHost {
  port = 0;
  readonly response: Buffer;
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private readonly waiters = new Waiters();
  private readonly chunks: Buffer[][] = [];
  private readonly recs: MaskHostConnection[] = [];

  constructor(readonly host: string, private readonly o: MaskHostOptions) {
    this.response = o.response ?? MASK_HOST_HTTP_RESPONSE;
    this.server = createServer((s) => this.onConnection(s));
  }

  async listen(port: number): Promise<void> {
    this.server.listen(port, this.host);
    await once(this.server, 'listening');
    const addr = this.server.address();
    if (addr === null || typeof addr === 'string') throw new Error('mask host has no TCP address');
    this.port = addr.port;
  }

  connections(): number { return this.recs.length; }
  activeConnections(): number { return this.sockets.size; }
  received(): Buffer[] { return this.chunks.map((c) => Buffer.concat(c)); }
  records(): readonly MaskHostConnection[] { return this.recs; }

  waitFor(pred: (m: MaskHost) => boolean, timeoutMs: number): Promise<void> {
    return this.waiters.waitFor(() => pred(this), timeoutMs, 'mask host condition');
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((r) => this.server.close(() => r()));
    for (const s of this.sockets) s.destroy();
    await closed;
  }

  private onConnection(socket: Socket): void {
    this.sockets.add(socket);
    const rec: MaskHostConnection = { id: this.recs.length + 1, remotePort: socket.remotePort ?? 0, bytesIn: 0, bytesOut: 0, open: true };
    const mine: Buffer[] = [];
    this.recs.push(rec);
    this.chunks.push(mine);
    const reply = this.o.reply ?? 'http';
    const cap = this.o.maxRecordedBytes ?? 1024 * 1024;
    let answered = false;
    socket.on('error', () => { /* resets are expected; 'close' does the bookkeeping */ });
    socket.on('data', (chunk: Buffer) => {
      const room = cap - (rec.bytesIn < cap ? rec.bytesIn : cap);
      if (room > 0) mine.push(Buffer.from(chunk.subarray(0, room)));
      rec.bytesIn += chunk.length;
      if (reply === 'echo') {
        rec.bytesOut += chunk.length;
        socket.write(chunk);
      } else if (reply === 'http' && !answered) {
        answered = true;
        rec.bytesOut += this.response.length;
        if (this.o.closeAfterResponse ?? true) socket.end(this.response);
        else socket.write(this.response);
      }
      this.waiters.notify();
    });
    socket.on('end', () => {
      // Half-close from the peer: finish our side too so the relay sees a clean close.
      if (!socket.writableEnded) socket.end();
    });
    socket.on('close', () => {
      this.sockets.delete(socket);
      rec.open = false;
      this.waiters.notify();
    });
  }
}

export async function startMaskHost(o: MaskHostOptions = {}): Promise<MaskHost> {
  const m = new MaskHostImpl(o.host ?? '127.0.0.1', o);
  await m.listen(o.port ?? 0);
  return m;
}
