#!/usr/bin/env node
// Bench DC: a lean stand-in for a Telegram DC. It drops the 64-byte obfuscated2 init and echoes
// every later byte as it is, without decrypting: the relay under test does exactly the same work
// (it cannot tell), and this process stays cheap so the CPU goes to the relay being measured.
// Control: one JSON line per command on stdin ("stats" | "quit"), answers on stdout.
import net from 'node:net';
import { createInterface } from 'node:readline';

const INIT = 64;
let rx = 0;
let tx = 0;
let conns = 0;
let active = 0;

const server = net.createServer({ noDelay: true }, (s) => {
  conns++;
  active++;
  let skip = INIT;
  s.on('error', () => undefined);
  s.on('close', () => active--);
  s.on('data', (d) => {
    if (skip > 0) {
      if (d.length <= skip) {
        skip -= d.length;
        return;
      }
      d = d.subarray(skip);
      skip = 0;
    }
    rx += d.length;
    tx += d.length;
    if (!s.write(d)) {
      s.pause();
      s.once('drain', () => s.resume());
    }
  });
  s.on('end', () => s.end());
});
server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => {
  process.stdout.write(JSON.stringify({ ready: true, port: server.address().port }) + '\n');
});
createInterface({ input: process.stdin }).on('line', (line) => {
  if (line === 'stats') process.stdout.write(JSON.stringify({ rx, tx, conns, active }) + '\n');
  else if (line === 'quit') process.exit(0);
});
process.stdin.on('end', () => process.exit(0));
