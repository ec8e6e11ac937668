/** The test support library: helpers that integration tests share. */
export * from './redis.js';
export * from './test-origin.js';
