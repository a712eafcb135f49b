/**
 * Interop: an independent MTProto client, mtcute (@mtcute/node, pinned devDependency), does its real
 * auth-key handshake through the built mtedge binary to the testkit's fake DC in 'mtproto' mode, for a
 * classic secret, a dd secret (padded intermediate) and an ee secret (fake TLS, whose ServerHello
 * HMAC mtcute verifies before it sends a byte of MTProto).
 *
 * What counts as proof: the fake DC decodes the client's req_pq_multi (auth_key_id 0, constructor
 * 0xbe7e8ef1) on the DC id the client asked for; the fake DC's resPQ goes back through mtedge, and
 * the client answers it with req_DH_params carrying the same nonce and the factors p, q of the pq it
 * was sent, which it can only do if it decoded that resPQ. The fake DC echoes req_DH_params, so the
 * client then fails at auth step 2; that failure is expected and bounds the test.
 *
 * Why mtcute and not GramJS (`telegram`): GramJS's MTProxy connection strips a dd prefix but still
 * speaks abridged (tag 0xefefefef), i.e. it never uses the padded-intermediate transport a dd secret
 * stands for, and it has no fake-TLS (ee) support; mtcute implements classic, dd and ee.
 *
 * Nothing reaches past loopback: mtcute's MTProxy transport only ever dials the proxy address
 * (127.0.0.1:<edge port>); the DC addresses it is given are 127.0.0.1:9 and never dialled, the
 * DC id it asks the proxy for maps to the fake DC in mtedge's config; updates, IPv6 and reconnects
 * are off, storage is in memory, and every wait is bounded.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { BaseTelegramClient, MemoryStorage, MtProxyTcpTransport } from '@mtcute/node';
import { REQ_PQ_MULTI, startFakeDc, type FakeDc, type FakeDcFrame } from '@mtedge/testkit';
import { edgeConfigToml, freePort, randomSecretHex, startEdge, waitUntil, type EdgeProcess } from './helpers/edge.js';

const REQ_DH_PARAMS = 0xd712e4be;
// The fake DC's resPQ sends pq = 0x17ed48941a08f981; a client that read it sends back these factors.
const EXPECTED_P = 0x494c553b;
const EXPECTED_Q = 0x53911073;
const DOMAIN = 'front.example.com';
const DC_ID = 2;
const STEP_MS = 10_000;

let dc: FakeDc;
let edge: EdgeProcess;
const alice = { name: 'alice', secretHex: randomSecretHex() };

before(async () => {
  dc = await startFakeDc({ mode: 'mtproto' });
  const apiPort = await freePort();
  edge = await startEdge(edgeConfigToml({ users: [alice], dcPort: dc.port, apiPort, tlsDomain: DOMAIN }), { apiPort });
});

after(async () => {
  await edge?.stop();
  await dc?.close();
});

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/** Body of a TL `bytes` of at most 253 bytes at `off`, and the offset after its padding. */
function tlShortBytes(buf: Buffer, off: number): { value: Buffer; next: number } {
  const len = buf[off];
  assert.ok(len !== undefined && len < 254, 'TL bytes too long or missing');
  const value = buf.subarray(off + 1, off + 1 + len);
  return { value, next: off + Math.ceil((1 + len) / 4) * 4 };
}

async function userOctets(): Promise<{ octets: number; current: number }> {
  const users = (await edge.api('/v1/users')).body.data as { username: string; total_octets: number; current_connections: number }[];
  const u = users.find((x) => x.username === alice.name);
  assert.ok(u, 'alice missing from /v1/users');
  return { octets: u.total_octets, current: u.current_connections };
}

const cases: { mode: 'classic' | 'dd' | 'ee'; secret: () => string; tag: string }[] = [
  { mode: 'classic', secret: () => alice.secretHex, tag: 'intermediate' },
  { mode: 'dd', secret: () => `dd${alice.secretHex}`, tag: 'padded' },
  { mode: 'ee', secret: () => `ee${alice.secretHex}${Buffer.from(DOMAIN).toString('hex')}`, tag: 'padded' },
];

for (const c of cases) {
  test(`mtcute's real handshake through mtedge (${c.mode} secret) reaches the fake DC decoded, and the resPQ gets back`, { timeout: 30_000 }, async () => {
    const connsBefore = dc.records().length;
    const octetsBefore = (await userOctets()).octets;
    const logs: string[] = [];
    const errors: Error[] = [];
    const loopback = { ipAddress: '127.0.0.1', port: 9 };
    const client = new BaseTelegramClient({
      apiId: 1,
      apiHash: '00000000000000000000000000000000',
      storage: new MemoryStorage(),
      transport: new MtProxyTcpTransport({ host: '127.0.0.1', port: edge.port, secret: c.secret() }),
      defaultDcs: { main: { id: DC_ID, ...loopback }, media: { id: DC_ID, ...loopback } },
      useIpv6: false,
      testMode: false,
      updates: false,
      disableUpdates: true,
      reconnectionStrategy: () => false,
      logLevel: 5,
    });
    client.log.mgr.handler = (_color, level, tag, fmt, args) => {
      if (logs.length < 500) logs.push(`${level} ${tag} ${fmt} ${args.map((a) => String(a).slice(0, 200)).join(' ')}`);
    };
    client.onError.add((e) => errors.push(e));
    const diag = (): string => `\nmtcute log (tail):\n${logs.slice(-25).join('\n')}\nmtedge output (tail):\n${edge.output().slice(-2000)}`;
    try {
      // connect() resolves once the pool is set up; the auth handshake then runs on its own.
      await withTimeout(client.connect(), STEP_MS, 'client.connect()');
      const connFrames = (): FakeDcFrame[] => {
        const rec = dc.records()[connsBefore];
        return rec === undefined ? [] : dc.frames().filter((f) => f.connId === rec.id);
      };
      await dc.waitFor(() => connFrames().length >= 2, STEP_MS).catch((err: Error) => {
        throw new Error(`${err.message}; frames seen: ${connFrames().length}${diag()}`);
      });

      assert.equal(dc.records().length, connsBefore + 1, 'one DC connection per client');
      const rec = dc.records()[connsBefore]!;
      assert.equal(rec.dcId, DC_ID, 'DC id the client asked the proxy for');
      assert.equal(rec.tag, c.tag, 'transport the proxy spoke to the DC');

      const [first, second] = connFrames();
      assert.ok(first && second);
      // Unencrypted message: auth_key_id:int64 = 0 | msg_id:int64 | length:int32 | body.
      assert.equal(first.payload.readBigUInt64LE(0), 0n, 'auth_key_id of req_pq_multi');
      assert.equal(first.payload.readUInt32LE(20), REQ_PQ_MULTI, 'first body constructor');
      assert.equal(first.answeredReqPq, true, 'fake DC answered with resPQ');
      const nonce = first.payload.subarray(24, 40);

      // req_DH_params#d712e4be nonce:int128 server_nonce:int128 p:bytes q:bytes fp:long data:bytes
      assert.equal(second.payload.readBigUInt64LE(0), 0n, 'auth_key_id of req_DH_params');
      assert.equal(second.payload.readUInt32LE(20), REQ_DH_PARAMS, 'client answered resPQ with req_DH_params');
      assert.ok(second.payload.subarray(24, 40).equals(nonce), 'req_DH_params carries the req_pq_multi nonce');
      const p = tlShortBytes(second.payload, 56);
      const q = tlShortBytes(second.payload, p.next);
      assert.equal(p.value.readUIntBE(0, p.value.length), EXPECTED_P, 'p factored from the resPQ pq');
      assert.equal(q.value.readUIntBE(0, q.value.length), EXPECTED_Q, 'q factored from the resPQ pq');

      // The echoed req_DH_params came back too and made the client give up at auth step 2.
      await waitUntil(() => errors.length > 0, STEP_MS, `mtcute to fail after resPQ${diag()}`);
      assert.match(String(errors[0]?.message), /server_DH_params/);
    } finally {
      await withTimeout(client.destroy(), STEP_MS, 'client.destroy()');
    }

    // Bytes both ways for this user: exactly what the fake DC received plus what it sent.
    const rec = dc.records()[connsBefore]!;
    await waitUntil(async () => !rec.open && (await userOctets()).current === 0, STEP_MS, 'connection to drain');
    assert.ok(rec.bytesIn > 0 && rec.bytesOut > 0);
    assert.equal((await userOctets()).octets - octetsBefore, rec.bytesIn + rec.bytesOut, 'total_octets delta');
  });
}

test('no connection was counted bad', async () => {
  const zero = (await edge.api('/v1/stats/zero/all')).body.data;
  assert.equal(zero.core.connections_bad_total, 0);
  assert.equal(zero.core.connections_total, cases.length);
  assert.equal(dc.badInits(), 0);
  assert.equal(dc.protocolErrors(), 0);
});
