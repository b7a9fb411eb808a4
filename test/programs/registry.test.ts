import { expect } from 'chai';
import { mkdtempSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildDecoders, parseProgramsConfig, ProgramsConfigError } from '../../src/programs/registry.ts';
import { IDL_DIR } from '../../src/programs/anchor-idl.ts';
import { ESCROW_PROGRAM_ID } from '../../src/programs/escrow.ts';
import { runActivity } from '../../src/simulate/activity/player.ts';
import { decodeSimTransaction } from '../../src/simulate/activity/transaction-input.ts';
import { LocalLedger } from '../../src/simulate/ledger.ts';

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

  it('builds a custom Anchor decoder from an IDL file and a mapping, and checks the mapping', () => {
    const dir = mkdtempSync(join(tmpdir(), 'solstream-idl-'));
    const idl = join(dir, 'escrow.json');
    copyFileSync(fileURLToPath(new URL('escrow.json', IDL_DIR)), idl);
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
    const [decoder] = buildDecoders(configs);
    const played = runActivity(
      new LocalLedger({ seed: 'custom' }),
      { seed: 3, programs: { cpSwap: false, tensor: false, governance: false } },
      5,
    );
    const rows = played.flatMap((p) => decodeSimTransaction(decoder === undefined ? [] : [decoder], p.tx, p.submitted));
    const offer = rows.find((r) => r.topic === 'escrows');
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
