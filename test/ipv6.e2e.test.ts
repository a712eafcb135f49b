/**
 * An IPv6 listener beside the IPv4 one: clients over ::1 are served in every mode, and their
 * IPv6 source address is what the per-user stats show.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connectClient, startFakeDc, type FakeDc } from '@mtedge/testkit';
import { edgeConfigToml, freePort, randomSecretHex, startEdge, type EdgeProcess } from './helpers/edge.js';

let dc: FakeDc;
let edge: EdgeProcess;
const alice = { name: 'alice', secretHex: randomSecretHex() };

before(async () => {
  dc = await startFakeDc({ mode: 'echo' });
  const apiPort = await freePort();
  edge = await startEdge(edgeConfigToml({ users: [alice], dcPort: dc.port, apiPort, serverToml: 'listen_addr_ipv6 = "::1"' }), { apiPort });
});

after(async () => {
  await edge?.stop();
  await dc?.close();
});

test('both listeners are bound', () => {
  assert.equal(edge.ports.length, 2, `listen ports ${JSON.stringify(edge.ports)}`);
});

for (const mode of ['classic', 'secure', 'tls'] as const) {
  test(`${mode} over ::1 relays both ways and is accounted to its IPv6 address`, async () => {
    const c = await connectClient({ host: '::1', port: edge.ports[1]!, mode, secret: Buffer.from(alice.secretHex, 'hex'), domain: 'front.example.com' });
    const payload = randomBytes(50_000);
    c.send(payload);
    assert.ok((await c.waitForBytes(payload.length, 5000)).equals(payload));
    const u = (await edge.api('/v1/users/alice')).body.data;
    assert.deepEqual(u.active_unique_ips_list, ['::1']);
    c.end();
    await c.closed;
  });
}
