export * from './obf2.js';
export * from './framing.js';
export * from './fake-tls.js';
