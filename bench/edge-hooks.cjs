// Bench-only preload for the edge (NODE_OPTIONS="--expose-gc --require ..."), in every thread.
// Not product code; it exists because no API route exposes what the bench needs:
//  - accepts: counts the 'connection' events of each worker thread's servers and writes them to
//    $BENCH_HOOKS_DIR/accepts-<threadId>.json once a second when they changed (a file write
//    costs ~2 ms here: more often would show up in the figures);
//  - gc: when a file gc-<n> appears in the directory, runs a full GC and writes gcack-<threadId>-<n>,
//    so memory figures are read with the garbage of the handshakes collected;
//  - heap: when heap-<n> appears, writes thread-<threadId>-<n>.heapsnapshot (memory analysis).
'use strict';
const dir = process.env.BENCH_HOOKS_DIR;
if (dir) {
  const fs = require('node:fs');
  const path = require('node:path');
  const { isMainThread, threadId } = require('node:worker_threads');
  if (!isMainThread) {
    const net = require('node:net');
    let accepts = 0;
    const emit = net.Server.prototype.emit;
    net.Server.prototype.emit = function (ev, ...args) {
      if (ev === 'connection') accepts++;
      return emit.call(this, ev, ...args);
    };
    let last = -1;
    setInterval(() => {
      if (accepts === last) return;
      last = accepts;
      fs.writeFileSync(path.join(dir, `accepts-${threadId}.json`), JSON.stringify({ threadId, accepts }));
    }, 1000).unref();
  }
  const done = new Set();
  const w = fs.watch(dir, (_ev, name) => {
    const m = /^(gc|heap)-(\d+)$/.exec(String(name));
    if (!m || done.has(m[0])) return;
    done.add(m[0]);
    if (m[1] === 'heap') {
      // heap-<n>: a heap snapshot of this thread, for DevTools (Memory tab) or a script.
      require('node:v8').writeHeapSnapshot(path.join(dir, `thread-${threadId}-${m[2]}.heapsnapshot`));
      fs.writeFileSync(path.join(dir, `heapack-${threadId}-${m[2]}`), '');
      return;
    }
    if (typeof globalThis.gc !== 'function') return;
    globalThis.gc();
    fs.writeFileSync(path.join(dir, `gcack-${threadId}-${m[2]}`), '');
  });
  w.unref();
}
