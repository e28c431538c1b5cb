export * from './switchboard.js';
