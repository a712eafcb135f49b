#!/usr/bin/env node
// Starts fakes for manual runs and scripts, prints where they listen as one JSON line, and runs
// until SIGINT/SIGTERM (or stdin closes when --exit-on-stdin-close is given).
//   node packages/testkit/dist/cli.js fake-dc --port 0 --mode echo
//   node packages/testkit/dist/cli.js mask-host --port 0 --reply http
//   node packages/testkit/dist/cli.js both
import { parseArgs } from 'node:util';
import { startFakeDc, type FakeDc, type FakeDcMode } from './fake-dc.js';
import { startMaskHost, type MaskHost, type MaskHostReply } from './mask-host.js';

const USAGE = `usage: cli.js <fake-dc|mask-host|both> [--host 127.0.0.1] [--port 0] [--mask-port 0]
       [--mode echo|sink|mtproto|refuse] [--stall] [--reply http|echo|silent] [--exit-on-stdin-close]`;

const DC_MODES: readonly FakeDcMode[] = ['echo', 'sink', 'mtproto', 'refuse'];
const REPLIES: readonly MaskHostReply[] = ['http', 'echo', 'silent'];

function fail(msg: string): never {
  process.stderr.write(`${msg}\n${USAGE}\n`);
  process.exit(2);
}

function port(s: string | undefined): number {
  const n = Number(s ?? '0');
  if (!Number.isInteger(n) || n < 0 || n > 65535) fail(`bad port: ${String(s)}`);
  return n;
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string', default: '0' },
      'mask-port': { type: 'string', default: '0' },
      mode: { type: 'string', default: 'echo' },
      stall: { type: 'boolean', default: false },
      reply: { type: 'string', default: 'http' },
      'exit-on-stdin-close': { type: 'boolean', default: false },
    },
  });
  const what = positionals[0];
  if (what !== 'fake-dc' && what !== 'mask-host' && what !== 'both') fail(`unknown command: ${String(what)}`);
  const mode = values.mode as FakeDcMode;
  if (!DC_MODES.includes(mode)) fail(`bad --mode: ${values.mode}`);
  const reply = values.reply as MaskHostReply;
  if (!REPLIES.includes(reply)) fail(`bad --reply: ${values.reply}`);

  let dc: FakeDc | undefined;
  let mask: MaskHost | undefined;
  const out: Record<string, { host: string; port: number }> = {};
  if (what === 'fake-dc' || what === 'both') {
    dc = await startFakeDc({ host: values.host, port: port(values.port), mode, stall: values.stall });
    out.fakeDc = { host: dc.host, port: dc.port };
  }
  if (what === 'mask-host' || what === 'both') {
    const maskPort = what === 'both' ? port(values['mask-port']) : port(values.port);
    mask = await startMaskHost({ host: values.host, port: maskPort, reply });
    out.maskHost = { host: mask.host, port: mask.port };
  }
  process.stdout.write(`${JSON.stringify(out)}\n`);

  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    await Promise.all([dc?.close(), mask?.close()]);
    process.stdin.pause();
    const stats = {
      fakeDc: dc === undefined ? undefined : { connections: dc.connections(), badInits: dc.badInits(), bytesReceived: dc.bytesReceived(), bytesSent: dc.bytesSent() },
      maskHost: mask === undefined ? undefined : { connections: mask.connections() },
    };
    process.stderr.write(`${JSON.stringify(stats)}\n`);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
  if (values['exit-on-stdin-close']) {
    process.stdin.resume();
    process.stdin.once('end', () => void stop());
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
