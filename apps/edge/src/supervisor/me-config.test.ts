import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { parseConfigText } from '@mtedge/config';
import { parseProxyMultiConf } from '@mtedge/protocol';
import { MeConfigError, MeConfigSource, buildMeSettings, familyFallbacks, meIpv6Enabled, mergeMeTables } from './me-config.js';

describe('ME config source', () => {
  let server: Server;
  let base = '';
  let dir = '';
  const state = { secret: randomBytes(128), conf: 'default 2;\nproxy_for 2 127.0.0.1:8888;\nproxy_for 1 127.0.0.1:8889;\n', fail: false };

  before(async () => {
    server = createServer((req, res) => {
      if (state.fail) return void res.writeHead(503, { 'content-length': 0 }).end();
      const body = req.url === '/s' ? state.secret : Buffer.from(state.conf);
      res.writeHead(200, { 'content-length': body.length }).end(body);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    dir = await mkdtemp(join(os.tmpdir(), 'mtedge-me-'));
  });
  after(async () => {
    server.close();
    await rm(dir, { recursive: true, force: true });
  });

  const cfg = (extra = ''): ReturnType<typeof parseConfigText>['config'] =>
    parseConfigText(
      `[general]\nuse_middle_proxy = true\nproxy_secret_url = "${base}/s"\nproxy_config_v4_url = "${base}/c"\nproxy_secret_path = "ps"\nproxy_config_v4_cache_path = "cache/pc.txt"\nmiddle_proxy_pool_size = 5\n${extra}\n[access.users]\na = "0123456789abcdef0123456789abcdef"\n`,
      join(dir, 'config.toml'),
    ).config;

  it('downloads, writes the caches, and builds worker settings', async () => {
    const events: string[] = [];
    const src = new MeConfigSource(cfg(), dir, (t) => events.push(t));
    const m = await src.refresh();
    assert.equal(m.secretFrom, 'url');
    assert.deepEqual(m.config.dcs['2'], [{ host: '127.0.0.1', port: 8888 }]);
    assert.deepEqual(await readFile(join(dir, 'ps')), state.secret);
    assert.equal(await readFile(join(dir, 'cache/pc.txt'), 'utf8'), state.conf);
    assert.ok(events.includes('me_config_loaded'));
    const s = buildMeSettings(cfg(), m, 2, 443);
    assert.equal(s.poolSize, 3, 'ceil(5 / 2 workers)');
    assert.equal(s.secretHex, state.secret.toString('hex'));
    assert.equal(s.fallbackToDirect, true);
    assert.deepEqual(s.warmup, { delayMinMs: 1000, delayMaxMs: 2000, extraPasses: 3, passBackoffBaseMs: 500 }, "telemt's defaults");
    const set = buildMeSettings(cfg('me_hardswap_warmup_delay_min_ms = 300\nme_hardswap_warmup_delay_max_ms = 100\nme_hardswap_warmup_extra_passes = 0\nme_hardswap_warmup_pass_backoff_base_ms = 7'), m, 2, 443);
    assert.deepEqual(set.warmup, { delayMinMs: 100, delayMaxMs: 300, extraPasses: 0, passBackoffBaseMs: 7 }, 'min above max: swapped');
  });

  it('falls back to the caches when the URLs fail, and keeps the last good table', async () => {
    const events: string[] = [];
    state.fail = true;
    const src = new MeConfigSource(cfg(), dir, (t, c) => events.push(`${t} ${c}`));
    const m = await src.refresh();
    assert.equal(m.secretFrom, 'cache');
    assert.equal(m.configFrom, 'cache');
    state.fail = false;
    state.conf = 'proxy_for 2 127.0.0.1:8888;\n';
    const again = await src.refresh();
    assert.equal(again, m, 'DC 1 lost every endpoint: refused');
    assert.ok(events.some((e) => e.startsWith('me_config_rejected')));
    state.conf = 'default 2;\nproxy_for 2 127.0.0.1:9999;\nproxy_for 1 127.0.0.1:8889;\n';
    const next = await src.refresh();
    assert.notEqual(next.generation, m.generation);
    assert.deepEqual(next.config.dcs['2'], [{ host: '127.0.0.1', port: 9999 }]);
  });

  it('garbage or empty proxy-multi.conf and a proxy-secret of the wrong size are refused: the last good inputs stay, an event says why', async () => {
    const events: string[] = [];
    const src = new MeConfigSource(cfg(), dir, (t, c) => events.push(`${t} ${c}`));
    const good = await src.refresh();
    const cacheBefore = await readFile(join(dir, 'cache/pc.txt'), 'utf8');
    const goodConf = state.conf;
    const goodSecret = state.secret;
    try {
      for (const bad of ['', '<html>502 Bad Gateway</html>\n', 'proxy_for two 127.0.0.1:x;\n']) {
        state.conf = bad;
        const m = await src.refresh().catch((e: Error) => e);
        assert.ok(m === good || m instanceof MeConfigError, `body ${JSON.stringify(bad)} was applied`);
        assert.equal(src.current?.generation ?? good.generation, good.generation);
      }
      assert.equal(await readFile(join(dir, 'cache/pc.txt'), 'utf8'), cacheBefore, 'a refused body never reaches the cache');
      state.conf = goodConf;
      state.secret = randomBytes(7);
      const m = await src.refresh().catch((e: Error) => e);
      assert.ok(m === good || m instanceof MeConfigError, 'a 7-byte proxy-secret was applied');
      assert.deepEqual(await readFile(join(dir, 'ps')), goodSecret, 'the cached secret is kept');
      const refused = events.filter((e) => e.startsWith('me_download_refused'));
      assert.equal(refused.length, 4, events.join('\n'));
      assert.ok(refused.slice(0, 3).every((e) => e.startsWith('me_download_refused proxy-multi.conf: http://')));
      assert.match(refused[3]!, /^me_download_refused proxy-secret: .*serving the cache/);
    } finally {
      state.conf = goodConf;
      state.secret = goodSecret;
    }
  });

  it('refuses to start without any source', async () => {
    state.fail = true;
    const empty = await mkdtemp(join(os.tmpdir(), 'mtedge-me-empty-'));
    try {
      await mkdir(join(empty, 'cache'));
      await writeFile(join(empty, 'ps'), Buffer.alloc(8));
      const src = new MeConfigSource(cfg(), empty, () => undefined);
      await assert.rejects(src.refresh(), (e: MeConfigError) => e.code === 'MTE_ERR_ME_SECRET_UNAVAILABLE' || e.code === 'MTE_ERR_ME_CONFIG_UNAVAILABLE');
    } finally {
      state.fail = false;
      await rm(empty, { recursive: true, force: true });
    }
  });
});

describe('ME config source, IPv6 table (getProxyConfigV6)', () => {
  let server: Server;
  let base = '';
  let root = '';
  const V4 = 'default 2;\nproxy_for 1 127.0.0.1:8889;\nproxy_for 2 127.0.0.1:8888;\n';
  const V6 = 'default 2;\nproxy_for 2 [2001:67c:4e8:f002::d]:80;\nproxy_for 3 [2001:67c:4e8:f003::d]:80;\n';
  const state = { secret: randomBytes(128), v4: V4, v6: V6, fail6: false, v6Hits: 0 };

  before(async () => {
    server = createServer((req, res) => {
      if (req.url === '/c6') state.v6Hits++;
      if (req.url === '/c6' && state.fail6) return void res.writeHead(503, { 'content-length': 0 }).end();
      const body = req.url === '/s' ? state.secret : Buffer.from(req.url === '/c6' ? state.v6 : state.v4);
      res.writeHead(200, { 'content-length': body.length }).end(body);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    root = await mkdtemp(join(os.tmpdir(), 'mtedge-me6-'));
  });
  after(async () => {
    server.close();
    await rm(root, { recursive: true, force: true });
  });

  /** A fresh base dir per test, so no test sees another's caches. */
  let n = 0;
  const fresh = async (): Promise<string> => {
    const d = join(root, String(++n));
    await mkdir(d);
    state.v4 = V4;
    state.v6 = V6;
    state.fail6 = false;
    state.v6Hits = 0;
    return d;
  };
  const cfg = (dir: string, network: string): ReturnType<typeof parseConfigText>['config'] =>
    parseConfigText(
      `[general]\nuse_middle_proxy = true\nproxy_secret_url = "${base}/s"\nproxy_config_v4_url = "${base}/c"\nproxy_config_v6_url = "${base}/c6"\n` +
        `proxy_secret_path = "ps"\nproxy_config_v4_cache_path = "cache/pc.txt"\nproxy_config_v6_cache_path = "cache/pc6.txt"\n` +
        `[network]\n${network}\n[access.users]\na = "0123456789abcdef0123456789abcdef"\n`,
      join(dir, 'config.toml'),
    ).config;
  const v6a = { host: '2001:67c:4e8:f002::d', port: 80 };
  const v6b = { host: '2001:67c:4e8:f003::d', port: 80 };

  it('merges per prefer: a DC the preferred table lists gets only its endpoints, the rest fill in', () => {
    const v4 = parseProxyMultiConf(V4);
    const v6 = parseProxyMultiConf('proxy_for 2 [2001:67c:4e8:f002::d]:80;\nproxy_for 3 [2001:67c:4e8:f003::d]:80;\n');
    const six = mergeMeTables(v4, v6, 6);
    assert.deepEqual(six.dcs, { '1': [{ host: '127.0.0.1', port: 8889 }], '2': [v6a], '3': [v6b] });
    assert.equal(six.defaultDc, 2, 'v6 table has no default: the v4 one stands');
    const four = mergeMeTables(v4, v6, 4);
    assert.deepEqual(four.dcs, { '1': [{ host: '127.0.0.1', port: 8889 }], '2': [{ host: '127.0.0.1', port: 8888 }], '3': [v6b] });
    assert.equal(mergeMeTables(v4, undefined, 6), v4);
  });

  it('keeps the other family of each DC both tables list as its fallback, and nothing else', () => {
    const v4 = parseProxyMultiConf(V4);
    const v6 = parseProxyMultiConf('proxy_for 2 [2001:67c:4e8:f002::d]:80;\nproxy_for 3 [2001:67c:4e8:f003::d]:80;\n');
    assert.deepEqual(familyFallbacks(v4, v6, 6), { '2': [{ host: '127.0.0.1', port: 8888 }] }, 'DC 1 has no v6, DC 3 no v4: no fallback');
    assert.deepEqual(familyFallbacks(v4, v6, 4), { '2': [v6a] });
    assert.deepEqual(familyFallbacks(v4, undefined, 6), {});
  });

  it('ipv6 auto (undefined) follows a global address on the interfaces; explicit values win', () => {
    const ifs = (...addrs: string[]): (() => ReturnType<typeof os.networkInterfaces>) => () => ({
      eth0: addrs.map((address) => ({ address, family: 'IPv6' as const, internal: address === '::1', netmask: 'ffff:ffff:ffff:ffff::', mac: '00:00:00:00:00:00', cidr: null, scopeid: 0 })),
    });
    const net = (ipv6: boolean | undefined): Parameters<typeof meIpv6Enabled>[0] => ({ ipv4: true, ipv6, prefer: 4, stun_use: false, stun_servers: [] });
    assert.equal(meIpv6Enabled(net(undefined), ifs('::1', 'fe80::1', 'fd00::5')), false, 'loopback, link-local and ULA do not reach Telegram');
    assert.equal(meIpv6Enabled(net(undefined), ifs('fe80::1', '2a01:4f8::2')), true);
    assert.equal(meIpv6Enabled(net(false), ifs('2a01:4f8::2')), false);
    assert.equal(meIpv6Enabled(net(true), ifs()), true);
  });

  it('with ipv6 = true, prefer = 6 loads the v6 table, caches it, and the workers get the merge', async () => {
    const dir = await fresh();
    const events: string[] = [];
    const c = cfg(dir, 'ipv6 = true\nprefer = 6');
    const m = await new MeConfigSource(c, dir, (t, ctx) => events.push(`${t} ${ctx}`)).refresh();
    assert.equal(m.v6?.from, 'url');
    assert.equal(m.prefer, 6);
    assert.deepEqual(m.config.dcs['2'], [v6a]);
    assert.deepEqual(m.config.dcs['3'], [v6b]);
    assert.deepEqual(m.config.dcs['1'], [{ host: '127.0.0.1', port: 8889 }], 'DC 1 only in the v4 table');
    assert.deepEqual(m.v4Config?.dcs['2'], [{ host: '127.0.0.1', port: 8888 }]);
    assert.equal(await readFile(join(dir, 'cache/pc6.txt'), 'utf8'), V6);
    assert.ok(events.some((e) => e.startsWith('me_config_loaded') && e.includes('v6=url prefer=6')));
    assert.deepEqual(buildMeSettings(c, m, 1, 443).endpoints['2'], [v6a]);
  });

  it('with prefer = 4 the v4 endpoints stay and v6 only fills DCs v4 lacks; ipv6 = false never asks for v6', async () => {
    const dir = await fresh();
    const m = await new MeConfigSource(cfg(dir, 'ipv6 = true\nprefer = 4'), dir, () => undefined).refresh();
    assert.deepEqual(m.config.dcs['2'], [{ host: '127.0.0.1', port: 8888 }]);
    assert.deepEqual(m.config.dcs['3'], [v6b]);
    const off = await new MeConfigSource(cfg(await fresh(), 'ipv6 = false\nprefer = 6'), dir, () => undefined).refresh();
    assert.equal(off.v6, undefined);
    assert.equal(state.v6Hits, 0);
    assert.deepEqual(Object.keys(off.config.dcs).sort(), ['1', '2']);
  });

  it('the v6 URL failing falls back to the v6 cache', async () => {
    const dir = await fresh();
    await mkdir(join(dir, 'cache'));
    await writeFile(join(dir, 'cache/pc6.txt'), 'proxy_for 2 [2001:db8::7]:443;\n');
    state.fail6 = true;
    const m = await new MeConfigSource(cfg(dir, 'ipv6 = true\nprefer = 6'), dir, () => undefined).refresh();
    assert.equal(m.v6?.from, 'cache');
    assert.equal(m.v6?.source, join(dir, 'cache/pc6.txt'));
    assert.deepEqual(m.config.dcs['2'], [{ host: '2001:db8::7', port: 443 }]);
  });

  it('the v6 table failing entirely leaves v4 serving, with an event and a warning', async () => {
    const dir = await fresh();
    state.fail6 = true;
    const events: string[] = [];
    const warns: string[] = [];
    const src = new MeConfigSource(cfg(dir, 'ipv6 = true\nprefer = 6'), dir, (t, ctx) => events.push(`${t} ${ctx}`), (w) => warns.push(w));
    const m = await src.refresh();
    assert.equal(m.v6, undefined);
    assert.deepEqual(m.config.dcs['2'], [{ host: '127.0.0.1', port: 8888 }]);
    const ev = events.find((e) => e.startsWith('me_config_v6_unavailable'));
    assert.ok(ev?.includes('HTTP 503') && ev.includes('IPv4 endpoints only'), ev);
    assert.equal(warns.length, 1);
    assert.match(src.v6Error ?? '', /proxy-config-v6 unavailable/);
    // v6 comes back: the next refresh applies it; failing again later keeps that last good table.
    state.fail6 = false;
    const withV6 = await src.refresh();
    assert.deepEqual(withV6.config.dcs['2'], [v6a]);
    assert.equal(src.v6Error, undefined);
    await rm(join(dir, 'cache/pc6.txt'));
    state.fail6 = true;
    const kept = await src.refresh();
    assert.equal(kept, withV6);
    assert.ok(events.some((e) => e.startsWith('me_config_v6_unavailable') && e.includes('keeping the IPv6 table')));
  });

  it('a garbage v6 body is refused and does not overwrite the v6 cache', async () => {
    const dir = await fresh();
    await mkdir(join(dir, 'cache'));
    await writeFile(join(dir, 'cache/pc6.txt'), V6);
    state.v6 = '<html>502 Bad Gateway</html>\n';
    const events: string[] = [];
    const m = await new MeConfigSource(cfg(dir, 'ipv6 = true\nprefer = 6'), dir, (t) => events.push(t)).refresh();
    assert.equal(m.v6?.from, 'cache');
    assert.equal(await readFile(join(dir, 'cache/pc6.txt'), 'utf8'), V6);
    await rm(join(dir, 'cache/pc6.txt'));
    const none = await new MeConfigSource(cfg(dir, 'ipv6 = true\nprefer = 6'), dir, (t) => events.push(t)).refresh();
    assert.equal(none.v6, undefined);
    assert.ok(events.includes('me_config_v6_unavailable'));
  });

  it('a v6 table that drops a DC it covered is refused; the last good one stays', async () => {
    const dir = await fresh();
    const events: string[] = [];
    const src = new MeConfigSource(cfg(dir, 'ipv6 = true\nprefer = 6'), dir, (t) => events.push(t));
    const first = await src.refresh();
    state.v6 = 'proxy_for 2 [2001:67c:4e8:f002::d]:80;\n';
    assert.equal(await src.refresh(), first);
    assert.ok(events.includes('me_config_v6_rejected'));
  });
});
