// The independent cluster (Python, standard library only, test/independent/cluster/) read through
// a real web3.js Connection and decoded with what the programs publish: Anchor's BorshCoder over
// the published IDL files, @solana/spl-governance's own parsers, and SPL Token / escrow layouts
// written out by hand. Nothing here comes from the project's src/: these tests check that the
// cluster speaks Solana's RPC and PubSub and carries the programs' real layouts, so the project's
// ingester can be proven against it.
import { createPublicKey, verify } from 'node:crypto';
import { expect } from 'chai';
import WebSocket from 'ws';
import { utils } from '@coral-xyz/anchor';
import {
  Connection,
  PublicKey,
  SolanaJSONRPCError,
  type AccountInfo,
  type Context,
  type KeyedAccountInfo,
  type Logs,
  type SlotInfo,
  VersionedTransaction,
  type VersionedTransactionResponse,
} from '@solana/web3.js';
import {
  CastVoteArgs,
  Governance,
  GovernanceAccountParser,
  GovernanceAccountType,
  Proposal,
  ProposalState,
  Realm,
  TokenOwnerRecord,
  VoteKind,
  VoteRecord,
  deserializeBorsh,
  getGovernanceInstructionSchema,
} from '@solana/spl-governance';
import { startIndependentCluster, requirePython, waitFor, type IndependentCluster } from './cluster-process.ts';
import {
  CP_SWAP,
  ESCROW,
  GOVERNANCE,
  PROGRAMS,
  SYSTEM_PROGRAM,
  TCOMP,
  accountNames,
  associatedTokenAddress,
  cpSwapCoder,
  cpSwapIdl,
  decodeMint,
  decodeOffer,
  decodeTokenAccount,
  escrowInstruction,
  pda,
  programData,
  readSample,
  sha256_8,
  tensorCoder,
  tensorIdl,
  u32le,
  u64le,
} from './layouts.ts';

const bs58 = utils.bytes.bs58;
/** The DER prefix of an ed25519 SubjectPublicKeyInfo, before the 32 key bytes. */
const ED25519_SPKI = Buffer.from('302a300506032b6570032100', 'hex');
const FEE_DENOMINATOR = 1_000_000n;

type Decoded = Record<string, unknown>;
const big = (v: unknown): bigint => BigInt(String(v));
const key = (v: unknown): string => (v as PublicKey).toBase58();

/** web3.js's PubSub socket, closed for good at the end (it would otherwise keep reconnecting). */
function closeSocket(connection: Connection): void {
  const socket = (connection as unknown as { _rpcWebSocket?: { reconnect: boolean; close(): void } })._rpcWebSocket;
  if (socket === undefined) return;
  socket.reconnect = false;
  socket.close();
}

async function rawRpc(url: string, body: unknown): Promise<unknown> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(res.status).to.equal(200);
  return res.json();
}

/** A transaction's instructions, top-level and inner, with their accounts resolved. */
interface Ix {
  readonly programId: string;
  readonly accounts: string[];
  readonly data: Buffer;
  readonly outer: number;
  readonly inner: boolean;
}

function instructionsOf(tx: VersionedTransactionResponse): Ix[] {
  const keys = tx.transaction.message.staticAccountKeys.map((k) => k.toBase58());
  const out: Ix[] = [];
  tx.transaction.message.compiledInstructions.forEach((ix, outer) => {
    out.push({
      programId: keys[ix.programIdIndex] ?? '',
      accounts: ix.accountKeyIndexes.map((i) => keys[i] ?? ''),
      data: Buffer.from(ix.data),
      outer,
      inner: false,
    });
    for (const group of tx.meta?.innerInstructions ?? []) {
      if (group.index !== outer) continue;
      for (const inner of group.instructions)
        out.push({
          programId: keys[inner.programIdIndex] ?? '',
          accounts: inner.accounts.map((i) => keys[i] ?? ''),
          data: Buffer.from(bs58.decode(inner.data)),
          outer,
          inner: true,
        });
    }
  });
  return out;
}

function named(idl: typeof cpSwapIdl, name: string, ix: Ix): Record<string, string> {
  const out: Record<string, string> = {};
  accountNames(idl, name).forEach((n, i) => {
    const k = ix.accounts[i];
    if (k !== undefined) out[n] = k;
  });
  return out;
}

describe('independent cluster through web3.js and the published layouts', function () {
  this.timeout(120_000);
  let cluster: IndependentCluster;
  let connection: Connection;
  /** Every transaction, fetched once through getTransaction. */
  const ledger: VersionedTransactionResponse[] = [];
  const bySignature = new Map<string, VersionedTransactionResponse>();
  /** Each program's transactions, oldest first (getSignaturesForAddress reversed). */
  const history = new Map<string, VersionedTransactionResponse[]>();

  const account = async (pubkey: string): Promise<AccountInfo<Buffer>> => {
    const info = await connection.getAccountInfo(new PublicKey(pubkey));
    if (info === null) throw new Error(`account ${pubkey} does not exist`);
    return info;
  };

  const allSignatures = async (address: string): Promise<string[]> => {
    const out: string[] = [];
    let before: string | undefined;
    for (;;) {
      const page = await connection.getSignaturesForAddress(new PublicKey(address), {
        limit: 1000,
        ...(before === undefined ? {} : { before }),
      });
      out.push(...page.map((s) => s.signature));
      if (page.length < 1000) return out;
      before = page[page.length - 1]?.signature;
    }
  };

  before(async () => {
    cluster = await startIndependentCluster({ seed: 7, rate: 0, history: 200 });
    connection = new Connection(cluster.rpcUrl, { wsEndpoint: cluster.wsUrl, commitment: 'confirmed' });
    for (const program of PROGRAMS) {
      const txs: VersionedTransactionResponse[] = [];
      for (const signature of (await allSignatures(program)).reverse()) {
        let tx = bySignature.get(signature) ?? null;
        if (tx === null) {
          // web3.js validates each answer against its GetTransactionRpcResult schema.
          tx = await connection.getTransaction(signature, { maxSupportedTransactionVersion: 0 });
          if (tx === null) throw new Error(`getTransaction(${signature}) is null`);
          bySignature.set(signature, tx);
          ledger.push(tx);
        }
        txs.push(tx);
      }
      history.set(program, txs);
    }
  });

  after(async () => {
    if (connection !== undefined) closeSocket(connection);
    if (cluster !== undefined) expect(await cluster.stop()).to.equal(0);
  });

  it('answers the cluster methods in the shapes web3.js validates', async () => {
    const state = await cluster.state();
    expect(await connection.getSlot()).to.equal(state.slot);
    const height = await connection.getBlockHeight();
    expect(height).to.equal(state.blockHeight);
    const latest = await connection.getLatestBlockhash();
    expect(bs58.decode(latest.blockhash)).to.have.length(32);
    expect(latest.lastValidBlockHeight).to.equal(height + 150);
    expect((await connection.getVersion())['solana-core']).to.match(/^\d+\.\d+\.\d+$/);
    expect(bs58.decode(await connection.getGenesisHash())).to.have.length(32);
    const blockTime = await connection.getBlockTime(state.slot);
    expect(blockTime).to.be.a('number');
    const future = await connection.getBlockTime(state.slot + 1_000).then(
      () => null,
      (e: unknown) => e,
    );
    expect(future).to.be.instanceOf(SolanaJSONRPCError);
    expect((future as SolanaJSONRPCError).code).to.equal(-32004);
    expect(await rawRpc(cluster.rpcUrl, { jsonrpc: '2.0', id: 1, method: 'getHealth' })).to.deep.equal({
      jsonrpc: '2.0',
      result: 'ok',
      id: 1,
    });
    const unknown = (await rawRpc(cluster.rpcUrl, { jsonrpc: '2.0', id: 'x', method: 'getNothing' })) as Decoded;
    expect((unknown['error'] as Decoded)['code']).to.equal(-32601);
    const batch = (await rawRpc(cluster.rpcUrl, [
      { jsonrpc: '2.0', id: 1, method: 'getSlot', params: [{ commitment: 'finalized' }] },
      { jsonrpc: '2.0', id: 2, method: 'getBlockHeight' },
    ])) as Decoded[];
    expect(batch.map((r) => r['id'])).to.deep.equal([1, 2]);
    expect(batch[0]?.['result']).to.equal(state.slot);
    const tooEarly = (await rawRpc(cluster.rpcUrl, {
      jsonrpc: '2.0',
      id: 3,
      method: 'getBalance',
      params: [SYSTEM_PROGRAM, { minContextSlot: state.slot + 5 }],
    })) as Decoded;
    expect((tooEarly['error'] as Decoded)['code']).to.equal(-32016);
    const first = ledger[0];
    if (first === undefined) throw new Error('no transactions');
    const payer = first.transaction.message.staticAccountKeys[0]!;
    expect(await connection.getBalance(payer)).to.be.greaterThan(0);
    const missing = new PublicKey(Buffer.alloc(32, 7));
    const [payerInfo, none] = await connection.getMultipleAccountsInfo([payer, missing]);
    expect(payerInfo?.owner.toBase58()).to.equal(SYSTEM_PROGRAM);
    expect(payerInfo?.lamports).to.equal(await connection.getBalance(payer));
    expect(none).to.equal(null);
    expect(await connection.getAccountInfo(missing)).to.equal(null);
    // The base64 encoding is the transaction as sent: web3.js reads it back to the same message.
    const wire = (await rawRpc(cluster.rpcUrl, {
      jsonrpc: '2.0',
      id: 4,
      method: 'getTransaction',
      params: [first.transaction.signatures[0], { encoding: 'base64', maxSupportedTransactionVersion: 0 }],
    })) as { result: { transaction: [string, string] } };
    const sent = VersionedTransaction.deserialize(Buffer.from(wire.result.transaction[0], 'base64'));
    expect(sent.signatures.map((s) => bs58.encode(s))).to.deep.equal(first.transaction.signatures);
    expect(Buffer.from(sent.message.serialize()).equals(first.transaction.message.serialize())).to.equal(true);
    const [status] = (await connection.getSignatureStatuses([first.transaction.signatures[0] ?? ''])).value;
    expect(status?.slot).to.equal(first.slot);
    expect(status?.confirmationStatus).to.equal('finalized');
  });

  it('covers every transaction with getSignaturesForAddress, newest first, paging with before and until', async () => {
    const state = await cluster.state();
    expect(bySignature.size, 'every played transaction names one of the four programs').to.equal(state.transactions);
    for (const program of PROGRAMS) {
      const full = await connection.getSignaturesForAddress(new PublicKey(program), { limit: 1000 });
      expect(full.length, program).to.be.greaterThan(20);
      for (let i = 1; i < full.length; i++) expect(full[i - 1]!.slot).to.be.at.least(full[i]!.slot);
      for (const entry of full) {
        expect(entry.confirmationStatus).to.equal('finalized');
        expect(entry.blockTime).to.equal(bySignature.get(entry.signature)?.blockTime);
        expect(entry.err === null).to.equal(bySignature.get(entry.signature)?.meta?.err === null);
      }
      // Pages of 7, each starting after the last one's oldest signature, rebuild the full list.
      const paged: string[] = [];
      let before: string | undefined;
      for (;;) {
        const page = await connection.getSignaturesForAddress(new PublicKey(program), {
          limit: 7,
          ...(before === undefined ? {} : { before }),
        });
        paged.push(...page.map((s) => s.signature));
        if (page.length < 7) break;
        before = page[page.length - 1]?.signature;
      }
      expect(paged).to.deep.equal(full.map((s) => s.signature));
      const pivot = full[Math.floor(full.length / 2)]!.signature;
      const newer = await connection.getSignaturesForAddress(new PublicKey(program), { until: pivot });
      expect(newer.map((s) => s.signature)).to.deep.equal(
        full.slice(0, Math.floor(full.length / 2)).map((s) => s.signature),
      );
      const window = await connection.getSignaturesForAddress(new PublicKey(program), {
        before: full[2]!.signature,
        until: full[6]!.signature,
      });
      expect(window.map((s) => s.signature)).to.deep.equal(full.slice(3, 6).map((s) => s.signature));
    }
    const tooMany = await connection.getSignaturesForAddress(new PublicKey(ESCROW), { limit: 1001 }).then(
      () => null,
      (e: unknown) => e,
    );
    expect((tooMany as SolanaJSONRPCError).code).to.equal(-32602);
  });

  it('reports transactions as the runtime does: balances, fees, nested logs and inner instructions', () => {
    let failed = 0;
    for (const tx of ledger) {
      const meta = tx.meta;
      if (meta === null) throw new Error('meta is null');
      expect(tx.version).to.equal('legacy');
      // Each signature is its signer's ed25519 signature of the serialized message.
      const message = tx.transaction.message.serialize();
      tx.transaction.signatures.forEach((signature, i) => {
        const signer = tx.transaction.message.staticAccountKeys[i]!.toBuffer();
        const spki = createPublicKey({ key: Buffer.concat([ED25519_SPKI, signer]), format: 'der', type: 'spki' });
        expect(verify(null, message, spki, bs58.decode(signature)), signature).to.equal(true);
      });
      const keys = tx.transaction.message.staticAccountKeys;
      expect(meta.preBalances).to.have.length(keys.length);
      expect(meta.postBalances).to.have.length(keys.length);
      // The fee payer pays the fee; lamports are conserved otherwise.
      const pre = meta.preBalances.reduce((a, b) => a + b, 0);
      const post = meta.postBalances.reduce((a, b) => a + b, 0);
      expect(pre - post).to.equal(meta.fee);
      expect(meta.fee).to.be.at.least(5000 * tx.transaction.signatures.length);
      // Every invoke is closed by success or failed, depth by depth.
      const depths: number[] = [];
      for (const line of meta.logMessages ?? []) {
        const invoke = /^Program \S+ invoke \[(\d+)\]$/.exec(line);
        if (invoke !== null) {
          expect(Number(invoke[1])).to.equal(depths.length + 1);
          depths.push(Number(invoke[1]));
        } else if (/^Program \S+ (success|failed: .*)$/.test(line)) depths.pop();
      }
      expect(depths, tx.transaction.signatures[0]).to.deep.equal([]);
      if (meta.err !== null) {
        failed++;
        expect(meta.err).to.have.property('InstructionError');
        expect(meta.logMessages?.some((l) => / failed: custom program error: 0x[0-9a-f]+$/.test(l))).to.equal(true);
        expect(meta.postTokenBalances).to.deep.equal(meta.preTokenBalances);
      }
      // Inner instructions only use keys of the message.
      for (const group of meta.innerInstructions ?? [])
        for (const inner of group.instructions) {
          expect(inner.programIdIndex).to.be.below(keys.length);
          for (const i of inner.accounts) expect(i).to.be.below(keys.length);
        }
    }
    expect(failed, 'some transactions fail (slippage, an oversized treasury transfer)').to.be.greaterThan(0);
  });

  it('loads every program account, each decoding with the published layouts at its derived address', async () => {
    const cp = await connection.getProgramAccounts(new PublicKey(CP_SWAP), { withContext: true });
    expect(cp.context.slot).to.equal((await cluster.state()).slot);
    const configs = new Map<string, Decoded>();
    const pools: { pubkey: string; state: Decoded }[] = [];
    for (const { pubkey, account: info } of cp.value) {
      const disc = info.data.subarray(0, 8);
      const name = cpSwapIdl.accounts?.find((a) => Buffer.from(a.discriminator).equals(disc))?.name;
      expect(name, pubkey.toBase58()).to.be.a('string');
      const decoded = cpSwapCoder.accounts.decode(name as string, info.data) as Decoded;
      if (name === 'AmmConfig') configs.set(pubkey.toBase58(), decoded);
      if (name === 'PoolState') pools.push({ pubkey: pubkey.toBase58(), state: decoded });
    }
    expect(configs.size).to.be.at.least(1);
    expect(pools.length).to.be.at.least(2);
    for (const [address, c] of configs) {
      const index = Buffer.alloc(2);
      index.writeUInt16BE(Number(c['index']));
      expect(address).to.equal(pda([Buffer.from('amm_config'), index], CP_SWAP));
      expect(Number(c['trade_fee_rate'])).to.be.greaterThan(0);
    }
    for (const { pubkey, state } of pools) {
      const [m0, m1] = [key(state['token_0_mint']), key(state['token_1_mint'])];
      expect(Buffer.compare(new PublicKey(m0).toBuffer(), new PublicKey(m1).toBuffer())).to.equal(-1);
      expect(pubkey).to.equal(pda([Buffer.from('pool'), key(state['amm_config']), m0, m1], CP_SWAP));
      expect(key(state['token_0_vault'])).to.equal(pda([Buffer.from('pool_vault'), pubkey, m0], CP_SWAP));
      expect(key(state['lp_mint'])).to.equal(pda([Buffer.from('pool_lp_mint'), pubkey], CP_SWAP));
      expect(key(state['observation_key'])).to.equal(pda([Buffer.from('observation'), pubkey], CP_SWAP));
      const authority = pda([Buffer.from('vault_and_lp_mint_auth_seed')], CP_SWAP);
      const vault = decodeTokenAccount((await account(key(state['token_0_vault']))).data);
      expect(vault.owner).to.equal(authority);
      expect(vault.mint).to.equal(m0);
      const lpMint = decodeMint((await account(key(state['lp_mint']))).data);
      // 100 LP are locked at initialize: counted in lp_supply, never minted.
      expect(big(state['lp_supply'])).to.equal(lpMint.supply + 100n);
    }
    const filtered = await connection.getProgramAccounts(new PublicKey(CP_SWAP), {
      filters: [{ memcmp: { offset: 0, bytes: bs58.encode(sha256_8('account:PoolState')) } }],
    });
    expect(filtered.map((a) => a.pubkey.toBase58()).sort()).to.deep.equal(pools.map((p) => p.pubkey).sort());

    const offers = await connection.getProgramAccounts(new PublicKey(ESCROW), { filters: [{ dataSize: 121 }] });
    expect(offers.length, 'a first start finds open escrows').to.be.at.least(12);
    for (const { pubkey, account: info } of offers) {
      const o = decodeOffer(info.data);
      expect(pubkey.toBase58()).to.equal(pda([Buffer.from('offer'), o.maker, u64le(o.id)], ESCROW));
    }

    const listings = await connection.getProgramAccounts(new PublicKey(TCOMP));
    expect(listings.length, 'a first start finds active listings').to.be.at.least(4);
    // Allocated as on mainnet: a ListState account there has the same size.
    const mainnetListState = Buffer.from(
      readSample('tensor-marketplace/list-state-Ecob3R5t.json')['data'] as string,
      'base64',
    );
    for (const { account: info } of listings) expect(info.data.length).to.equal(mainnetListState.length);
    for (const { pubkey, account: info } of listings) {
      const l = tensorCoder.accounts.decode('ListState', info.data) as Decoded;
      expect(pubkey.toBase58()).to.equal(pda([Buffer.from('list_state'), key(l['assetId'])], TCOMP));
      expect(big(l['amount']) > 0n, 'listed for a price').to.equal(true);
    }

    const gov = await connection.getProgramAccounts(new PublicKey(GOVERNANCE));
    const kinds = new Map<number, number>();
    const proposals: Proposal[] = [];
    for (const { pubkey, account: info } of gov) {
      const type = info.data[0] as number;
      kinds.set(type, (kinds.get(type) ?? 0) + 1);
      if (type === GovernanceAccountType.ProposalV2) {
        const p = GovernanceAccountParser(Proposal)(pubkey, info).account as Proposal;
        proposals.push(p);
        expect(p.governance).to.be.instanceOf(PublicKey);
      } else if (type === GovernanceAccountType.RealmV2) {
        expect((GovernanceAccountParser(Realm)(pubkey, info).account as Realm).name).to.be.a('string');
      } else if (type === GovernanceAccountType.GovernanceV2) {
        const g = GovernanceAccountParser(Governance)(pubkey, info).account as Governance;
        expect(g.config.baseVotingTime).to.be.greaterThan(0);
      } else if (type === GovernanceAccountType.TokenOwnerRecordV2) {
        const r = GovernanceAccountParser(TokenOwnerRecord)(pubkey, info).account as TokenOwnerRecord;
        expect(pubkey.toBase58()).to.equal(
          pda(
            [
              Buffer.from('governance'),
              r.realm.toBase58(),
              r.governingTokenMint.toBase58(),
              r.governingTokenOwner.toBase58(),
            ],
            GOVERNANCE,
          ),
        );
      } else if (type === GovernanceAccountType.VoteRecordV2) {
        GovernanceAccountParser(VoteRecord)(pubkey, info);
      }
    }
    for (const type of [
      GovernanceAccountType.RealmV2,
      GovernanceAccountType.GovernanceV2,
      GovernanceAccountType.TokenOwnerRecordV2,
      GovernanceAccountType.ProposalV2,
      GovernanceAccountType.VoteRecordV2,
      GovernanceAccountType.ProposalTransactionV2,
    ])
      expect(kinds.get(type), GovernanceAccountType[type]).to.be.greaterThan(0);
    expect(
      proposals.some((p) => p.state === ProposalState.Voting),
      'a first start finds proposals in voting',
    ).to.equal(true);
    expect(proposals.some((p) => p.state === ProposalState.Succeeded || p.state === ProposalState.Completed)).to.equal(
      true,
    );
    expect(proposals.some((p) => p.state === ProposalState.Defeated)).to.equal(true);
  });

  it('emits SwapEvents of the length mainnet ones have, decoding alike', () => {
    const mainnet = readSample('raydium-cp-swap/swap-event-4kKAK8GF.json')['programData'] as string;
    expect(cpSwapCoder.events.decode(mainnet)?.name).to.equal('SwapEvent');
    const ours = (history.get(CP_SWAP) ?? [])
      .flatMap((tx) => programData(tx.meta?.logMessages ?? [], CP_SWAP))
      .map((e) => e.data)
      .filter((d) => cpSwapCoder.events.decode(d)?.name === 'SwapEvent');
    expect(ours.length).to.be.greaterThan(0);
    for (const d of ours) expect(Buffer.from(d, 'base64').length).to.equal(Buffer.from(mainnet, 'base64').length);
  });

  it('keeps each pool vault at reserve plus fees, the reserves following the SwapEvent and LpChangeEvent arithmetic', async () => {
    const rates = new Map<string, { trade: bigint; protocol: bigint; fund: bigint }>();
    for (const { pubkey, account: info } of await connection.getProgramAccounts(new PublicKey(CP_SWAP), {
      filters: [{ memcmp: { offset: 0, bytes: bs58.encode(sha256_8('account:AmmConfig')) } }],
    })) {
      const c = cpSwapCoder.accounts.decode('AmmConfig', info.data) as Decoded;
      rates.set(pubkey.toBase58(), {
        trade: big(c['trade_fee_rate']),
        protocol: big(c['protocol_fee_rate']),
        fund: big(c['fund_fee_rate']),
      });
    }
    const reserves = new Map<string, [bigint, bigint]>();
    const lpSupply = new Map<string, bigint>();
    let swaps = 0;
    let lpChanges = 0;
    for (const tx of history.get(CP_SWAP) ?? []) {
      if (tx.meta?.err !== null) continue;
      const ixs = instructionsOf(tx).filter((i) => i.programId === CP_SWAP && !i.inner);
      const events = programData(tx.meta?.logMessages ?? [], CP_SWAP).map((e) => ({
        ...e,
        event: cpSwapCoder.events.decode(e.data),
      }));
      for (const ix of ixs) {
        const decoded = cpSwapCoder.instruction.decode(ix.data);
        if (decoded === null) throw new Error('a CP-Swap instruction does not decode');
        const accounts = named(cpSwapIdl, decoded.name, ix);
        const args = decoded.data as Decoded;
        const event = events.find((e) => e.outer === ix.outer)?.event;
        if (decoded.name === 'initialize') {
          const pool = accounts['pool_state'] as string;
          reserves.set(pool, [big(args['init_amount_0']), big(args['init_amount_1'])]);
          const liquidity = sqrt(big(args['init_amount_0']) * big(args['init_amount_1']));
          lpSupply.set(pool, liquidity);
        } else if (decoded.name === 'swap_base_input' || decoded.name === 'swap_base_output') {
          if (event?.name !== 'SwapEvent') throw new Error(`${decoded.name} without a SwapEvent`);
          swaps++;
          const e = event.data as Decoded;
          const pool = key(e['pool_id']);
          expect(pool).to.equal(accounts['pool_state']);
          const state = cpSwapCoder.accounts.decode('PoolState', (await account(pool)).data) as Decoded;
          const zeroIn = accounts['input_vault'] === key(state['token_0_vault']);
          const [r0, r1] = reserves.get(pool) ?? [0n, 0n];
          const [rIn, rOut] = zeroIn ? [r0, r1] : [r1, r0];
          expect([big(e['input_vault_before']), big(e['output_vault_before'])]).to.deep.equal([rIn, rOut]);
          const r = rates.get(accounts['amm_config'] as string)!;
          const amountIn = big(e['input_amount']);
          const fee = (amountIn * r.trade + FEE_DENOMINATOR - 1n) / FEE_DENOMINATOR;
          const kept = amountIn - (fee * r.protocol) / FEE_DENOMINATOR - (fee * r.fund) / FEE_DENOMINATOR;
          if (e['base_input'] === true) {
            expect(amountIn).to.equal(big(args['amount_in']));
            expect(big(e['output_amount'])).to.equal((rOut * (amountIn - fee)) / (rIn + amountIn - fee));
          } else {
            expect(big(e['output_amount'])).to.equal(big(args['amount_out']));
            expect(amountIn <= big(args['max_amount_in']), 'within max_amount_in').to.equal(true);
          }
          const inAfter = rIn + kept;
          const outAfter = rOut - big(e['output_amount']);
          reserves.set(pool, zeroIn ? [inAfter, outAfter] : [outAfter, inAfter]);
          // The token movements are the SPL Token TransferChecked CPIs of the instruction.
          const transfers = instructionsOf(tx).filter((i) => i.inner && i.outer === ix.outer && i.data[0] === 12);
          expect(transfers.map((t) => t.data.readBigUInt64LE(1))).to.deep.equal([amountIn, big(e['output_amount'])]);
          expect(transfers[0]?.accounts).to.deep.equal([
            accounts['input_token_account'],
            accounts['input_token_mint'],
            accounts['input_vault'],
            accounts['payer'],
          ]);
        } else if (decoded.name === 'deposit' || decoded.name === 'withdraw') {
          if (event?.name !== 'LpChangeEvent') throw new Error(`${decoded.name} without an LpChangeEvent`);
          lpChanges++;
          const e = event.data as Decoded;
          const pool = key(e['pool_id']);
          const [r0, r1] = reserves.get(pool) ?? [0n, 0n];
          expect([big(e['token_0_vault_before']), big(e['token_1_vault_before'])]).to.deep.equal([r0, r1]);
          const supply = lpSupply.get(pool) ?? 0n;
          expect(big(e['lp_amount_before'])).to.equal(supply);
          const lp = big(args['lp_token_amount']);
          const deposit = Number(e['change_type']) === 0;
          expect(decoded.name === 'deposit').to.equal(deposit);
          for (const [amount, reserve] of [
            [big(e['token_0_amount']), r0],
            [big(e['token_1_amount']), r1],
          ] as const) {
            const floor = (lp * reserve) / supply;
            const exact = (lp * reserve) % supply === 0n;
            expect(amount).to.equal(deposit && !exact && floor > 0n ? floor + 1n : floor);
          }
          const sign = deposit ? 1n : -1n;
          reserves.set(pool, [r0 + sign * big(e['token_0_amount']), r1 + sign * big(e['token_1_amount'])]);
          lpSupply.set(pool, supply + sign * lp);
        }
      }
    }
    expect(swaps).to.be.greaterThan(10);
    expect(lpChanges).to.be.greaterThan(0);
    for (const [pool, [r0, r1]] of reserves) {
      const state = cpSwapCoder.accounts.decode('PoolState', (await account(pool)).data) as Decoded;
      const v0 = decodeTokenAccount((await account(key(state['token_0_vault']))).data).amount;
      const v1 = decodeTokenAccount((await account(key(state['token_1_vault']))).data).amount;
      expect(v0, `${pool} vault 0`).to.equal(
        r0 + big(state['protocol_fees_token_0']) + big(state['fund_fees_token_0']),
      );
      expect(v1, `${pool} vault 1`).to.equal(
        r1 + big(state['protocol_fees_token_1']) + big(state['fund_fees_token_1']),
      );
      expect(big(state['lp_supply'])).to.equal(lpSupply.get(pool));
      const balance = await connection.getTokenAccountBalance(new PublicKey(key(state['token_0_vault'])));
      expect(BigInt(balance.value.amount)).to.equal(v0);
    }
  });

  it('keeps each open escrow vault holding the offered amount of make_offer', async () => {
    const offered = new Map<string, bigint>();
    let takes = 0;
    for (const tx of history.get(ESCROW) ?? []) {
      if (tx.meta?.err !== null) continue;
      for (const ix of instructionsOf(tx)) {
        if (ix.programId !== ESCROW || ix.inner) continue;
        const decoded = escrowInstruction(ix.data);
        if (decoded === null) throw new Error('an escrow instruction does not decode');
        if (decoded.name === 'make_offer') {
          const [id, amountA] = decoded.args;
          const [maker, mintA, , makerA, offer, vault] = ix.accounts;
          expect(offer).to.equal(pda([Buffer.from('offer'), maker as string, u64le(id as bigint)], ESCROW));
          expect(vault).to.equal(associatedTokenAddress(offer as string, mintA as string));
          const deposit = instructionsOf(tx).find((i) => i.inner && i.data[0] === 12 && i.accounts[2] === vault);
          expect(deposit?.accounts).to.deep.equal([makerA, mintA, vault, maker]);
          expect(deposit?.data.readBigUInt64LE(1)).to.equal(amountA);
          offered.set(offer as string, amountA as bigint);
        } else {
          const offer = decoded.name === 'take_offer' ? ix.accounts[7] : ix.accounts[3];
          if (decoded.name === 'take_offer') takes++;
          offered.delete(offer as string);
        }
      }
    }
    expect(takes).to.be.greaterThan(0);
    const open = await connection.getProgramAccounts(new PublicKey(ESCROW));
    expect(open.map((a) => a.pubkey.toBase58()).sort()).to.deep.equal([...offered.keys()].sort());
    for (const { pubkey, account: info } of open) {
      const o = decodeOffer(info.data);
      const vault = decodeTokenAccount((await account(associatedTokenAddress(pubkey.toBase58(), o.mintA))).data);
      expect(vault.owner).to.equal(pubkey.toBase58());
      expect(vault.amount).to.equal(offered.get(pubkey.toBase58()));
    }
  });

  it('records TComp events as self-invoked tcomp_noop instructions whose only account is the list state', async () => {
    const makers = new Map<string, Decoded>();
    let takers = 0;
    for (const tx of history.get(TCOMP) ?? []) {
      if (tx.meta?.err !== null) continue;
      for (const ix of instructionsOf(tx)) {
        if (ix.programId !== TCOMP) continue;
        const decoded = tensorCoder.instruction.decode(ix.data);
        if (decoded === null) throw new Error('a TComp instruction does not decode');
        if (decoded.name !== 'tcompNoop') {
          expect(ix.inner).to.equal(false);
          expect(['list', 'buy', 'delist']).to.include(decoded.name);
          continue;
        }
        expect(ix.inner, 'events travel as inner instructions').to.equal(true);
        const event = (decoded.data as Decoded)['event'] as Record<string, Record<string, Decoded>>;
        const [variant] = Object.keys(event);
        const payload = Object.values(event[variant as string] ?? {})[0] as Decoded;
        const outer = instructionsOf(tx).find((i) => !i.inner && i.outer === ix.outer && i.programId === TCOMP)!;
        const outerName = tensorCoder.instruction.decode(outer.data)?.name as string;
        const listState = named(tensorIdl as typeof cpSwapIdl, outerName, outer)['listState'];
        expect(ix.accounts).to.deep.equal([listState]);
        expect(key(payload['targetId'])).to.equal(key(payload['assetId']));
        expect(Object.keys(payload['target'] as Decoded)).to.deep.equal(['AssetId']);
        if (variant === 'Maker') {
          expect(outerName).to.equal('list');
          makers.set(listState as string, payload);
        } else {
          expect(variant).to.equal('Taker');
          expect(outerName).to.equal('buy');
          takers++;
          const fees = big(payload['tcompFee']) + big(payload['takerBrokerFee']) + big(payload['makerBrokerFee']);
          expect(fees).to.equal((big(payload['amount']) * 200n) / 10_000n);
        }
      }
    }
    expect(makers.size).to.be.greaterThan(4);
    expect(takers).to.be.greaterThan(0);
    for (const { pubkey, account: info } of await connection.getProgramAccounts(new PublicKey(TCOMP))) {
      const l = tensorCoder.accounts.decode('ListState', info.data) as Decoded;
      const made = makers.get(pubkey.toBase58());
      expect(made, pubkey.toBase58()).to.not.equal(undefined);
      expect(big(made?.['amount'])).to.equal(big(l['amount']));
      expect(key(made?.['maker'])).to.equal(key(l['owner']));
    }
  });

  it('counts governance votes from CastVote into the proposals, and executes some transactions unsuccessfully', async () => {
    const schema = getGovernanceInstructionSchema(2);
    const tallies = new Map<string, { yes: bigint; no: bigint }>();
    let executions = 0;
    let failedExecutions = 0;
    for (const tx of history.get(GOVERNANCE) ?? []) {
      for (const ix of instructionsOf(tx)) {
        if (ix.programId !== GOVERNANCE || ix.inner) continue;
        if (ix.data[0] === 16) {
          executions++;
          if (tx.meta?.err !== null) failedExecutions++;
        }
        if (ix.data[0] !== 13 || tx.meta?.err !== null) continue;
        const args = deserializeBorsh(schema, CastVoteArgs, ix.data) as CastVoteArgs;
        const [realm, governance, proposal, , voterRecord, , voteRecord] = ix.accounts;
        expect(voteRecord).to.equal(
          pda([Buffer.from('governance'), proposal as string, voterRecord as string], GOVERNANCE),
        );
        const record = GovernanceAccountParser(VoteRecord)(
          new PublicKey(voteRecord as string),
          await account(voteRecord as string),
        ).account as VoteRecord;
        expect(record.proposal.toBase58()).to.equal(proposal);
        const vote = args.vote;
        if (vote === undefined) throw new Error('CastVote without a vote');
        expect(record.vote?.voteType).to.equal(vote.voteType);
        const owner = GovernanceAccountParser(TokenOwnerRecord)(
          new PublicKey(voterRecord as string),
          await account(voterRecord as string),
        ).account as TokenOwnerRecord;
        expect(record.voterWeight?.toString()).to.equal(owner.governingTokenDepositAmount.toString());
        expect(owner.realm.toBase58()).to.equal(realm);
        const t = tallies.get(proposal as string) ?? { yes: 0n, no: 0n };
        if (vote.voteType === VoteKind.Approve) t.yes += big(record.voterWeight);
        else t.no += big(record.voterWeight);
        tallies.set(proposal as string, t);
        const p = GovernanceAccountParser(Proposal)(
          new PublicKey(proposal as string),
          await account(proposal as string),
        ).account as Proposal;
        expect(p.governance.toBase58()).to.equal(governance);
      }
    }
    expect(tallies.size).to.be.greaterThan(2);
    for (const [address, t] of tallies) {
      const p = GovernanceAccountParser(Proposal)(new PublicKey(address), await account(address)).account as Proposal;
      expect(big(p.getYesVoteCount())).to.equal(t.yes);
      expect(big(p.getNoVoteCount())).to.equal(t.no);
      const g = GovernanceAccountParser(Governance)(p.governance, await account(p.governance.toBase58()))
        .account as Governance;
      const index = [...Array(g.proposalCount).keys()].find(
        (i) =>
          pda(
            [Buffer.from('governance'), p.governance.toBase58(), p.governingTokenMint.toBase58(), u32le(i)],
            GOVERNANCE,
          ) === address,
      );
      expect(index, 'proposals are at ["governance", governance, mint, index u32 LE]').to.not.equal(undefined);
    }
    expect(executions).to.be.greaterThan(failedExecutions);
    expect(failedExecutions).to.be.greaterThan(0);
  });

  it('notifies program, logs, account and slot subscribers of every new block', async () => {
    const base = await cluster.state();
    const pool = (
      await connection.getProgramAccounts(new PublicKey(CP_SWAP), {
        filters: [{ memcmp: { offset: 0, bytes: bs58.encode(sha256_8('account:PoolState')) } }],
      })
    )[0]!.pubkey;
    const programNotes: { id: string; slot: number; data: Buffer }[] = [];
    const logNotes: Logs[] = [];
    const allLogs: string[] = [];
    const slots: SlotInfo[] = [];
    const poolNotes: { info: AccountInfo<Buffer>; ctx: Context }[] = [];
    const ids = [
      connection.onProgramAccountChange(
        new PublicKey(CP_SWAP),
        (info: KeyedAccountInfo, ctx: Context) =>
          programNotes.push({ id: info.accountId.toBase58(), slot: ctx.slot, data: info.accountInfo.data }),
        { commitment: 'confirmed', encoding: 'base64' },
      ),
      connection.onLogs(new PublicKey(CP_SWAP), (logs) => logNotes.push(logs), 'confirmed'),
      connection.onLogs('all', (logs) => allLogs.push(logs.signature), 'confirmed'),
      connection.onSlotChange((s) => slots.push(s)),
      connection.onAccountChange(pool, (info, ctx) => poolNotes.push({ info, ctx }), { commitment: 'confirmed' }),
    ];
    try {
      await waitFor('five subscriptions', async () => ((await cluster.state()).subscriptions >= 5 ? true : undefined));
      const after = await cluster.control('step?n=40');
      expect(after.slot).to.be.at.least(base.slot + 40);
      await waitFor('40 slot notifications', () => (slots.length >= 40 ? true : undefined));
      await waitFor('40 logs notifications', () => (allLogs.length >= 40 ? true : undefined));
      expect(slots.map((s) => s.slot)).to.deep.equal([...slots.map((s) => s.slot)].sort((a, b) => a - b));
      expect(slots[slots.length - 1]?.slot).to.equal(after.slot);
      const cpSwapPlayed = (await connection.getSignaturesForAddress(new PublicKey(CP_SWAP), { limit: 100 })).filter(
        (s) => s.slot > base.slot,
      );
      expect(cpSwapPlayed.length).to.be.greaterThan(0);
      await waitFor('CP-Swap logs notifications', () => (logNotes.length >= cpSwapPlayed.length ? true : undefined));
      expect(logNotes.map((l) => l.signature)).to.deep.equal(cpSwapPlayed.map((s) => s.signature).reverse());
      for (const note of logNotes) {
        const tx = await connection.getTransaction(note.signature, { maxSupportedTransactionVersion: 0 });
        expect(note.logs).to.deep.equal(tx?.meta?.logMessages);
        expect(note.err).to.deep.equal(tx?.meta?.err);
      }
      await waitFor('CP-Swap program notifications', () => (programNotes.length > 0 ? true : undefined));
      for (const note of programNotes) expect(note.slot).to.be.above(base.slot);
      // The last notification of an account is its current state.
      const latest = new Map(programNotes.map((n) => [n.id, n.data]));
      for (const [id, data] of latest) expect(data.equals((await account(id)).data), id).to.equal(true);
      // The pool account is notified once per slot whose transactions wrote it.
      const poolSlots = new Set<number>();
      for (const s of cpSwapPlayed) {
        const tx = await connection.getTransaction(s.signature, { maxSupportedTransactionVersion: 0 });
        const keys = tx?.transaction.message.staticAccountKeys.map((k) => k.toBase58()) ?? [];
        if (tx?.meta?.err === null && keys.includes(pool.toBase58())) poolSlots.add(s.slot);
      }
      await waitFor('the pool notifications', () => (poolNotes.length >= poolSlots.size ? true : undefined));
      expect(poolNotes.map((n) => n.ctx.slot)).to.deep.equal([...poolSlots].sort((a, b) => a - b));
      const last = poolNotes[poolNotes.length - 1];
      if (last !== undefined) {
        expect(last.info.data.equals((await account(pool.toBase58())).data)).to.equal(true);
        expect(last.info.owner.toBase58()).to.equal(CP_SWAP);
      }
    } finally {
      await connection.removeProgramAccountChangeListener(ids[0]!);
      await connection.removeOnLogsListener(ids[1]!);
      await connection.removeOnLogsListener(ids[2]!);
      await connection.removeSlotChangeListener(ids[3]!);
      await connection.removeAccountChangeListener(ids[4]!);
    }
    await waitFor('the unsubscribes', async () => ((await cluster.state()).subscriptions === 0 ? true : undefined));
  });

  it("notifies a signature subscriber once with the transaction's error, then ends the subscription", async () => {
    const failed = ledger.find((tx) => tx.meta?.err !== null);
    const succeeded = ledger.find((tx) => tx.meta?.err === null);
    if (failed === undefined || succeeded === undefined) throw new Error('need a failed and a succeeded transaction');
    const seen: { signature: string; err: unknown; slot: number }[] = [];
    for (const tx of [failed, succeeded]) {
      const signature = tx.transaction.signatures[0] ?? '';
      connection.onSignature(
        signature,
        (result, ctx) => seen.push({ signature, err: result.err, slot: ctx.slot }),
        'confirmed',
      );
    }
    await waitFor('both signature notifications', () => (seen.length === 2 ? true : undefined));
    for (const tx of [failed, succeeded]) {
      const note = seen.find((s) => s.signature === tx.transaction.signatures[0]);
      expect(note?.slot).to.equal(tx.slot);
      expect(note?.err).to.deep.equal(tx.meta?.err);
    }
    await waitFor('the signature subscriptions to end', async () =>
      (await cluster.state()).subscriptions === 0 ? true : undefined,
    );
  });

  it('speaks RFC 6455 to a standard websocket client: ping, fragmented messages, close', async () => {
    const socket = new WebSocket(cluster.wsUrl);
    const messages: string[] = [];
    socket.on('message', (data: Buffer) => messages.push(data.toString()));
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    const pong = new Promise<Buffer>((resolve) => socket.once('pong', resolve));
    socket.ping(Buffer.from('are you there'));
    expect((await pong).toString()).to.equal('are you there');
    // One request split over three frames, the last one final.
    const request = JSON.stringify({ jsonrpc: '2.0', id: 41, method: 'slotSubscribe' });
    socket.send(request.slice(0, 10), { fin: false });
    socket.send(request.slice(10, 20), { fin: false });
    socket.send(request.slice(20), { fin: true });
    const reply = await waitFor('the subscription reply', () => messages[0]);
    const { result, id } = JSON.parse(reply) as { result: number; id: number };
    expect(id).to.equal(41);
    const stepped = await cluster.control('step?n=1');
    const note = await waitFor('a slot notification', () => messages[1]);
    expect(JSON.parse(note)).to.deep.include({ jsonrpc: '2.0', method: 'slotNotification' });
    expect((JSON.parse(note) as { params: { subscription: number; result: { slot: number } } }).params).to.deep.equal({
      subscription: result,
      result: { parent: stepped.slot - 1, root: stepped.slot, slot: stepped.slot },
    });
    socket.send(JSON.stringify({ jsonrpc: '2.0', id: 42, method: 'slotUnsubscribe', params: [result] }));
    expect(JSON.parse(await waitFor('the unsubscribe reply', () => messages[2]))).to.deep.equal({
      jsonrpc: '2.0',
      result: true,
      id: 42,
    });
    socket.send(JSON.stringify({ jsonrpc: '2.0', id: 43, method: 'slotUnsubscribe', params: [result] }));
    const again = JSON.parse(await waitFor('the second unsubscribe reply', () => messages[3])) as {
      error: { code: number };
    };
    expect(again.error.code).to.equal(-32602);
    const closed = new Promise<number>((resolve) => socket.once('close', (code: number) => resolve(code)));
    socket.close(1000, 'done');
    expect(await closed).to.equal(1000);
  });

  it('does not notify programSubscribe of an account its transaction closed; accountSubscribe sees it emptied', async () => {
    const offers = (await connection.getProgramAccounts(new PublicKey(ESCROW))).map((a) => a.pubkey.toBase58());
    const programNotes: { id: string; slot: number; owner: string }[] = [];
    const slots: number[] = [];
    const slotId = connection.onSlotChange((s) => slots.push(s.slot));
    const accountNotes = new Map<string, { slot: number; lamports: number; owner: string; length: number }[]>();
    const programId = connection.onProgramAccountChange(
      new PublicKey(ESCROW),
      (info, ctx) =>
        programNotes.push({ id: info.accountId.toBase58(), slot: ctx.slot, owner: info.accountInfo.owner.toBase58() }),
      { commitment: 'confirmed', encoding: 'base64' },
    );
    const accountIds = offers.map((offer) =>
      connection.onAccountChange(
        new PublicKey(offer),
        (info, ctx) => {
          const list = accountNotes.get(offer) ?? [];
          list.push({
            slot: ctx.slot,
            lamports: info.lamports,
            owner: info.owner.toBase58(),
            length: info.data.length,
          });
          accountNotes.set(offer, list);
        },
        { commitment: 'confirmed', encoding: 'base64' },
      ),
    );
    try {
      await waitFor('the escrow subscriptions', async () =>
        (await cluster.state()).subscriptions >= offers.length + 2 ? true : undefined,
      );
      // Play until one of the watched offers is taken or refunded (its account closed).
      const closed = await waitFor('an offer to close', async () => {
        await cluster.control('step?n=5');
        for (const offer of offers) if ((await connection.getAccountInfo(new PublicKey(offer))) === null) return offer;
        return undefined;
      });
      const closing = await waitFor('the closing notification', () =>
        accountNotes.get(closed)?.find((n) => n.lamports === 0),
      );
      expect(closing.owner).to.equal(SYSTEM_PROGRAM);
      expect(closing.length).to.equal(0);
      const [closingTx] = await connection.getSignaturesForAddress(new PublicKey(closed), { limit: 1 });
      expect(closingTx?.slot).to.equal(closing.slot);
      await waitFor('an escrow program notification', async () => {
        if (programNotes.length > 0) return true;
        await cluster.control('step?n=3');
        return undefined;
      });
      // A block's notifications leave in order on one socket: once a later block's slot
      // notification is in, every notification of the closing block has arrived.
      const barrier = await cluster.control('step?n=1');
      await waitFor('the next slot notification', () => (slots.includes(barrier.slot) ? true : undefined));
      expect(programNotes.filter((n) => n.id === closed)).to.deep.equal([]);
      for (const note of programNotes) expect(note.owner).to.equal(ESCROW);
    } finally {
      await connection.removeProgramAccountChangeListener(programId);
      await connection.removeSlotChangeListener(slotId);
      for (const id of accountIds) await connection.removeAccountChangeListener(id);
    }
  });

  it('drops every PubSub connection on /control/drop-websockets, and web3.js resubscribes', async () => {
    const slots: number[] = [];
    const id = connection.onSlotChange((s) => slots.push(s.slot));
    try {
      await waitFor('the slot subscription', async () =>
        (await cluster.state()).subscriptions >= 1 ? true : undefined,
      );
      const before = await cluster.state();
      const dropped = (await cluster.control('drop-websockets')) as unknown as { dropped: number };
      expect(dropped.dropped).to.be.at.least(1);
      const gone = await cluster.state();
      expect(gone.websockets).to.equal(0);
      expect(gone.subscriptions).to.equal(0);
      expect(gone.droppedWebsockets).to.equal(before.droppedWebsockets + dropped.dropped);
      await waitFor('web3.js to reconnect and resubscribe', async () =>
        (await cluster.state()).subscriptions >= 1 ? true : undefined,
      );
      const stepped = await cluster.control('step?n=1');
      await waitFor('a slot notification after the drop', () => (slots.includes(stepped.slot) ? true : undefined));
    } finally {
      await connection.removeSlotChangeListener(id);
    }
  });
});

describe('independent cluster process', function () {
  this.timeout(60_000);

  it('needs python3, which is present', () => {
    expect(requirePython()).to.match(/^Python 3\.(1[1-9]|[2-9]\d)/);
  });

  it('plays the same ledger from the same seed and another from another seed', async () => {
    const runs = await Promise.all([7, 7, 8].map((seed) => startIndependentCluster({ seed, history: 60 })));
    try {
      const snapshot = async (c: IndependentCluster) => {
        const conn = new Connection(c.rpcUrl, 'confirmed');
        const out: string[] = [];
        for (const program of PROGRAMS) {
          out.push(
            ...(await conn.getSignaturesForAddress(new PublicKey(program))).map((s) => `${s.slot}:${s.signature}`),
          );
          for (const a of await conn.getProgramAccounts(new PublicKey(program)))
            out.push(`${a.pubkey.toBase58()}:${a.account.data.toString('base64')}`);
        }
        return out;
      };
      const [a, b, other] = await Promise.all(runs.map(snapshot));
      expect(a?.length).to.be.greaterThan(60);
      expect(b).to.deep.equal(a);
      expect(other).to.not.deep.equal(a);
    } finally {
      for (const run of runs) expect(await run.stop()).to.equal(0);
    }
  });

  it('plays --rate transactions per second on its own, and exits cleanly on SIGTERM', async () => {
    const c = await startIndependentCluster({ history: 10, rate: 25 });
    try {
      const start = await c.state();
      await waitFor('live transactions', async () =>
        (await c.state()).transactions >= start.transactions + 5 ? true : undefined,
      );
      const paused = await c.control('pause');
      expect(paused.paused).to.equal(true);
      const stepped = await c.control('step?n=3');
      expect(stepped.transactions).to.be.at.least(paused.transactions + 3);
    } finally {
      expect(await c.stop()).to.equal(0);
    }
  });

  it('plays only the programs given with --programs, and answers over --rate-limit with HTTP 429', async () => {
    const c = await startIndependentCluster({ history: 30, programs: [ESCROW], rateLimit: 5 });
    try {
      const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'getSlot' });
      const answers = await Promise.all(
        Array.from({ length: 20 }, () =>
          fetch(c.rpcUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body }),
        ),
      );
      const limited = answers.filter((r) => r.status === 429);
      expect(limited.length).to.be.greaterThan(0);
      expect(limited[0]?.headers.get('retry-after')).to.equal('1');
      // web3.js waits and retries a 429 by itself.
      const conn = new Connection(c.rpcUrl, 'confirmed');
      expect(await conn.getSignaturesForAddress(new PublicKey(CP_SWAP))).to.deep.equal([]);
      expect((await conn.getSignaturesForAddress(new PublicKey(ESCROW))).length).to.equal(30);
      expect((await c.state()).rateLimited).to.be.at.least(limited.length);
    } finally {
      expect(await c.stop()).to.equal(0);
    }
  });
});

function sqrt(n: bigint): bigint {
  if (n < 2n) return n;
  let x = BigInt(Math.floor(Math.sqrt(Number(n))));
  while (x * x > n) x--;
  while ((x + 1n) * (x + 1n) <= n) x++;
  return x;
}
