import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { ReadSlab } from './read-slab.js';

test('reads taken from a slab never overlap and keep their bytes while later reads fill the slab', () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 1, max: 3000 }), { minLength: 1, maxLength: 200 }), (reads) => {
      const slab = new ReadSlab(8192, 2048);
      const kept: { view: Buffer; copy: Buffer }[] = [];
      for (const want of reads) {
        const room = slab.next();
        assert.ok(room.length >= 2048, 'room offered is at least minRead');
        const n = Math.min(want, room.length);
        room.fill(kept.length & 0xff, 0, n);
        const view = slab.take(room, n);
        assert.equal(view.length, n);
        kept.push({ view, copy: Buffer.from(view) });
      }
      for (const k of kept) assert.ok(k.view.equals(k.copy), 'an earlier read was overwritten');
    }),
  );
  assert.throws(() => new ReadSlab(1024, 2048), RangeError);
});

test('as a socket onread buffer: every byte arrives once, in order, and views stay intact', async () => {
  const payload = randomBytes(3 * 1024 * 1024);
  const server = net.createServer((s) => {
    // Uneven writes, so reads come back short and long.
    let off = 0;
    const step = (): void => {
      while (off < payload.length) {
        const n = Math.min(payload.length - off, 1 + Math.floor(Math.random() * 100_000));
        const ok = s.write(payload.subarray(off, off + n));
        off += n;
        if (!ok) return void s.once('drain', step);
      }
      s.end();
    };
    step();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const slab = new ReadSlab(64 * 1024, 8 * 1024);
  const views: Buffer[] = [];
  const sock = net.connect({
    host: '127.0.0.1',
    port: (server.address() as net.AddressInfo).port,
    onread: {
      buffer: () => slab.next(),
      callback: (n, buf) => {
        views.push(slab.take(buf as Buffer, n));
        return true;
      },
    },
  });
  await once(sock, 'end');
  sock.destroy();
  server.close();
  assert.ok(views.length > 1);
  assert.ok(Buffer.concat(views).equals(payload), 'bytes differ');
});
