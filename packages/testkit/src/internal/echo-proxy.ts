// A minimal stand-in for the proxy's client side, built from @mtedge/protocol's server half, so
// the simulator can be tested end to end without the real proxy: (optional PROXY header) →
// fake-TLS or plain obfuscated2 with the user secret → echo the decrypted stream back.
// Not exported from the package: test support only.
import { createServer, type Socket } from 'node:net';
import { once } from 'node:events';
import {
  OBF2_INIT_LEN,
  TlsRecordReader,
  acceptObfuscated2,
  buildFakeTlsServerHello,
  encodeTlsAppData,
  parseProxyHeader,
  validateFakeTlsHello,
  type Obf2Session,
  type ProxyAddress,
} from '@mtedge/protocol';

export interface EchoProxyOptions {
  secret: Buffer;
  /** Expect a PROXY v1/v2 header first. */
  proxyHeader?: boolean;
  /** Flip the echoed byte at this stream offset (to test mismatch detection). */
  corruptAt?: number;
  /** Sign the fake-TLS reply with this secret instead (to test digest rejection). */
  replySecret?: Buffer;
}

export interface EchoProxySession {
  tag: string;
  dcId: number;
  tls: boolean;
  source: ProxyAddress | undefined;
  /** Stream bytes received after the init, per connection. */
  bytesIn: number;
}

export interface EchoProxy {
  port: number;
  sessions: EchoProxySession[];
  rejected: number;
  close(): Promise<void>;
}

export async function startEchoProxy(o: EchoProxyOptions): Promise<EchoProxy> {
  const sockets = new Set<Socket>();
  const state: EchoProxy = { port: 0, sessions: [], rejected: 0, close: async () => undefined };
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let buf = Buffer.alloc(0);
    let phase: 'proxy' | 'first' | 'tls-init' | 'obf-init' | 'relay' = o.proxyHeader === true ? 'proxy' : 'first';
    let source: ProxyAddress | undefined;
    let tls = false;
    let records: TlsRecordReader | null = null;
    let session: Obf2Session | null = null;
    let rec: EchoProxySession | null = null;
    let offset = 0;
    const reject = (): void => {
      state.rejected++;
      socket.destroy();
    };
    const onStream = (bytes: Buffer): void => {
      if (session === null) {
        buf = Buffer.concat([buf, bytes]);
        if (buf.length < OBF2_INIT_LEN) return;
        session = acceptObfuscated2(buf.subarray(0, OBF2_INIT_LEN), o.secret);
        if (session === null) return reject();
        rec = { tag: session.tag, dcId: session.dcId, tls, source, bytesIn: 0 };
        state.sessions.push(rec);
        bytes = buf.subarray(OBF2_INIT_LEN);
        buf = Buffer.alloc(0);
        phase = 'relay';
      }
      if (bytes.length === 0 || rec === null) return;
      rec.bytesIn += bytes.length;
      const plain = session.decrypt.update(bytes);
      if (o.corruptAt !== undefined && o.corruptAt >= offset && o.corruptAt < offset + plain.length) {
        plain[o.corruptAt - offset] = (plain[o.corruptAt - offset] as number) ^ 0xff;
      }
      offset += plain.length;
      const enc = session.encrypt.update(plain);
      socket.write(tls ? encodeTlsAppData(enc) : enc);
    };
    socket.on('data', (chunk: Buffer) => {
      try {
        if (phase === 'relay' || phase === 'obf-init') {
          if (!tls) return onStream(chunk);
        }
        if (phase === 'tls-init' || (phase === 'relay' && tls)) {
          (records as TlsRecordReader).push(chunk);
          for (let r = records?.next(); r; r = records?.next()) {
            if (r.type === 0x17) onStream(r.payload);
          }
          return;
        }
        buf = Buffer.concat([buf, chunk]);
        if (phase === 'proxy') {
          const h = parseProxyHeader(buf);
          if (h.status === 'incomplete') return;
          if (h.status !== 'ok') return reject();
          source = h.source;
          buf = buf.subarray(h.consumed);
          phase = 'first';
        }
        if (phase === 'first') {
          if (buf.length < 5) return;
          // Same rule as the edge: only 16 03 01 starts a TLS hello. A classic init may begin with 0x16.
          if (!(buf[0] === 0x16 && buf[1] === 0x03 && buf[2] === 0x01)) {
            phase = 'obf-init';
            const rest = buf;
            buf = Buffer.alloc(0);
            return onStream(rest);
          }
          const len = 5 + buf.readUInt16BE(3);
          if (buf.length < len) return;
          const hello = validateFakeTlsHello(buf.subarray(0, len), [o.secret], Math.floor(Date.now() / 1000), 600);
          if (hello === null) return reject();
          tls = true;
          socket.write(buildFakeTlsServerHello({ secret: o.replySecret ?? o.secret, clientDigest: hello.digest, sessionId: hello.sessionId, appDataLen: 2500 }));
          records = new TlsRecordReader();
          phase = 'tls-init';
          const rest = buf.subarray(len);
          buf = Buffer.alloc(0);
          if (rest.length > 0) {
            records.push(rest);
            for (let r = records.next(); r; r = records.next()) if (r.type === 0x17) onStream(r.payload);
          }
        }
      } catch {
        reject();
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const addr = server.address();
  if (addr === null || typeof addr === 'string') throw new Error('no address');
  state.port = addr.port;
  state.close = async () => {
    const closed = new Promise<void>((r) => server.close(() => r()));
    for (const s of sockets) s.destroy();
    await closed;
  };
  return state;
}
