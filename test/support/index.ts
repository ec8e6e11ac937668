/** The test support library: helpers that integration tests share. */

export { findExecutable, requireExecutable } from './executables.js';
export * from './gateway-process.js';
export * from './postgres.js';
export * from './raw-http.js';
export * from './redis.js';
export * from './test-origin.js';
