// Bench-only preload (NODE_OPTIONS=--require, since --cpu-prof is not allowed there): profiles
// every thread of the edge (supervisor and workers) with the inspector for BENCH_PROF_MS ms from
// the thread's start and writes <BENCH_PROF_DIR>/<pid>-<threadId>.cpuprofile for DevTools.
'use strict';
const dir = process.env.BENCH_PROF_DIR;
if (dir) {
  const inspector = require('node:inspector');
  const fs = require('node:fs');
  const path = require('node:path');
  const { threadId } = require('node:worker_threads');
  const session = new inspector.Session();
  session.connect();
  session.post('Profiler.enable', () => {
    session.post('Profiler.setSamplingInterval', { interval: 500 }, () => {
      session.post('Profiler.start', () => {
        const t = setTimeout(() => {
          session.post('Profiler.stop', (err, res) => {
            if (!err) fs.writeFileSync(path.join(dir, `${process.pid}-${threadId}.cpuprofile`), JSON.stringify(res.profile));
            session.disconnect();
          });
        }, Number(process.env.BENCH_PROF_MS ?? 20000));
        t.unref();
      });
    });
  });
}
