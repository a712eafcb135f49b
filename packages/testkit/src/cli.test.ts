import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { connectClient } from './client.js';
import { MASK_HOST_HTTP_RESPONSE } from './mask-host.js';
import { httpGetProbe, sendRawProbe } from './probes.js';

const cli = fileURLToPath(new URL('./cli.js', import.meta.url));

test('cli `both` prints ports as JSON, serves them, and exits 0 when stdin closes', async () => {
  const child = spawn(process.execPath, [cli, 'both', '--mode', 'echo', '--exit-on-stdin-close'], { stdio: ['pipe', 'pipe', 'pipe'] });
  const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
  try {
    let out = '';
    child.stdout.setEncoding('utf8');
    while (!out.includes('\n')) {
      const [chunk] = (await once(child.stdout, 'data')) as [string];
      out += chunk;
    }
    const ports = JSON.parse(out.split('\n')[0] as string) as { fakeDc: { host: string; port: number }; maskHost: { host: string; port: number } };
    assert.ok(ports.fakeDc.port > 0 && ports.maskHost.port > 0);
    const c = await connectClient({ host: ports.fakeDc.host, port: ports.fakeDc.port, mode: 'classic' });
    c.send(Buffer.from('ping'));
    assert.equal((await c.waitForBytes(4, 5000)).toString(), 'ping');
    c.destroy();
    await c.closed;
    const r = await sendRawProbe({ host: ports.maskHost.host, port: ports.maskHost.port, bytes: httpGetProbe(), readMs: 5000 });
    assert.deepEqual(r.received, MASK_HOST_HTTP_RESPONSE);
    child.stdin.end();
    const [code] = (await once(child, 'exit')) as [number | null];
    assert.equal(code, 0);
  } finally {
    clearTimeout(kill);
    if (child.exitCode === null) child.kill('SIGKILL');
  }
});

test('cli rejects an unknown command with exit code 2', async () => {
  const child = spawn(process.execPath, [cli, 'nope'], { stdio: ['ignore', 'ignore', 'pipe'] });
  const [code] = (await once(child, 'exit')) as [number | null];
  assert.equal(code, 2);
});
