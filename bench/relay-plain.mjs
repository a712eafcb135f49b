#!/usr/bin/env node
// Baseline: a plain TCP relay client <-> DC with the same Node APIs the edge uses ('data' events,
// write() + pause/resume on backpressure, no-delay sockets), and no crypto at all. Whatever it
// costs per byte is the cost of moving bytes through Node sockets on this box.
// argv: <dcPort>. Prints {"ready":true,"port":N}.
import net from 'node:net';
import { createInterface } from 'node:readline';

const dcPort = Number(process.argv[2]);
const pipe = (from, to) => {
  from.on('data', (d) => {
    if (!to.write(d)) {
      from.pause();
      to.once('drain', () => from.resume());
    }
  });
  from.on('end', () => to.end());
};
const server = net.createServer({ noDelay: true, allowHalfOpen: true }, (c) => {
  c.pause();
  const u = net.connect({ host: '127.0.0.1', port: dcPort, noDelay: true, allowHalfOpen: true }, () => {
    pipe(c, u);
    pipe(u, c);
    c.resume();
  });
  const kill = () => {
    c.destroy();
    u.destroy();
  };
  c.on('error', kill);
  u.on('error', kill);
  c.on('close', kill);
  u.on('close', kill);
});
server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => {
  process.stdout.write(JSON.stringify({ ready: true, port: server.address().port, pid: process.pid }) + '\n');
});
// stdin: "gc" runs a full GC (started with --expose-gc) and answers {"gc":true}.
createInterface({ input: process.stdin }).on('line', (line) => {
  if (line === 'gc' && typeof globalThis.gc === 'function') {
    globalThis.gc();
    process.stdout.write(JSON.stringify({ gc: true }) + '\n');
  } else if (line === 'gc') process.stdout.write(JSON.stringify({ gc: false }) + '\n');
});
process.stdin.on('end', () => process.exit(0));
