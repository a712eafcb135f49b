// Pieces the two load-client processes (bench/clients.mjs, bench/me/clients.mjs) share.
import { createInterface } from 'node:readline';

export const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');

/** Resolves once `n` more bytes arrived on `sock`; rejects if it closes first. */
export function waitBytes(sock, n) {
  return new Promise((resolve, reject) => {
    let got = 0;
    const onData = (d) => {
      got += d.length;
      if (got >= n) {
        sock.removeListener('data', onData);
        sock.removeListener('close', onClose);
        resolve();
      }
    };
    const onClose = () => reject(new Error(`closed after ${got} of ${n} bytes`));
    sock.on('data', onData);
    sock.once('close', onClose);
    sock.resume();
  });
}

/**
 * Opens `conns` sessions with `open(i)` (which resolves with a served, paused socket), `concurrency`
 * at a time; reports `ready`, holds them until the parent writes `close` (or closes stdin), then
 * destroys them and reports `closed`.
 */
export async function holdIdle(conns, concurrency, open) {
  const socks = [];
  let errors = 0;
  let lastError = '';
  let next = 0;
  const opener = async () => {
    while (next < conns) {
      const i = next++;
      try {
        socks.push(await open(i));
      } catch (err) {
        errors++;
        lastError = err.message;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, opener));
  out({ phase: 'ready', open: socks.length, errors, lastError });
  await new Promise((r) => {
    createInterface({ input: process.stdin }).on('line', (l) => l === 'close' && r());
    process.stdin.on('end', r);
  });
  for (const s of socks) s.destroy();
  out({ phase: 'closed' });
}
