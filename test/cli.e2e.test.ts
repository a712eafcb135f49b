/**
 * The `mtedge` command as an operator types it: check-config, links, version, --help, and the
 * first start on a machine with no config.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import { MTEDGE_BIN, randomSecretHex } from './helpers/edge.js';

function mtedge(args: string[], cwd?: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MTEDGE_BIN, ...args], { cwd, encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

async function tmp(): Promise<string> {
  return mkdtemp(join(os.tmpdir(), 'mtedge-cli-'));
}

test('check-config: exit 0 with the revision; exit 2 naming the key path or file:line:column', async () => {
  const dir = await tmp();
  try {
    const ok = join(dir, 'ok.toml');
    await writeFile(ok, `[server]\nport = 443\n\n[access.users]\nalice = "${randomSecretHex()}"\n`);
    const r1 = mtedge(['check-config', ok]);
    assert.equal(r1.status, 0, r1.stderr);
    assert.match(r1.stdout, /OK \(revision [0-9a-f]{64}, 1 users\)/);

    const range = join(dir, 'range.toml');
    await writeFile(range, `[server]\nport = 70000\n`);
    const r2 = mtedge(['check-config', range]);
    assert.equal(r2.status, 2);
    assert.match(r2.stderr, /server\.port/);
    assert.match(r2.stderr, /range\.toml:2:/);

    const syntax = join(dir, 'syntax.toml');
    await writeFile(syntax, `[server]\nport = TELEMT_PORT_PLACEHOLDER\n`);
    const r3 = mtedge(['check-config', syntax]);
    assert.equal(r3.status, 2);
    assert.match(r3.stderr, /syntax\.toml:2:\d+/);

    const unknown = join(dir, 'unknown.toml');
    await writeFile(unknown, `[server]\nport = 443\nstats_listen = "x"\n`);
    const r4 = mtedge(['check-config', unknown]);
    assert.equal(r4.status, 0, 'unknown keys are warnings');
    assert.match(r4.stderr, /warning: server\.stats_listen/);

    const r5 = mtedge(['check-config', join(dir, 'missing.toml')]);
    assert.equal(r5.status, 2);
    assert.match(r5.stderr, /ENOENT|no such file/i);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('links, version and --help', async () => {
  const dir = await tmp();
  try {
    const cfg = join(dir, 'config.toml');
    const secret = randomSecretHex();
    await writeFile(cfg, `[general.modes]\nclassic = true\nsecure = true\ntls = true\n\n[general.links]\npublic_host = "proxy.example.net"\n\n[server]\nport = 443\n\n[censorship]\ntls_domain = "front.example.com"\n\n[access.users]\nalice = "${secret}"\n`);
    const r = mtedge(['links', 'alice', '--config', cfg]);
    assert.equal(r.status, 0, r.stderr);
    assert.ok(r.stdout.includes(`tg://proxy?server=proxy.example.net&port=443&secret=dd${secret}`));
    assert.ok(r.stdout.includes(`secret=${secret}`));
    assert.ok(r.stdout.includes(`secret=ee${secret}${Buffer.from('front.example.com').toString('hex')}`));
    assert.equal(mtedge(['links', 'bob', '--config', cfg]).status, 2);
    assert.match(mtedge(['version']).stdout, /^mtedge \d+\.\d+\.\d+/);
    for (const cmd of ['run', 'check-config', 'links', 'version']) {
      const h = mtedge([cmd, '--help']);
      assert.equal(h.status, 0);
      assert.match(h.stdout, /Usage: mtedge/);
    }
    assert.equal(mtedge(['frobnicate']).status, 2);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

test('first start with no config: writes one user, prints working links, serves /v1/health on 127.0.0.1:9091', async (t) => {
  if (!(await portFree(9091)) || !(await portFree(8443))) {
    t.skip('ports 8443/9091 are taken on this machine');
    return;
  }
  const dir = await tmp();
  const proc = spawn(process.execPath, [MTEDGE_BIN, 'run'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.on('data', (d) => (out += d));
  proc.stderr.on('data', (d) => (out += d));
  try {
    const deadline = Date.now() + 20_000;
    while (!/secure\s+tg:\/\//.test(out) && Date.now() < deadline && proc.exitCode === null) await new Promise((r) => setTimeout(r, 50));
    assert.match(out, /MTEDGE_READY/, out);
    const cfg = await readFile(join(dir, 'config.toml'), 'utf8');
    const m = /^user = "([0-9a-f]{32})"$/m.exec(cfg);
    assert.ok(m, 'one user with a 32-hex secret');
    assert.match(cfg, /use_middle_proxy = false/);
    const tls = /tls\s+(tg:\/\/proxy\?\S+)/.exec(out)?.[1];
    const secure = /secure\s+(tg:\/\/proxy\?\S+)/.exec(out)?.[1];
    assert.ok(tls && secure, out);
    for (const link of [tls, secure]) {
      assert.match(link, /^tg:\/\/proxy\?[a-zA-Z0-9=%&_.-]+$/);
      assert.ok(!link.includes('server=0.0.0.0'));
      assert.ok(link.includes('port=8443'));
      assert.ok(link.includes(m[1]!));
    }
    const health = (await (await fetch("http://127.0.0.1:9091/v1/health")).json()) as { ok: boolean; data: { status: string } };
    assert.equal(health.ok, true);
    assert.equal(health.data.status, 'ok');
  } finally {
    proc.kill('SIGTERM');
    await new Promise((r) => proc.once('exit', r));
    assert.ok(existsSync(join(dir, 'config.toml')));
    await rm(dir, { recursive: true, force: true });
  }
});
