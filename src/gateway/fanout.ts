// Per-topic fan-out: one RxJS subscription per topic for the whole gateway, handing each change to
// its subscriptions with a plain loop, so a thousand subscribers of one topic cost one Subject
// observer, not a thousand. While one change is handed out, what its subscribers have in common is
// worked out once: what it is to each distinct filter, and each distinct frame as UTF-8 bytes that
// every socket writes without copying.
import type { Subscription as RxSubscription } from 'rxjs';
import type { Change, ChangeFeed, ChangeOp } from '../capture/types.ts';
import type { Topic } from '../db/schema.ts';
import type { CompiledFilter } from './filters.ts';
import { viewOp } from './frames.ts';
import type { GatewayMetrics } from './types.ts';

export class FanOut {
  private readonly routes = new Map<Topic, { stream: RxSubscription; targets: Set<(change: Change) => void> }>();
  /** The change most recently handed to a socket, so its lag is recorded once, not per subscriber. */
  private lastDelivered: Change | null = null;
  /** The change being handed out, and what was worked out for it so far. */
  private current: Change | null = null;
  private readonly views = new Map<string, ChangeOp | null>();
  private readonly frames = new Map<string, Buffer>();

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
          this.current = change;
          try {
            for (const deliver of targets) deliver(change);
          } finally {
            this.current = null;
            this.views.clear();
            this.frames.clear();
          }
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

  /** What `change` is to `filter`'s view (frames.ts viewOp), once per distinct filter while it is handed out. */
  view(filter: CompiledFilter, change: Change): ChangeOp | null {
    if (change !== this.current) return viewOp(filter, change);
    let op = this.views.get(filter.key);
    if (op === undefined) {
      op = viewOp(filter, change);
      this.views.set(filter.key, op);
    }
    return op;
  }

  /**
   * The frame `build()` makes for `change`, encoded once per distinct `key` while the change is
   * handed out (subscribers that share a subscription id, op and commitment share the bytes).
   */
  frame(change: Change, key: string, build: () => string): Buffer | string {
    if (change !== this.current) return build();
    let frame = this.frames.get(key);
    if (frame === undefined) {
      frame = Buffer.from(build());
      this.frames.set(key, frame);
    }
    return frame;
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
