// The wire module: everything a solstream client and the gateway must agree on, imported by both
// (src/gateway, clients/typescript). Messages, codes and validation in protocol.ts, cursors in
// cursor.ts; the topics and their row types come from the schema catalogue (src/db/schema.ts).
export * from './protocol.ts';
export * from './cursor.ts';
