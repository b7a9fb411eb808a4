import { expect } from 'chai';
import { backoffDelay } from '../src/index.ts';

describe('reconnect backoff', () => {
  const options = { initialDelayMs: 100, maxDelayMs: 1000, maxAttempts: Infinity };

  it('draws each delay uniformly below a ceiling that doubles per attempt up to the cap', () => {
    expect([0, 1, 2, 3, 4, 10].map((attempt) => backoffDelay(attempt, options, () => 0.999999))).to.deep.equal([
      99, 199, 399, 799, 999, 999,
    ]);
    expect(backoffDelay(3, options, () => 0)).to.equal(0);
    expect(backoffDelay(2, options, () => 0.5)).to.equal(200);
  });

  it('stays finite for very large attempt numbers', () => {
    expect(backoffDelay(10_000, options, () => 0.5)).to.equal(500);
  });
});
