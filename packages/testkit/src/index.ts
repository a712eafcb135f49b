export * from './errors.js';
export * from './wire/index.js';
export * from './mtproto-stub.js';
export * from './fake-dc.js';
export * from './mask-host.js';
export * from './client.js';
export * from './probes.js';
export * from './load.js';
