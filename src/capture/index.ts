export { createChangeFeed, directSource, openChangeFeed, type CaptureOptions } from './feed.ts';
export { openDatabaseLogReader } from './log-reader.ts';
export { readLogIdentity, type LogIdentity } from './log-identity.ts';
export { CAPTURE_CHANNEL } from './postgres-listener.ts';
export * from './types.ts';
