/**
 * Starts the built `mtedge` binary as a child process with a temp config, the way an operator
 * would, and gives tests its ports, its API and its output.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import { join } from 'node:path';

// Compiled to test/dist/helpers/: the repo root is three levels up.
const ROOT = new URL('../../../', import.meta.url).pathname;
export const MTEDGE_BIN = join(ROOT, 'apps/edge/dist/cli/main.js');

export interface TestUser {
  readonly name: string;
  readonly secretHex: string;
}

export interface EdgeConfigOptions {
  readonly users: readonly TestUser[];
  readonly dcPort: number;
  /** Per-DC ports that replace dcPort for those DCs (a dead DC, a refusing DC). */
  readonly dcPorts?: Readonly<Record<number, number>>;
  readonly maskPort?: number;
  readonly apiPort: number;
  /** Client port; 0 = ephemeral (links then carry the bound port). */
  readonly port?: number;
  readonly workers?: number;
  readonly modes?: { classic?: boolean; secure?: boolean; tls?: boolean };
  readonly tlsDomain?: string;
  /** Extra TOML appended verbatim (more tables). */
  readonly extraToml?: string;
  /** Extra keys inside [access] (before any sub-table). */
  readonly accessToml?: string;
  readonly serverToml?: string;
  readonly censorshipToml?: string;
  readonly generalToml?: string;
}

/** A config where every DC and the mask host are fakes on loopback, and nothing reaches out. */
export function edgeConfigToml(o: EdgeConfigOptions): string {
  const m = { classic: true, secure: true, tls: true, ...o.modes };
  const dcs = [1, 2, 3, 4, 5].map((d) => `"${d}" = "127.0.0.1:${o.dcPorts?.[d] ?? o.dcPort}"`).join('\n');
  return `# mtedge e2e test config
[general]
use_middle_proxy = false
log_level = "normal"
workers = ${o.workers ?? 2}
${o.generalToml ?? ''}

[general.modes]
classic = ${m.classic}
secure = ${m.secure}
tls = ${m.tls}

[general.links]
public_host = "127.0.0.1"

[network]
stun_use = false

[server]
port = ${o.port ?? 0}
listen_addr_ipv4 = "127.0.0.1"
${o.serverToml ?? ''}

[server.api]
enabled = true
listen = "127.0.0.1:${o.apiPort}"
whitelist = ["127.0.0.0/8", "::1/128"]
runtime_edge_enabled = true

[censorship]
tls_domain = "${o.tlsDomain ?? 'front.example.com'}"
mask = ${o.maskPort !== undefined}
mask_host = "127.0.0.1"
mask_port = ${o.maskPort ?? 9}
${o.censorshipToml ?? ''}

[access]
replay_window_secs = 120
${o.accessToml ?? ''}

[access.users]
${o.users.map((u) => `${u.name} = "${u.secretHex}"`).join('\n')}

[dc_overrides]
${dcs}

${o.extraToml ?? ''}
`;
}

// Below Linux's ephemeral range (32768-60999): the kernel never hands these out for listen(0) or
// connect(), so the edge's own port-0 listener or a test client cannot take a port between the
// moment it is picked here and the moment the edge binds it.
const FREE_PORT_MIN = 20000;
const FREE_PORT_SPAN = 12000;

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** Ports this process handed out: two picks before either is bound must still differ. */
const handedOut = new Set<number>();

export async function freePort(): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const port = FREE_PORT_MIN + Math.floor(Math.random() * FREE_PORT_SPAN);
    if (handedOut.has(port) || !(await bindable(port))) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error(`no bindable port in ${FREE_PORT_MIN}-${FREE_PORT_MIN + FREE_PORT_SPAN - 1} after 200 tries`);
}

/** A loopback port nothing listens on (discard, never served here): connections to it are refused. */
export const DEAD_PORT = 9;

export interface ApiResponse<T = unknown> {
  readonly status: number;
  readonly body: T;
  readonly headers: Headers;
}

export interface EdgeProcess {
  readonly proc: ChildProcess;
  readonly dir: string;
  readonly configPath: string;
  readonly port: number;
  /** Every listener's bound port, in config order. */
  readonly ports: readonly number[];
  readonly apiPort: number;
  output(): string;
  waitForOutput(re: RegExp, timeoutMs?: number): Promise<string>;
  api<T = any>(path: string, init?: { method?: string; body?: unknown; headers?: Record<string, string> }): Promise<ApiResponse<T>>;
  stop(): Promise<number | null>;
}

export async function startEdge(configToml: string | ((dir: string) => string), o: { env?: NodeJS.ProcessEnv; apiPort: number; timeoutMs?: number }): Promise<EdgeProcess> {
  const dir = await mkdtemp(join(os.tmpdir(), 'mtedge-e2e-'));
  const configPath = join(dir, 'config.toml');
  await writeFile(configPath, typeof configToml === 'function' ? configToml(dir) : configToml);
  const proc = spawn(process.execPath, [MTEDGE_BIN, 'run', '--config', configPath], {
    cwd: dir,
    env: { ...process.env, MTEDGE_TEST_HOOKS: '1', ...o.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const listeners: (() => void)[] = [];
  const onChunk = (d: Buffer): void => {
    out += d.toString();
    if (out.length > 4_000_000) out = out.slice(-2_000_000);
    for (const l of listeners.splice(0)) l();
  };
  proc.stdout!.on('data', onChunk);
  proc.stderr!.on('data', onChunk);
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  proc.once('exit', () => {
    for (const l of listeners.splice(0)) l();
  });

  const waitForOutput = (re: RegExp, timeoutMs = 15_000): Promise<string> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${re} in mtedge output:\n${out.slice(-3000)}`)), timeoutMs);
      const check = (): void => {
        const m = re.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(m[0]);
        } else if (proc.exitCode !== null) {
          clearTimeout(timer);
          reject(new Error(`mtedge exited (${proc.exitCode}) before ${re}:\n${out.slice(-3000)}`));
        } else listeners.push(check);
      };
      check();
    });

  let ready: string;
  try {
    ready = await waitForOutput(/MTEDGE_READY (\{.*\})/, o.timeoutMs ?? 20_000);
  } catch (err) {
    proc.kill('SIGKILL');
    throw err;
  }
  const info = JSON.parse(ready.replace('MTEDGE_READY ', '')) as { listen_ports: number[]; api_port: number | null };

  const edge: EdgeProcess = {
    proc,
    dir,
    configPath,
    port: info.listen_ports[0]!,
    ports: info.listen_ports,
    apiPort: o.apiPort,
    output: () => out,
    waitForOutput,
    async api(path, init = {}) {
      const headers: Record<string, string> = { ...init.headers };
      let body: string | undefined;
      if (init.body !== undefined) {
        body = typeof init.body === 'string' ? init.body : JSON.stringify(init.body);
        headers['content-type'] ??= 'application/json';
      }
      const res = await fetch(`http://127.0.0.1:${o.apiPort}${path}`, { method: init.method ?? 'GET', headers, ...(body !== undefined ? { body } : {}) });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        // non-JSON bodies are returned as text
      }
      return { status: res.status, body: parsed as any, headers: res.headers };
    },
    async stop() {
      if (proc.exitCode === null) {
        proc.kill('SIGTERM');
        const t = setTimeout(() => proc.kill('SIGKILL'), 8000);
        const code = await exited;
        clearTimeout(t);
        await rm(dir, { recursive: true, force: true });
        return code;
      }
      await rm(dir, { recursive: true, force: true });
      return proc.exitCode;
    },
  };
  return edge;
}

export function randomSecretHex(): string {
  return Array.from({ length: 16 }, () => Math.floor(Math.random() * 256).toString(16).padStart(2, '0')).join('');
}

export async function waitUntil(pred: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await pred()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}
