export { openChangeFeed, type CaptureOptions } from './feed.ts';
export { CAPTURE_CHANNEL } from './postgres-listener.ts';
export * from './types.ts';
