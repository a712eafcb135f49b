/**
 * Masking: whatever is not a valid client for an enabled mode is relayed byte-for-byte to the
 * mask host, so a prober talks to a real web server. Bounded in bytes and time.
 */
import net from 'node:net';
import { C, type WorkerStats } from '@mtedge/stats';
import type { WorkerSettings } from './settings.js';

export function relayToMask(client: net.Socket, buffered: Buffer, settings: WorkerSettings, stats: WorkerStats, onDone: () => void): void {
  const m = settings.mask;
  stats.inc(C.core.masked_total);
  if (!m.enabled) {
    client.destroy();
    onDone();
    return;
  }
  let done = false;
  let relayed = 0;
  let connected = false;
  // The session may have masked because of the client's EOF (an HTTP probe that half-closed).
  let clientEnded = client.readableEnded;
  const upstream = net.connect({ host: m.host, port: m.port, allowHalfOpen: true });
  const finish = (): void => {
    if (done) return;
    done = true;
    clearTimeout(hardTimer);
    client.destroy();
    upstream.destroy();
    onDone();
  };
  const hardTimer = setTimeout(finish, m.timeoutMs);
  const budget = (n: number): boolean => {
    relayed += n;
    if (relayed > m.maxBytes) {
      finish();
      return false;
    }
    return true;
  };
  client.setTimeout(m.idleTimeoutMs, finish);
  upstream.setTimeout(m.idleTimeoutMs, finish);
  upstream.once('connect', () => {
    connected = true;
    if (buffered.length > 0) {
      stats.add(C.core.mask_octets_from_clients, buffered.length);
      if (budget(buffered.length)) upstream.write(buffered);
    }
    // A prober that sent its request and half-closed still gets the mask host's answer.
    if (clientEnded) upstream.end();
    client.on('data', (d: Buffer) => {
      stats.add(C.core.mask_octets_from_clients, d.length);
      if (budget(d.length) && !upstream.write(d)) client.pause();
    });
    upstream.on('drain', () => client.resume());
    client.resume();
  });
  upstream.on('data', (d: Buffer) => {
    stats.add(C.core.mask_octets_to_clients, d.length);
    if (budget(d.length) && !client.write(d)) upstream.pause();
  });
  client.on('drain', () => upstream.resume());
  client.on('end', () => {
    // Ending before 'connect' would drop the buffered bytes (write after end).
    clientEnded = true;
    if (connected) upstream.end();
  });
  upstream.on('end', () => client.end());
  client.on('close', finish);
  upstream.on('close', () => {
    // Let the client read what the mask host sent before it closed.
    if (!client.destroyed) client.end();
    setTimeout(finish, 1000).unref();
  });
  client.on('error', finish);
  upstream.on('error', finish);
}
