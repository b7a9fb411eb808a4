// Prometheus metrics for /metrics: process defaults plus the gateway's connections, subscriptions,
// messages and commit→send lag. Each server gets its own registry so several can share a process.
import client from 'prom-client';
import { TOPICS, type Topic } from '../db/schema.ts';
import type { GatewayMetrics } from '../gateway/types.ts';
import type { MessageType } from '../wire/protocol.ts';
import type { RelayStatus } from '../nats/relay.ts';

export interface ServerMetrics extends GatewayMetrics {
  readonly registry: client.Registry;
}

/**
 * The gateway's metrics, in `registry` (a new one unless given: several servers may share a process);
 * with `relay` (NATS mode), the relay's too.
 */
export function createMetrics(
  registry: client.Registry = new client.Registry(),
  relay: RelayStatus | null = null,
): ServerMetrics {
  client.collectDefaultMetrics({ register: registry, prefix: 'solstream_' });
  const connections = new client.Gauge({
    name: 'solstream_ws_connections',
    help: 'Open websocket connections.',
    registers: [registry],
  });
  const subscriptions = new client.Gauge({
    name: 'solstream_ws_subscriptions',
    help: 'Active subscriptions, by topic.',
    labelNames: ['topic'],
    registers: [registry],
  });
  for (const topic of TOPICS) subscriptions.set({ topic }, 0);
  // Counted in a plain map on the hot path and handed to prom-client when scraped: a labelled
  // counter increment per delivered frame cost a third of the fan-out throughput.
  const pendingSent = new Map<MessageType, number>();
  new client.Counter({
    name: 'solstream_ws_messages_sent_total',
    help: 'Messages handed to websocket connections, by message type.',
    labelNames: ['type'],
    registers: [registry],
    collect() {
      for (const [type, count] of pendingSent) this.inc({ type }, count);
      pendingSent.clear();
    },
  });
  const dropped = new client.Counter({
    name: 'solstream_ws_messages_dropped_total',
    help: 'Changes not delivered because their connection was cut off (slow consumer) or closed while joining.',
    labelNames: ['reason'],
    registers: [registry],
  });
  const lag = new client.Histogram({
    name: 'solstream_change_lag_seconds',
    help: 'Time from a change committing to its frame being handed to the first subscribed socket.',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  if (relay !== null) {
    new client.Gauge({
      name: 'solstream_relay_leader',
      help: 'NATS mode: 1 while this process is the relay publishing the change log to JetStream, 0 on standby.',
      registers: [registry],
      collect() {
        this.set(relay.leading ? 1 : 0);
      },
    });
    const relayLag = new client.Histogram({
      name: 'solstream_relay_lag_seconds',
      help: "NATS mode: time from a change committing to JetStream acknowledging this process's relay's publication of it.",
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: [registry],
    });
    relay.onPublished((lagMs) => relayLag.observe(lagMs / 1000));
    let counted = 0;
    new client.Counter({
      name: 'solstream_relay_published_total',
      help: 'NATS mode: changes this process published to JetStream as the relay.',
      registers: [registry],
      collect() {
        this.inc(relay.published - counted);
        counted = relay.published;
      },
    });
  }
  return {
    registry,
    connectionOpened: () => connections.inc(),
    connectionClosed: () => connections.dec(),
    subscriptionAdded: (topic: Topic) => subscriptions.inc({ topic }),
    subscriptionRemoved: (topic: Topic) => subscriptions.dec({ topic }),
    messageSent: (type: MessageType) => pendingSent.set(type, (pendingSent.get(type) ?? 0) + 1),
    messagesDropped: (reason, count) => dropped.inc({ reason }, count),
    changeDelivered: (committedAt: number) => {
      if (Number.isFinite(committedAt)) lag.observe(Math.max(0, Date.now() - committedAt) / 1000);
    },
  };
}
