// Per-topic fan-out: one RxJS subscription per topic for the whole gateway, handing each change to
// its subscriptions with a plain loop, so a thousand subscribers of one topic cost one Subject
// observer, not a thousand.
import type { Subscription as RxSubscription } from 'rxjs';
import type { Change, ChangeFeed } from '../capture/types.ts';
import type { Topic } from '../db/schema.ts';
import type { GatewayMetrics } from './types.ts';

export class FanOut {
  private readonly routes = new Map<Topic, { stream: RxSubscription; targets: Set<(change: Change) => void> }>();
  /** The change most recently handed to a socket, so its lag is recorded once, not per subscriber. */
  private lastDelivered: Change | null = null;

  constructor(
    private readonly feed: ChangeFeed,
    private readonly metrics: GatewayMetrics,
  ) {}

  /** Routes every change of `topic` to `target` from now on; returns the detach function. */
  attach(topic: Topic, target: (change: Change) => void): () => void {
    let route = this.routes.get(topic);
    if (route === undefined) {
      const targets = new Set<(change: Change) => void>();
      const stream = this.feed.topic$(topic).subscribe({
        next: (change) => {
          for (const deliver of targets) deliver(change);
        },
      });
      route = { stream, targets };
      this.routes.set(topic, route);
    }
    const { targets } = route;
    targets.add(target);
    return () => {
      targets.delete(target);
    };
  }

  /** A change was handed to a socket. */
  delivered(change: Change): void {
    // A change reaches all its subscribers in one synchronous emission, so comparing with the last
    // one is enough to see the first delivery of each.
    if (change === this.lastDelivered) return;
    this.lastDelivered = change;
    this.metrics.changeDelivered(change.committedAt);
  }
}
