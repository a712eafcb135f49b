export * from './snapshot.js';
export * from './counters-registry.js';
export * from './layout.js';
export * from './ip-words.js';
export * from './replay-cache.js';
export * from './worker-stats.js';
export * from './stats-reader.js';
