import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import {
  MeRpcStream,
  RPC_CRYPTO_AES,
  RPCF_USE_CRC32C,
  decodeMeMessage,
  decodeRpcHandshake,
  decodeRpcNonce,
  encodeCloseConn,
  encodePing,
  encodePong,
  encodeProxyReq,
  encodeRpcHandshake,
  encodeRpcNonce,
  ipv4Mapped,
  meSessionKeys,
  parseProxyMultiConf,
  proxyReqFlags,
  proxySecretKeySelect,
  type MeMessage,
} from '@mtedge/protocol';
import { fakeMeConfig, startFakeMe, startFakeMeHttp, type FakeMe } from './fake-me.js';
import { REQ_PQ_MULTI, RES_PQ } from './mtproto-respq.js';

interface TestLink {
  send(body: Buffer): void;
  next(timeoutMs?: number): Promise<MeMessage>;
  closed: Promise<void>;
  crc32c: boolean;
  sock: net.Socket;
}

/** A minimal ME client built from the protocol package's codecs. */
async function dial(me: FakeMe, secret: Buffer): Promise<TestLink> {
  const sock = net.connect(me.port, me.host);
  await new Promise<void>((r, j) => sock.once('connect', r).once('error', j));
  sock.on('error', () => undefined);
  const stream = new MeRpcStream();
  const queue: MeMessage[] = [];
  let wake: (() => void) | undefined;
  let failed: Error | undefined;
  const closed = new Promise<void>((r) => sock.once('close', () => r()));
  sock.once('close', () => {
    failed ??= new Error('closed');
    wake?.();
  });
  let stage: 'nonce' | 'hs' | 'data' = 'nonce';
  const ts = Math.floor(Date.now() / 1000);
  const myNonce = randomBytes(16);
  let ready: () => void = () => undefined;
  let crc32c = false;
  const handshaked = new Promise<void>((r) => (ready = r));
  sock.on('data', (d: Buffer) => {
    try {
      stream.push(d);
      for (let p = stream.next(); p; p = stream.next()) {
        if (stage === 'nonce') {
          const n = decodeRpcNonce(p.body);
          const ip = Buffer.from([127, 0, 0, 1]);
          stream.startCrypto(meSessionKeys({ nonceSrv: n.nonce, nonceClt: myNonce, cltTs: ts, srvIp4: ip, cltIp4: ip, srvPort: me.port, cltPort: sock.localPort!, secret }, 'client'));
          const pid = { ip: 0x7f000001, port: sock.localPort!, pid: 1, utime: ts };
          sock.write(stream.encode(encodeRpcHandshake({ flags: RPCF_USE_CRC32C, senderPid: pid, peerPid: pid })));
          stage = 'hs';
        } else if (stage === 'hs') {
          const h = decodeRpcHandshake(p.body);
          assert.equal(h.type, 'handshake');
          if (h.type === 'handshake' && h.hs.flags & RPCF_USE_CRC32C) {
            stream.setCrc('crc32c');
            crc32c = true;
          }
          stage = 'data';
          ready();
        } else {
          queue.push(decodeMeMessage(Buffer.from(p.body)));
          wake?.();
        }
      }
    } catch (e) {
      failed = e as Error;
      sock.destroy();
    }
  });
  sock.write(stream.encode(encodeRpcNonce({ keySelect: proxySecretKeySelect(secret), schema: RPC_CRYPTO_AES, ts, nonce: myNonce })));
  await Promise.race([handshaked, closed.then(() => Promise.reject(failed ?? new Error('closed in handshake')))]);
  return {
    sock,
    crc32c,
    closed,
    send: (b) => sock.write(stream.encode(b)),
    async next(timeoutMs = 3000) {
      const end = Date.now() + timeoutMs;
      while (queue.length === 0) {
        if (failed) throw failed;
        if (Date.now() > end) throw new Error('timeout');
        await new Promise<void>((r) => {
          wake = r;
          setTimeout(r, 50);
        });
      }
      return queue.shift()!;
    },
  };
}

function reqPq(): Buffer {
  const m = Buffer.alloc(40);
  m.writeBigUInt64LE(123n << 32n, 8);
  m.writeUInt32LE(20, 16);
  m.writeUInt32LE(REQ_PQ_MULTI, 20);
  randomBytes(16).copy(m, 24);
  return m;
}

describe('fake ME', () => {
  const secret = randomBytes(128);
  const mes: FakeMe[] = [];
  after(async () => {
    for (const m of mes) await m.close();
  });

  it('handshakes with CRC32-C, answers req_pq_multi with resPQ, echoes, records ad tags, pongs', async () => {
    const me = await startFakeMe({ secret });
    mes.push(me);
    const l = await dial(me, secret);
    assert.ok(l.crc32c);
    const adTag = randomBytes(16);
    const hdr = (connId: bigint, notEnc: boolean) => ({
      flags: proxyReqFlags('intermediate', { hasAdTag: true, quickAck: false, notEncrypted: notEnc }),
      connId, clientIp: ipv4Mapped(Buffer.from([1, 2, 3, 4])), clientPort: 5, proxyIp: ipv4Mapped(Buffer.from([127, 0, 0, 1])), proxyPort: 443, adTag,
    });
    l.send(encodeProxyReq(hdr(7n, true), reqPq()));
    const a = await l.next();
    assert.equal(a.type, 'proxy_ans');
    if (a.type === 'proxy_ans') {
      assert.equal(a.connId, 7n);
      assert.equal(a.payload.readUInt32LE(20), RES_PQ);
    }
    const data = randomBytes(64);
    l.send(encodeProxyReq(hdr(8n, false), data));
    const b = await l.next();
    assert.ok(b.type === 'proxy_ans' && b.payload.equals(data) && b.connId === 8n);
    l.send(encodePing(99n));
    assert.deepEqual(await l.next(), { type: 'pong', pingId: 99n });
    me.ping();
    const p = await l.next();
    assert.equal(p.type, 'ping');
    if (p.type === 'ping') l.send(encodePong(p.pingId));
    l.send(encodeCloseConn(8n));
    await me.waitFor((m) => m.pongs() === 1 && m.closeConns().includes(8n), 3000);
    assert.equal(me.requests().length, 2);
    assert.ok(me.requests().every((r) => r.adTag?.equals(adTag)));
    assert.ok(me.closeExt(7n));
    assert.deepEqual(await l.next(), { type: 'close_ext', connId: 7n });
    assert.equal(me.handshakes(), 1);
    l.sock.destroy();
  });

  it('fails the handshake with a wrong secret, drops, and breaks CRCs on demand', async () => {
    const me = await startFakeMe({ secret });
    mes.push(me);
    me.wrongSecret = true;
    await assert.rejects(dial(me, secret));
    me.wrongSecret = false;
    const l = await dial(me, secret);
    me.badCrc = true;
    l.send(encodePing(1n));
    await assert.rejects(l.next(), /MTE_ERR_ME_PACKET_CRC|mismatch/);
    me.badCrc = false;
    me.drop = true;
    await assert.rejects(dial(me, secret));
    me.drop = false;
    me.stall = true;
    const s = net.connect(me.port, me.host);
    await new Promise((r) => s.once('connect', r));
    const st = new MeRpcStream();
    s.write(st.encode(encodeRpcNonce({ keySelect: proxySecretKeySelect(secret), schema: RPC_CRYPTO_AES, ts: 1, nonce: randomBytes(16) })));
    const got = await Promise.race([new Promise((r) => s.once('data', () => r('data'))), new Promise((r) => setTimeout(() => r('silent'), 300))]);
    assert.equal(got, 'silent');
    s.destroy();
  });

  it('stops reading a link whose answers are not taken, and goes on once they are', async () => {
    const me = await startFakeMe({ secret, maxRecordedRequests: 1 });
    mes.push(me);
    const l = await dial(me, secret);
    const hdr = (connId: bigint) => ({
      flags: proxyReqFlags('intermediate', { hasAdTag: false, quickAck: false, notEncrypted: false }),
      connId, clientIp: ipv4Mapped(Buffer.from([1, 2, 3, 4])), clientPort: 5, proxyIp: ipv4Mapped(Buffer.from([127, 0, 0, 1])), proxyPort: 443,
    });
    // 64 MiB of requests, far past what the kernel's socket buffers and the 4 MiB hold take.
    const total = 1024;
    const payload = randomBytes(64 * 1024);
    payload.writeBigUInt64LE(0x1122334455667788n, 0);
    l.sock.pause();
    for (let i = 0; i < total; i++) l.send(encodeProxyReq(hdr(BigInt(i + 1)), payload));
    // Every request names a new conn id, so the link's conn ids count the requests read.
    const read = () => me.links()[0]!.connIds.size;
    let seen = -1;
    for (let stable = 0; stable < 4; ) {
      await new Promise((r) => setTimeout(r, 150));
      stable = read() === seen ? stable + 1 : 0;
      seen = read();
    }
    assert.ok(seen > 0 && seen < total, `the fake ME read ${seen} of ${total} requests while none of its answers were taken`);
    l.sock.resume();
    await me.waitFor(() => read() === total, 20000);
    l.sock.destroy();
  });

  it('serves proxy-secret and proxy-multi.conf over HTTP', async () => {
    const conf = fakeMeConfig({ '2': [{ host: '127.0.0.1', port: 1234 }] }, 2);
    const http = await startFakeMeHttp({ secret, config: conf });
    try {
      const s = Buffer.from(await (await fetch(http.secretUrl)).arrayBuffer());
      assert.deepEqual(s, secret);
      const c = parseProxyMultiConf(await (await fetch(http.configUrl)).text());
      assert.deepEqual(c.dcs['2'], [{ host: '127.0.0.1', port: 1234 }]);
      http.failWith = 500;
      assert.equal((await fetch(http.configUrl)).status, 500);
      assert.equal(http.requests(), 3);
    } finally {
      await http.close();
    }
  });
});
