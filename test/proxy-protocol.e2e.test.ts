/**
 * End to end, PROXY protocol (`[server] proxy_protocol = true`): v1 and v2 headers in front of
 * every client mode are consumed, the client address they carry is the one the edge accounts
 * (active_unique_ips_list in /v1/users), and a connection without a header is refused.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeProxyV1, encodeProxyV2 } from '@mtedge/protocol';
import { connectClient, httpGetProbe, sendRawProbe, startFakeDc, startMaskHost, type ClientMode, type FakeDc, type MaskHost, type SimClient } from '@mtedge/testkit';
import { edgeConfigToml, freePort, randomSecretHex, startEdge, waitUntil, type EdgeProcess } from './helpers/edge.js';
import { counters, echoes, grew, refused, user } from './helpers/observe.js';

const DOMAIN = 'front.example.com';
const alice = { name: 'alice', secretHex: randomSecretHex() };
let dc: FakeDc;
let mask: MaskHost;
let edge: EdgeProcess;
/** Trusts PROXY headers only from 10.0.0.0/8, so our loopback peer is not allowed to send one. */
let strictEdge: EdgeProcess;

before(async () => {
  dc = await startFakeDc({ mode: 'echo' });
  mask = await startMaskHost({ reply: 'http' });
  const apiPort = await freePort();
  edge = await startEdge(
    edgeConfigToml({ users: [alice], dcPort: dc.port, maskPort: mask.port, apiPort, tlsDomain: DOMAIN, workers: 2, serverToml: 'proxy_protocol = true\nproxy_protocol_trusted_cidrs = ["127.0.0.0/8", "::1/128"]' }),
    { apiPort },
  );
  const apiPort2 = await freePort();
  strictEdge = await startEdge(
    edgeConfigToml({ users: [alice], dcPort: dc.port, maskPort: mask.port, apiPort: apiPort2, tlsDomain: DOMAIN, workers: 2, serverToml: 'proxy_protocol = true\nproxy_protocol_trusted_cidrs = ["10.0.0.0/8"]' }),
    { apiPort: apiPort2 },
  );
});

after(async () => {
  await edge?.stop();
  await strictEdge?.stop();
  await dc?.close();
  await mask?.close();
});

const secret = (): Buffer => Buffer.from(alice.secretHex, 'hex');

const cases: { name: string; mode: ClientMode; ip: string; header: (ip: string, port: number) => Buffer }[] = [
  { name: 'v1 TCP4, dd', mode: 'secure', ip: '203.0.113.7', header: (ip, port) => encodeProxyV1({ address: ip, port: 40001 }, { address: '127.0.0.1', port }) },
  { name: 'v2 TCP4, ee', mode: 'tls', ip: '198.51.100.9', header: (ip, port) => encodeProxyV2({ address: ip, port: 40002 }, { address: '127.0.0.1', port }) },
  { name: 'v1 TCP6, classic', mode: 'classic', ip: '2001:db8::17', header: (ip, port) => encodeProxyV1({ address: ip, port: 40003 }, { address: '2001:db8::1', port }) },
  { name: 'v2 TCP6, ee', mode: 'tls', ip: '2001:db8:1::42', header: (ip, port) => encodeProxyV2({ address: ip, port: 40004 }, { address: '2001:db8::1', port }) },
];

test('each PROXY header is consumed and its source address is the client IP the edge accounts', async () => {
  const held: SimClient[] = [];
  for (const c of cases) {
    const client = await connectClient({ host: '127.0.0.1', port: edge.port, mode: c.mode, secret: secret(), domain: DOMAIN, proxyHeader: c.header(c.ip, edge.port) });
    await echoes(client, 20_000);
    held.push(client);
    const ips = (await user(edge, 'alice')).active_unique_ips_list;
    assert.ok(ips.includes(c.ip), `${c.name}: ${c.ip} not in ${JSON.stringify(ips)}`);
  }
  const view = await user(edge, 'alice');
  assert.deepEqual([...view.active_unique_ips_list].sort(), cases.map((c) => c.ip).sort(), 'only header addresses, never 127.0.0.1');
  assert.equal(view.current_connections, cases.length);
  for (const c of held) c.destroy();
  await waitUntil(async () => (await user(edge, 'alice')).current_connections === 0, 5000, 'alice to drain');
});

test('PROXY v1 UNKNOWN and v2 LOCAL keep the socket address', async () => {
  for (const header of [encodeProxyV1(undefined, undefined), encodeProxyV2(undefined, undefined)]) {
    const client = await connectClient({ host: '127.0.0.1', port: edge.port, mode: 'secure', secret: secret(), proxyHeader: header });
    await echoes(client, 1000);
    assert.deepEqual((await user(edge, 'alice')).active_unique_ips_list, ['127.0.0.1']);
    client.destroy();
    await waitUntil(async () => (await user(edge, 'alice')).current_connections === 0, 5000, 'alice to drain');
  }
});

test('a client without a PROXY header is refused, whatever it sends', async () => {
  const c0 = await counters(edge);
  const maskConns = mask.connections();
  for (const mode of ['secure', 'tls', 'classic'] as const) {
    const r = await refused({ host: '127.0.0.1', port: edge.port, mode, secret: secret(), domain: DOMAIN });
    assert.ok(r.closed && r.relayed === 0, `${mode} without a header was not refused`);
  }
  const probe = await sendRawProbe({ host: '127.0.0.1', port: edge.port, bytes: httpGetProbe(), readMs: 5000 });
  assert.ok(probe.closed);
  assert.equal(probe.received.length, 0);
  // A malformed header (right signature, bad addresses) is refused too.
  const bad = await sendRawProbe({ host: '127.0.0.1', port: edge.port, bytes: Buffer.from('PROXY TCP4 999.1.1.1 127.0.0.1 1 2\r\n'), readMs: 5000 });
  assert.ok(bad.closed);
  assert.equal(bad.received.length, 0);
  const c1 = await counters(edge);
  assert.equal(grew(c0.byClass, c1.byClass, 'proxy_protocol_invalid'), 5);
  assert.equal(mask.connections(), maskConns, 'PROXY failures are closed, not masked');
});

test('proxy_protocol_trusted_cidrs: a PROXY header from a peer outside the list is refused', async () => {
  const c0 = await counters(strictEdge);
  for (const [mode, header] of [
    ['secure', encodeProxyV1({ address: '203.0.113.7', port: 1234 }, { address: '127.0.0.1', port: strictEdge.port })],
    ['tls', encodeProxyV2({ address: '198.51.100.9', port: 1234 }, { address: '127.0.0.1', port: strictEdge.port })],
  ] as const) {
    const r = await refused({ host: '127.0.0.1', port: strictEdge.port, mode, secret: secret(), domain: DOMAIN, proxyHeader: header });
    assert.ok(r.closed && r.relayed === 0, `${mode}: a header from untrusted 127.0.0.1 was accepted`);
  }
  const c1 = await counters(strictEdge);
  assert.equal(grew(c0.byClass, c1.byClass, 'proxy_protocol_invalid'), 2);
  assert.equal((await user(strictEdge, 'alice')).total_octets, 0, 'nothing was relayed for alice');
});
