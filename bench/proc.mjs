// Process plumbing shared by the benchmark scripts: bench/ children that talk JSON lines, and
// CPU / RSS readings from /proc.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export const ROOT = new URL('..', import.meta.url).pathname;
export const BENCH = join(ROOT, 'bench');
const CLK_TCK = 100;

/** Spawns a bench/ node script that talks JSON lines on stdout; `next()` resolves the next line. */
export function child(script, args = [], nodeArgs = []) {
  const proc = spawn(process.execPath, [...nodeArgs, join(BENCH, script), ...args], { stdio: ['pipe', 'pipe', 'inherit'], cwd: ROOT });
  const queue = [];
  const waiters = [];
  createInterface({ input: proc.stdout }).on('line', (line) => {
    let msg;
    try {
      msg = JSON.parse(line);
    } catch {
      return;
    }
    const w = waiters.shift();
    if (w) w.resolve(msg);
    else queue.push(msg);
  });
  proc.on('exit', (code) => {
    for (const w of waiters.splice(0)) w.reject(new Error(`${script} exited (${code}) while a line was awaited`));
  });
  return {
    proc,
    pid: proc.pid,
    next: () => (queue.length ? Promise.resolve(queue.shift()) : new Promise((resolve, reject) => waiters.push({ resolve, reject }))),
    send: (line) => proc.stdin.write(line + '\n'),
    ask: async function (line) {
      this.send(line);
      return this.next();
    },
    stop: () =>
      new Promise((r) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return r();
        proc.once('exit', r);
        proc.stdin.end();
        setTimeout(() => proc.kill('SIGKILL'), 3000).unref();
      }),
  };
}

/** utime and stime of a process (every thread), in seconds. */
export function cpuSplit(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return { user: Number(rest[11]) / CLK_TCK, sys: Number(rest[12]) / CLK_TCK };
}

export function cpuSeconds(pid) {
  const c = cpuSplit(pid);
  return c.user + c.sys;
}

export function rssKiB(pid) {
  const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

let gcSeq = 0;
/** Asks every thread of an edge started with bench/edge-hooks.cjs for a full GC and waits for the acks. */
export async function edgeGc(hooksDir, threads) {
  const n = ++gcSeq;
  await writeFile(join(hooksDir, `gc-${n}`), '');
  const end = Date.now() + 5000;
  while (Date.now() < end) {
    const acks = (await readdir(hooksDir)).filter((f) => f.startsWith('gcack-') && f.endsWith(`-${n}`)).length;
    if (acks >= threads) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}
