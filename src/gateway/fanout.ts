// Per-topic fan-out: one RxJS subscription per topic for the whole gateway, handing each change to
// its subscriptions with a plain loop, so a thousand subscribers of one topic cost one Subject
// observer, not a thousand. A subscription whose filter requires a column to equal a value (a
// pool, a maker, a proposal) is looked up by that value: a change reaches the subscriptions of its
// row's value (and of the row before it), not every subscription of the topic, so ten thousand
// bots on ten thousand pools cost a swap one lookup, not ten thousand filter tests. While one
// change is handed out, what its subscribers have in common is worked out once: what it is to
// each distinct filter, and each distinct frame as UTF-8 bytes that every socket writes without
// copying.
import type { Subscription as RxSubscription } from 'rxjs';
import type { Change, ChangeFeed, ChangeOp } from '../capture/types.ts';
import type { Topic } from '../db/schema.ts';
import type { CompiledFilter } from './filters.ts';
import { viewOp } from './frames.ts';
import type { GatewayMetrics } from './types.ts';

type Target = (change: Change) => void;

interface Route {
  readonly stream: RxSubscription;
  /** Targets whose filter has no equality: every change of the topic. */
  readonly everyone: Set<Target>;
  /** Targets by the column and the value their filter's equality requires. */
  readonly byValue: Map<string, Map<unknown, Set<Target>>>;
}

export class FanOut {
  private readonly routes = new Map<Topic, Route>();
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

  /**
   * Routes the changes of `topic` that can be in `filter`'s view to `target` from now on (every
   * change without a filter); returns the detach function.
   */
  attach(topic: Topic, target: Target, filter?: CompiledFilter): () => void {
    const route = this.routes.get(topic) ?? this.route(topic);
    const equality = filter?.equality ?? null;
    if (equality === null) {
      route.everyone.add(target);
      return () => {
        route.everyone.delete(target);
      };
    }
    let values = route.byValue.get(equality.column);
    if (values === undefined) route.byValue.set(equality.column, (values = new Map()));
    let targets = values.get(equality.value);
    if (targets === undefined) values.set(equality.value, (targets = new Set()));
    targets.add(target);
    const column = values;
    return () => {
      const set = column.get(equality.value);
      if (set === undefined) return;
      set.delete(target);
      if (set.size === 0) column.delete(equality.value);
    };
  }

  private route(topic: Topic): Route {
    const everyone = new Set<Target>();
    const byValue = new Map<string, Map<unknown, Set<Target>>>();
    const stream = this.feed.topic$(topic).subscribe({
      next: (change) => {
        this.current = change;
        try {
          for (const deliver of everyone) deliver(change);
          if (byValue.size > 0) deliverByValue(byValue, change);
        } finally {
          this.current = null;
          this.views.clear();
          this.frames.clear();
        }
      },
    });
    const route = { stream, everyone, byValue };
    this.routes.set(topic, route);
    return route;
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

/**
 * Hands `change` to the targets looked up by its row's value of each indexed column, and by the
 * value of the row before it when that differs (the row may be leaving their view). A target is
 * indexed under one value of one column, so none is handed the change twice.
 */
function deliverByValue(byValue: ReadonlyMap<string, ReadonlyMap<unknown, ReadonlySet<Target>>>, change: Change): void {
  const { row, oldRow } = change;
  for (const [column, values] of byValue) {
    const now = row[column];
    const targets = values.get(now);
    if (targets !== undefined) for (const deliver of targets) deliver(change);
    if (oldRow === undefined) continue;
    const was = oldRow[column];
    if (was === now) continue;
    const before = values.get(was);
    if (before !== undefined) for (const deliver of before) deliver(change);
  }
}
