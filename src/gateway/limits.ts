// Per-connection rate limiting: a token bucket refilled continuously. Every connection has one, so
// it is kept small: no closure per bucket, and the second bucket only once a client is limited.

const monotonic = (): number => performance.now();

export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    /** Tokens added per second, and the most the bucket holds (one second of burst). */
    private readonly perSecond: number,
    private readonly now: () => number = monotonic,
  ) {
    this.tokens = perSecond;
    this.last = now();
  }

  /** Takes one token; false when the bucket is empty. */
  take(): boolean {
    const t = this.now();
    this.tokens = Math.min(this.perSecond, this.tokens + ((t - this.last) / 1000) * this.perSecond);
    this.last = t;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

/**
 * Messages over the rate are answered with `rate_limited`; a client that keeps going gets a second
 * bucket's worth of such answers, then is closed (an error reply costs us as much as the message).
 */
export class RateLimiter {
  /** Made at the first message, and made full when the client is first limited. */
  private allowed: TokenBucket | null = null;
  private rejections: TokenBucket | null = null;

  constructor(
    private readonly perSecond: number,
    private readonly now: () => number = monotonic,
  ) {}

  /** 'ok' to process, 'limited' to answer rate_limited, 'abuse' to close the connection. */
  check(): 'ok' | 'limited' | 'abuse' {
    this.allowed ??= new TokenBucket(this.perSecond, this.now);
    if (this.allowed.take()) return 'ok';
    this.rejections ??= new TokenBucket(this.perSecond, this.now);
    return this.rejections.take() ? 'limited' : 'abuse';
  }
}
