#!/usr/bin/env node
// Baseline for API latency: the cheapest possible uWebSockets.js handler on this box.
import { createRequire } from 'node:module';

const uWS = createRequire(import.meta.url)('uWebSockets.js');
const body = JSON.stringify({ ok: true, data: {} });
uWS
  .App()
  .get('/*', (res) => {
    res.writeHeader('content-type', 'application/json').end(body);
  })
  .listen('127.0.0.1', 0, (tok) => {
    if (!tok) process.exit(1);
    process.stdout.write(JSON.stringify({ ready: true, port: uWS.us_socket_local_port(tok) }) + '\n');
  });
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
