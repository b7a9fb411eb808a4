import { expect } from 'chai';
import {
  ErrorCode,
  MessageType,
  parseClientMessage,
  ProtocolError,
  type ClientMessage,
} from '../../src/wire/protocol.ts';

describe('gateway protocol: parsing client messages', () => {
  const accepted: [string, string, ClientMessage][] = [
    ['a ping', '{"type":"ping"}', { type: MessageType.Ping }],
    ['an unsubscribe', '{"type":"unsubscribe","id":"a"}', { type: MessageType.Unsubscribe, id: 'a' }],
    [
      'a bare subscribe',
      '{"type":"subscribe","id":"s1","topic":"escrows"}',
      { type: MessageType.Subscribe, id: 's1', topic: 'escrows' },
    ],
    [
      'a subscribe with filter and snapshot',
      '{"type":"subscribe","id":"s1","topic":"swaps","filter":{"slot":{"gte":5}},"snapshot":{"limit":10}}',
      { type: MessageType.Subscribe, id: 's1', topic: 'swaps', filter: { slot: { gte: 5 } }, snapshot: { limit: 10 } },
    ],
    [
      'a resume',
      '{"type":"subscribe","id":"s1","topic":"swaps","since":"12345678901234567890"}',
      { type: MessageType.Subscribe, id: 's1', topic: 'swaps', since: '12345678901234567890' },
    ],
    [
      'snapshot false with since',
      '{"type":"subscribe","id":"s1","topic":"swaps","snapshot":false,"since":"0"}',
      { type: MessageType.Subscribe, id: 's1', topic: 'swaps', snapshot: false, since: '0' },
    ],
  ];
  for (const [name, raw, expected] of accepted) {
    it(`accepts ${name}`, () => {
      expect(parseClientMessage(raw)).to.deep.equal(expected);
    });
  }

  const rejected: [string, string, ErrorCode, string | undefined][] = [
    ['text that is not JSON', 'hello', ErrorCode.BadJson, undefined],
    ['truncated JSON', '{"type":"ping"', ErrorCode.BadJson, undefined],
    ['a JSON array', '[1,2]', ErrorCode.InvalidMessage, undefined],
    ['a JSON string', '"ping"', ErrorCode.InvalidMessage, undefined],
    ['null', 'null', ErrorCode.InvalidMessage, undefined],
    ['a message without type', '{"id":"x"}', ErrorCode.InvalidMessage, 'x'],
    ['a numeric type', '{"type":3}', ErrorCode.InvalidMessage, undefined],
    ['an unknown type', '{"type":"publish","id":"p"}', ErrorCode.UnknownType, 'p'],
    ['a server message type', '{"type":"change"}', ErrorCode.UnknownType, undefined],
    ['a subscribe without id', '{"type":"subscribe","topic":"escrows"}', ErrorCode.InvalidMessage, undefined],
    ['a numeric id', '{"type":"subscribe","id":1,"topic":"escrows"}', ErrorCode.InvalidMessage, undefined],
    ['an empty id', '{"type":"subscribe","id":"","topic":"escrows"}', ErrorCode.InvalidMessage, undefined],
    [
      'an id longer than 128 characters',
      JSON.stringify({ type: 'subscribe', id: 'x'.repeat(129), topic: 'escrows' }),
      ErrorCode.InvalidMessage,
      undefined,
    ],
    ['a numeric topic', '{"type":"subscribe","id":"a","topic":7}', ErrorCode.InvalidMessage, 'a'],
    ['an unknown field', '{"type":"subscribe","id":"a","topic":"escrows","where":1}', ErrorCode.InvalidMessage, 'a'],
    ['a filter array', '{"type":"subscribe","id":"a","topic":"escrows","filter":[]}', ErrorCode.InvalidFilter, 'a'],
    ['a filter string', '{"type":"subscribe","id":"a","topic":"escrows","filter":"x"}', ErrorCode.InvalidFilter, 'a'],
    [
      'snapshot as a number',
      '{"type":"subscribe","id":"a","topic":"swaps","snapshot":5}',
      ErrorCode.InvalidSnapshot,
      'a',
    ],
    [
      'a zero snapshot limit',
      '{"type":"subscribe","id":"a","topic":"swaps","snapshot":{"limit":0}}',
      ErrorCode.InvalidSnapshot,
      'a',
    ],
    [
      'a fractional snapshot limit',
      '{"type":"subscribe","id":"a","topic":"swaps","snapshot":{"limit":1.5}}',
      ErrorCode.InvalidSnapshot,
      'a',
    ],
    [
      'a snapshot with extra keys',
      '{"type":"subscribe","id":"a","topic":"swaps","snapshot":{"limit":3,"order":"asc"}}',
      ErrorCode.InvalidSnapshot,
      'a',
    ],
    ['a numeric since', '{"type":"subscribe","id":"a","topic":"swaps","since":5}', ErrorCode.InvalidCursor, 'a'],
    ['a negative since', '{"type":"subscribe","id":"a","topic":"swaps","since":"-1"}', ErrorCode.InvalidCursor, 'a'],
    [
      'a since with leading zero',
      '{"type":"subscribe","id":"a","topic":"swaps","since":"01"}',
      ErrorCode.InvalidCursor,
      'a',
    ],
    [
      'snapshot together with since',
      '{"type":"subscribe","id":"a","topic":"swaps","snapshot":true,"since":"5"}',
      ErrorCode.InvalidMessage,
      'a',
    ],
    ['an unsubscribe without id', '{"type":"unsubscribe"}', ErrorCode.InvalidMessage, undefined],
  ];
  for (const [name, raw, code, id] of rejected) {
    it(`answers ${code} to ${name}`, () => {
      const result = parseClientMessage(raw);
      expect(result).to.be.instanceOf(ProtocolError);
      const error = result as ProtocolError;
      expect(error.code).to.equal(code);
      expect(error.id).to.equal(id);
      const message = error.toMessage();
      expect(message.type).to.equal('error');
      expect(message.message).to.be.a('string').and.not.equal('');
    });
  }
});
