import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { parseConfigText } from '@mtedge/config';
import { MeConfigError, MeConfigSource, buildMeSettings } from './me-config.js';

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
