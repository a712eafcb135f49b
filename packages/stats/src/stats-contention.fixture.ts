// Worker body for stats.test.ts: hammers the shared replay cache and a connection limit.
import { parentPort, workerData } from 'node:worker_threads';
import { ReplayCache } from './replay-cache.js';
import { WorkerStats } from './worker-stats.js';
import type { SharedStatsBuffers } from './layout.js';

const { bufs, index } = workerData as { bufs: SharedStatsBuffers; index: number };
const cache = new ReplayCache(bufs);
const stats = new WorkerStats(bufs, index);
const key = new Uint8Array(16);
let accepted = 0;
for (let k = 0; k < 500; k++) {
  new DataView(key.buffer).setUint32(0, k * 2654435761, true);
  new DataView(key.buffer).setUint32(8, k, true);
  if (cache.checkAndInsert(key, 0, 5000, 120)) accepted++;
}
let admitted = 0;
for (let k = 0; k < 100; k++) if (stats.acquireConn(7, 37)) admitted++;
parentPort!.postMessage({ accepted, admitted });
