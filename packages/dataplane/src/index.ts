export * from './settings.js';
export * from './upstream.js';
export * from './direct-upstream.js';
export * from './user-registry.js';
export * from './session.js';
export * from './accept-loop.js';
export * from './ctr.js';
export * from './me/index.js';
