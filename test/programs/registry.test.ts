import { expect } from 'chai';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildPrograms, parseProgramsConfig, ProgramsConfigError } from '../../src/programs/registry.ts';
import { ESCROW_PROGRAM_ID } from '../../src/programs/escrow.ts';
import { ESCROW_INTERFACE } from '../../src/programs/interfaces/escrow.ts';
import { toAnchorIdl } from '../../src/programs/interfaces/program-interface.ts';
import { mapPlayed, only, PlayedLedger } from '../support/program-harness.ts';

const REALM = 'So11111111111111111111111111111111111111112';

describe('program registry', () => {
  it('defaults to the four programs at their mainnet ids', () => {
    expect(parseProgramsConfig(undefined).map((c) => [c.kind, c.programId])).to.deep.equal([
      ['escrow', ESCROW_PROGRAM_ID],
      ['raydium-cp-swap', 'CPMMoo8L3F4NbTegBCKVNunggL7H1ZpdTHKxQB5qKP1C'],
      ['tensor-marketplace', 'TCMPhJdwDryooaGtiocG1u3xcYbRpiJzb283XfCZsDp'],
      ['spl-governance', 'GovER5Lthms3bLBqWub97yVrMmEogzX7xNjdXpPPCVZw'],
    ]);
  });

  it('reads the compact form with overridden ids and watch lists, several governance instances included', () => {
    const configs = parseProgramsConfig(
      `spl-governance@${REALM},spl-governance:GTesTBiEWE32WHXXE2S4XbZvA5CrEc4xs6ZgRe895dP`,
    );
    expect(configs).to.have.length(2);
    expect(configs[0]).to.include({ kind: 'spl-governance', domain: 'governance' });
    expect(configs[0]?.watch).to.deep.equal([REALM]);
    expect(configs[1]?.programId).to.equal('GTesTBiEWE32WHXXE2S4XbZvA5CrEc4xs6ZgRe895dP');
  });

  for (const [value, message] of [
    ['escrow:notbase58!', /not a valid base58 public key/],
    ['uniswap', /unknown program kind "uniswap"/],
    ['[{"kind":"custom-anchor","idl":"/nonexistent/idl.json","mapping":{}}]', /IDL file not found/],
    ['[{"kind":"escrow","watch":"abc"}]', /watch must be an array/],
    ['escrow,escrow', /configured twice/],
    ['[oops', /not valid JSON/],
  ] as const) {
    it(`rejects ${value} with a clear error`, () => {
      expect(() => parseProgramsConfig(value)).to.throw(ProgramsConfigError, message);
    });
  }

  it('builds a custom Anchor program from an IDL file and a mapping, and checks the mapping', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'solstream-idl-'));
    // A user's IDL file: here the escrow's, as Anchor would emit it.
    writeFileSync(join(dir, 'escrow.json'), JSON.stringify(toAnchorIdl(ESCROW_INTERFACE, ESCROW_PROGRAM_ID)));
    const mapping = {
      accounts: {
        Offer: {
          topic: 'escrows',
          columns: {
            pubkey: '$pubkey',
            escrow_id: 'id',
            maker: 'maker',
            mint_a: 'token_mint_a',
            mint_b: 'token_mint_b',
            amount_b: 'token_b_wanted_amount',
            created_slot: '$slot',
          },
        },
      },
    };
    writeFileSync(join(dir, 'mapping.json'), JSON.stringify(mapping));
    const configs = parseProgramsConfig(
      JSON.stringify([{ kind: 'custom-anchor', idl: 'escrow.json', mapping: 'mapping.json' }]),
      dir,
    );
    const programs = buildPrograms(configs);
    const chain = new PlayedLedger('custom');
    const { rows } = await mapPlayed(programs, chain, chain.play(only('escrow', { seed: 3 }), 5));
    const offer = rows.flat().find((r) => r.topic === 'escrows');
    expect(offer?.row).to.have.keys(['pubkey', 'escrow_id', 'maker', 'mint_a', 'mint_b', 'amount_b', 'created_slot']);
    expect(typeof (offer?.row as Record<string, unknown>)['amount_b']).to.equal('string');
    const bad = JSON.stringify([
      {
        kind: 'custom-anchor',
        idl: 'escrow.json',
        mapping: { accounts: { Nope: { topic: 'escrows', columns: { colour: 'id' } } } },
      },
    ]);
    expect(() => parseProgramsConfig(bad, dir)).to.throw(ProgramsConfigError, /Nope: not in the IDL/);
  });
});
