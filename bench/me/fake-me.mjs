#!/usr/bin/env node
// Bench ME: the testkit's fake middle proxy (RPC handshake, AES-256-CBC both ways, echo of every
// RPC_PROXY_REQ payload) plus its HTTP server for proxy-secret / proxy-multi.conf, in a process
// of its own so its CPU is not charged to the edge under test.
// Control: one line per command on stdin ("stats" | "quit"), JSON answers on stdout.
import { createInterface } from 'node:readline';
import { fakeMeConfig, startFakeMe, startFakeMeHttp } from '@mtedge/testkit';
import { installMeAccelerators } from '@mtedge/dataplane';

// The same native CRC32-C and in-place AES-CBC the edge uses: a slow peer would make the edge's
// batches smaller and its CPU per byte higher than against a real middle proxy.
installMeAccelerators();

// Keep one recorded request only: the bench reads counters, and a long record would hold GBs.
const me = await startFakeMe({ maxRecordedRequests: 1 });
const http = await startFakeMeHttp({ secret: me.secret, config: fakeMeConfig({ '2': [{ host: '127.0.0.1', port: me.port }] }, 2) });
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
out({ ready: true, port: me.port, secretUrl: http.secretUrl, configUrl: http.configUrl });
createInterface({ input: process.stdin }).on('line', (line) => {
  if (line === 'stats') {
    const links = me.links();
    out({
      connections: me.connections(),
      handshakes: me.handshakes(),
      activeLinks: me.activeLinks(),
      openHandshaked: links.filter((l) => l.open && l.handshaked).length,
      connIdsOnLinks: links.filter((l) => l.open).map((l) => l.connIds.size),
    });
  } else if (line === 'quit') process.exit(0);
});
process.stdin.on('end', () => process.exit(0));
