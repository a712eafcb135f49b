export * from './settings.js';
export * from './writer.js';
export * from './pool.js';
export * from './me-upstream.js';
export * from './routed-upstream.js';
export * from './accelerators.js';
