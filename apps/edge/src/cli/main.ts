#!/usr/bin/env node
/**
 * mtedge CLI: run | check-config | links | version.
 */
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import nacl from 'tweetnacl';
import { ConfigError, loadConfigFile, renderDefaultConfig } from '@mtedge/config';
import { generateUserSecretHex } from '@mtedge/protocol';
import { createLogger } from '../shared/logger.js';
import { MTEDGE_VERSION, Supervisor } from '../supervisor/supervisor.js';
import { formatLinks, shownUsers } from './links.js';

const HELP: Record<string, string> = {
  main: `mtedge ${MTEDGE_VERSION} — MTProxy edge node

Usage: mtedge <command> [options]

Commands:
  run [--config PATH]        start the proxy (writes a default config.toml if PATH does not exist)
  check-config PATH          validate a config file; exit 0, or print the error with key/line and exit 2
  links [USER] [--config PATH]  print tg:// links for one user or every shown user
  version                    print the version

Run 'mtedge <command> --help' for details. The config path defaults to $MTEDGE_CONFIG or ./config.toml.`,
  run: `Usage: mtedge run [--config PATH]

Starts the supervisor, the data-plane workers and the Control API. When PATH does not exist, a
default config.toml is written there with one user (a fresh random secret), secure + fake-TLS
modes, client port 8443 on all interfaces and the API on 127.0.0.1:9091, and its links are printed.
Signals: SIGHUP reloads config.toml; SIGTERM/SIGINT stop gracefully.`,
  'check-config': `Usage: mtedge check-config PATH

Parses and validates PATH exactly as 'run' would. Prints warnings (unknown or unsupported keys).
Exit status: 0 valid, 2 invalid (the message names the key path, or file:line:column for syntax).`,
  links: `Usage: mtedge links [USER] [--config PATH]

Prints the tg:// links of USER, or of every user that [general.links] show selects.`,
  version: 'Usage: mtedge version',
};

function defaultConfigPath(explicit: string | undefined): string {
  return resolve(explicit ?? process.env['MTEDGE_CONFIG'] ?? 'config.toml');
}

async function writeDefaultConfig(path: string): Promise<void> {
  const text = renderDefaultConfig({
    username: 'user',
    secretHex: generateUserSecretHex((n) => nacl.randomBytes(n)),
    port: 8443,
    apiListen: '127.0.0.1:9091',
    tlsDomain: 'www.cloudflare.com',
  });
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, text, { flag: 'wx' });
}

async function loadApi(): Promise<{ engine: string; start: (cp: import('@mtedge/api').ControlPlane, host: string, port: number) => Promise<{ port: number; close(): void }> }> {
  let mod: typeof import('@mtedge/api');
  let engine: string;
  try {
    mod = await import('@mtedge/api');
    engine = mod.uwsEngine();
  } catch (err) {
    throw new Error(`the Control API engine (uWebSockets.js native binary) did not load: ${(err as Error).message}`);
  }
  return {
    engine,
    start: (cp, host, port) => mod.startApiServer({ controlPlane: cp, host, port }),
  };
}

async function cmdRun(configArg: string | undefined): Promise<void> {
  const path = defaultConfigPath(configArg);
  let generated = false;
  if (!existsSync(path)) {
    await writeDefaultConfig(path);
    generated = true;
  }
  const first = await loadConfigFile(path);
  const logger = createLogger(first.config.general.log_level);
  if (generated) logger.info(`wrote a default config to ${path} (one user with a fresh secret)`);
  const api = await loadApi();
  const sup = new Supervisor({ configPath: path, logger, engine: api.engine, startApi: api.start });
  let started: Awaited<ReturnType<Supervisor['start']>>;
  try {
    started = await sup.start();
  } catch (err) {
    await sup.stop().catch(() => undefined);
    throw err;
  }
  const cfg = sup.current().config;
  logger.info(`mtedge ${MTEDGE_VERSION} serving clients on port ${started.listenPorts.join(', ')}` + (started.apiPort !== undefined ? `; Control API on ${cfg.server.api.listen.replace(/:\d+$/, '')}:${started.apiPort}` : ''));
  // Machine-readable line for scripts and tests.
  process.stdout.write(`MTEDGE_READY ${JSON.stringify({ listen_ports: started.listenPorts, api_port: started.apiPort ?? null, pid: process.pid })}\n`);
  try {
    const links = formatLinks(cfg, shownUsers(cfg), started.listenPorts[0]);
    if (links) process.stdout.write(links + '\n');
  } catch (err) {
    logger.warn(`cannot build tg:// links: ${(err as Error).message}`);
  }
  process.on('SIGHUP', () => void sup.reloadQuietly('SIGHUP'));
  let stopping = false;
  const stop = (sig: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info(`${sig}: shutting down`);
    void sup.stop().then(() => process.exit(0));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // Test hook: crash a worker on demand (never set in production).
  if (process.env['MTEDGE_TEST_HOOKS'] === '1') {
    process.on('SIGUSR2', () => void sup.crashWorker(0));
  }
}

async function cmdCheck(path: string | undefined): Promise<number> {
  if (!path) {
    process.stderr.write(HELP['check-config'] + '\n');
    return 2;
  }
  try {
    const snap = await loadConfigFile(resolve(path));
    for (const w of snap.warnings) process.stderr.write(`warning: ${w.key}: ${w.message}\n`);
    process.stdout.write(`${path}: OK (revision ${snap.revision}, ${Object.keys(snap.config.access.users).length} users)\n`);
    return 0;
  } catch (err) {
    process.stderr.write(`${path}: ${(err as Error).message}\n`);
    return 2;
  }
}

async function cmdLinks(user: string | undefined, configArg: string | undefined): Promise<number> {
  const snap = await loadConfigFile(defaultConfigPath(configArg));
  const users = user ? [user] : shownUsers(snap.config);
  if (user && snap.config.access.users[user] === undefined) {
    process.stderr.write(`no user '${user}' in ${snap.path}\n`);
    return 2;
  }
  process.stdout.write(formatLinks(snap.config, users) + '\n');
  return 0;
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: rest,
    options: { config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' } },
    allowPositionals: true,
  });
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    process.stdout.write(HELP['main'] + '\n');
    return cmd ? 0 : 2;
  }
  if (values.help) {
    process.stdout.write((HELP[cmd] ?? HELP['main']) + '\n');
    return 0;
  }
  switch (cmd) {
    case 'run':
      await cmdRun(values.config);
      return -1;
    case 'check-config':
      return cmdCheck(positionals[0] ?? values.config);
    case 'links':
      return cmdLinks(positionals[0], values.config);
    case 'version':
    case '--version':
      process.stdout.write(`mtedge ${MTEDGE_VERSION}\n`);
      return 0;
    default:
      process.stderr.write(`unknown command '${cmd}'\n\n${HELP['main']}\n`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (err: unknown) => {
    const e = err as Error & { code?: string };
    const prefix = err instanceof ConfigError ? 'config error' : 'fatal';
    process.stderr.write(`mtedge: ${prefix}: ${e.message}${e.code ? ` [${e.code}]` : ''}\n`);
    process.exitCode = 1;
    setTimeout(() => process.exit(1), 100).unref();
  },
);
