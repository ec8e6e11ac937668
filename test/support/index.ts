/** The test support library: helpers that integration tests share. */

export { findExecutable, requireExecutable } from './executables.js';
export * from './redis.js';
export * from './test-origin.js';
