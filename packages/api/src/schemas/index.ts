export * from './builders.js';
export * from './requests.js';
export * from './responses.js';
export * from './validators.js';
