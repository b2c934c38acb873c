/** The specs' redis-server lives in bench/support (the bench uses it too, and bench/ imports nothing from spec/). */
export * from '../../bench/support/redis-server.js';
