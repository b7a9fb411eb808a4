import { expect } from 'chai';
import { compareCursors, formatCursor, isCursor, parseCursor } from '../../src/wire/cursor.ts';

const EPOCH = '123456789012345678';

describe('wire cursors', () => {
  it('orders cursors numerically, not lexically', () => {
    expect(compareCursors('9', '10')).to.equal(-1);
    expect(compareCursors('10', '9')).to.equal(1);
    expect(compareCursors('123', '123')).to.equal(0);
    expect(compareCursors('18446744073709551616', '18446744073709551615')).to.equal(1);
  });

  it('tags an offset with its epoch as one decimal string that orders like the offsets', () => {
    const a = formatCursor(EPOCH, '9');
    const b = formatCursor(EPOCH, '10');
    expect(a).to.equal(`${EPOCH}0000000000000000009`);
    expect(isCursor(a)).to.equal(true);
    expect(compareCursors(a, b)).to.equal(-1);
    expect(BigInt(b) - BigInt(a)).to.equal(1n);
    expect(parseCursor(b)).to.deep.equal({ epoch: EPOCH, offset: '10' });
    expect(parseCursor(formatCursor(EPOCH, '0'))).to.deep.equal({ epoch: EPOCH, offset: '0' });
    expect(parseCursor(formatCursor(EPOCH, '9223372036854775807'))).to.deep.equal({
      epoch: EPOCH,
      offset: '9223372036854775807',
    });
  });

  it('reads a cursor of at most 19 digits as a bare offset without epoch', () => {
    expect(parseCursor('0')).to.deep.equal({ epoch: null, offset: '0' });
    expect(parseCursor('40211')).to.deep.equal({ epoch: null, offset: '40211' });
    expect(parseCursor('9999999999999999999')).to.deep.equal({ epoch: null, offset: '9999999999999999999' });
    // Anything longer has an epoch part, even one this server would never make.
    expect(parseCursor('12345678901234567890')).to.deep.equal({ epoch: '1', offset: '2345678901234567890' });
  });

  for (const bad of ['', 'abc', '01', '-1', '1.5', ' 1', '1'.repeat(40)]) {
    it(`refuses ${JSON.stringify(bad)} as a cursor`, () => {
      expect(isCursor(bad)).to.equal(false);
      expect(parseCursor(bad)).to.equal(null);
    });
  }

  it('refuses to format an offset with something that is not an epoch', () => {
    expect(() => formatCursor('12', '5')).to.throw(/not an epoch/);
    expect(() => formatCursor(EPOCH, '05')).to.throw(/not a change-log offset/);
  });
});
