import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import { once } from 'node:events';
import { decodeStunBindingResponse, encodeStunBindingRequest, stunMessageLength } from '@mtedge/protocol';
import { startFakeStun } from './fake-stun.js';

async function udpAsk(port: number): Promise<Buffer> {
  const s = dgram.createSocket('udp4');
  const { bytes } = encodeStunBindingRequest();
  const got = once(s, 'message');
  s.send(bytes, port, '127.0.0.1');
  const [msg] = (await got) as [Buffer];
  s.close();
  return msg;
}

describe('fake STUN server', () => {
  it('reflects the source address by default and a configured one when set (UDP)', async () => {
    const f = await startFakeStun();
    try {
      const s = dgram.createSocket('udp4');
      const { bytes, txId } = encodeStunBindingRequest();
      const got = once(s, 'message');
      s.send(bytes, f.port, '127.0.0.1');
      const [msg] = (await got) as [Buffer];
      const r = decodeStunBindingResponse(msg, txId);
      assert.equal(r.address.ip, '127.0.0.1');
      assert.equal(r.address.port, s.address().port);
      s.close();
      f.reflect = { family: 4, ip: '203.0.113.9', port: 5555 };
      f.attrs = 'mapped';
      const s2 = dgram.createSocket('udp4');
      const req2 = encodeStunBindingRequest();
      const got2 = once(s2, 'message');
      s2.send(req2.bytes, f.port, '127.0.0.1');
      const [msg2] = (await got2) as [Buffer];
      assert.deepEqual(decodeStunBindingResponse(msg2, req2.txId), { address: { family: 4, ip: '203.0.113.9', port: 5555 }, source: 'mapped' });
      s2.close();
      assert.equal(f.udpRequests(), 2);
    } finally {
      await f.close();
    }
  });

  it('answers over TCP on the same port number', async () => {
    const f = await startFakeStun({ reflect: { family: 4, ip: '198.51.100.4', port: 1 } });
    try {
      const c = net.connect(f.port, '127.0.0.1');
      await once(c, 'connect');
      const { bytes, txId } = encodeStunBindingRequest();
      c.write(bytes);
      let buf = Buffer.alloc(0);
      for (;;) {
        const [d] = (await once(c, 'data')) as [Buffer];
        buf = Buffer.concat([buf, d]);
        const n = stunMessageLength(buf);
        if (n !== null && buf.length >= n) break;
      }
      assert.equal(decodeStunBindingResponse(buf, txId).address.ip, '198.51.100.4');
      c.destroy();
      assert.equal(f.tcpRequests(), 1);
    } finally {
      await f.close();
    }
  });

  it('misbehaves on request: garbage, wrong transaction, error response', async () => {
    const f = await startFakeStun({ behavior: 'garbage' });
    try {
      assert.match((await udpAsk(f.port)).toString('latin1'), /not stun/);
      f.behavior = 'error';
      assert.equal((await udpAsk(f.port)).readUInt16BE(0), 0x0111);
      f.behavior = 'wrong-txid';
      assert.equal((await udpAsk(f.port)).readUInt16BE(0), 0x0101);
    } finally {
      await f.close();
    }
  });
});
