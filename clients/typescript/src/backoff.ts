// Reconnect delays: exponential with full jitter (a uniform pick in [0, min(cap, base·2^attempt)]),
// so a gateway restart does not bring every client back in the same millisecond.

export interface RetryOptions {
  /** Ceiling of the first delay, in ms. Defaults to 250. */
  readonly initialDelayMs?: number;
  /** Largest ceiling, in ms. Defaults to 10000. */
  readonly maxDelayMs?: number;
  /** Reconnect attempts in a row before giving up (the client then stays disconnected). Defaults to Infinity. */
  readonly maxAttempts?: number;
}

export const DEFAULT_RETRY: Required<RetryOptions> = { initialDelayMs: 250, maxDelayMs: 10_000, maxAttempts: Infinity };

/** Delay before reconnect attempt number `attempt` (0 for the first after a drop). */
export function backoffDelay(
  attempt: number,
  options: Required<RetryOptions>,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(options.maxDelayMs, options.initialDelayMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}
