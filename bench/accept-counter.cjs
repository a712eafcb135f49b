// Preloaded into the edge under bench only (NODE_OPTIONS=--require): counts the 'connection'
// events each worker thread's servers emit and writes them to $BENCH_ACCEPT_DIR/<threadId>.json once a second
// when they changed (a file write costs ~2 ms here: more often would show up in the figures),
// because no API route exposes the per-worker accept counters yet. Not product code.
'use strict';
const { isMainThread, threadId } = require('node:worker_threads');
const dir = process.env.BENCH_ACCEPT_DIR;
if (!isMainThread && dir) {
  const net = require('node:net');
  const fs = require('node:fs');
  const path = require('node:path');
  let accepts = 0;
  const emit = net.Server.prototype.emit;
  net.Server.prototype.emit = function (ev, ...args) {
    if (ev === 'connection') accepts++;
    return emit.call(this, ev, ...args);
  };
  let last = -1;
  const t = setInterval(() => {
    if (accepts === last) return;
    last = accepts;
    fs.writeFileSync(path.join(dir, `${threadId}.json`), JSON.stringify({ threadId, accepts }));
  }, 1000);
  t.unref();
}
