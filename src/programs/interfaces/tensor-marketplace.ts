// Tensor marketplace (TComp) `TCMPhJdwDryooaGtiocG1u3xcYbRpiJzb283XfCZsDp`, as its published
// interface (version 0.7.1, an Anchor 0.29 program) lays it out. Listings exist for five kinds of
// asset (compressed, legacy/pNFT, Token-2022, WNS, Core), each with its own list / delist / buy /
// close-expired instruction; solstream reads the accounts and arguments of those and of the event
// carrier `tcompNoop`, and only recognises the bid instructions and the SPL-currency variants by
// name (their events, carried by tcompNoop, are what it maps).
import type { FieldType, InstructionDef, ProgramInterface } from './program-interface.ts';

const optionalPubkey: FieldType = { option: 'pubkey' };
const hash: FieldType = { array: ['u8', 32] };
const authorizationData: FieldType = { option: { defined: 'AuthorizationDataLocal' } };

/** A listing's terms, the arguments every list instruction starts with. */
const listTerms = {
  amount: 'u64',
  expireInSec: { option: 'u64' },
  currency: optionalPubkey,
  privateTaker: optionalPubkey,
  makerBroker: optionalPubkey,
} as const;

/** The leaf of a compressed NFT being moved, as Bubblegum's proofs identify it. */
const compressedLeaf = { nonce: 'u64', index: 'u32', root: hash, dataHash: hash, creatorHash: hash } as const;

const bubblegum = ['treeAuthority', 'merkleTree*', 'logWrapper', 'compressionProgram'];
const tokenAccounts = ['ownerTa*', 'listState*', 'listTa*', 'mint'];
const metadataAccounts = [
  'metadata*',
  'edition',
  'ownerTokenRecord*?',
  'listTokenRecord*?',
  'authorizationRules?',
  'authorizationRulesProgram?',
  'tokenMetadataProgram?',
  'sysvarInstructions?',
];
const wnsAccounts = ['approve*', 'distribution*', 'wnsProgram', 'distributionProgram', 'extraMetas'];
const tokenPrograms = ['tokenProgram', 'associatedTokenProgram'];
const brokers = ['takerBroker*?', 'makerBroker*?', 'rentDestination*'];
/** The seller then the payer for token-account listings; compressed and Core listings name the payer first. */
const sellerThenPayer = ['owner*', 'payer*!', ...brokers];
const payerThenSeller = ['payer*!', 'owner*', ...brokers];

const compressed: Record<string, InstructionDef> = {
  list: {
    accounts: [
      'treeAuthority',
      'owner',
      'delegate',
      'merkleTree*',
      'logWrapper',
      'compressionProgram',
      'systemProgram',
      'bubblegumProgram',
      'marketplaceProgram',
      'listState*',
      'rentPayer*!',
      'cosigner?',
    ],
    args: { ...compressedLeaf, ...listTerms },
  },
  delist: {
    accounts: [
      ...bubblegum,
      'systemProgram',
      'bubblegumProgram',
      'listState*',
      'owner!',
      'marketplaceProgram',
      'rentDestination*',
    ],
    args: compressedLeaf,
  },
  closeExpiredListing: {
    accounts: [
      'listState*',
      'owner',
      'systemProgram',
      'marketplaceProgram',
      ...bubblegum,
      'bubblegumProgram',
      'rentDestination*',
    ],
    args: compressedLeaf,
  },
  buy: {
    accounts: [
      'feeVault*',
      ...bubblegum,
      'systemProgram',
      'bubblegumProgram',
      'marketplaceProgram',
      'listState*',
      'buyer',
      ...payerThenSeller,
      'cosigner?',
    ],
    args: {
      nonce: 'u64',
      index: 'u32',
      root: hash,
      metaHash: hash,
      creatorShares: 'bytes',
      creatorVerified: { vec: 'bool' },
      sellerFeeBasisPoints: 'u16',
      maxAmount: 'u64',
      optionalRoyaltyPct: { option: 'u16' },
    },
  },
};

const legacy: Record<string, InstructionDef> = {
  listLegacy: {
    accounts: [
      'owner!',
      ...tokenAccounts,
      'payer*!',
      ...tokenPrograms,
      'marketplaceProgram',
      'systemProgram',
      ...metadataAccounts,
      'cosigner!?',
    ],
    args: { ...listTerms, authorizationData },
  },
  delistLegacy: {
    accounts: [
      'owner*!',
      ...tokenAccounts,
      'rentDestination*',
      'payer*!',
      ...tokenPrograms,
      'marketplaceProgram',
      'systemProgram',
      ...metadataAccounts,
    ],
    args: { authorizationData },
  },
  closeExpiredListingLegacy: {
    accounts: [
      'owner',
      ...tokenAccounts,
      'payer*!',
      'rentDestination*',
      ...tokenPrograms,
      'systemProgram',
      'marketplaceProgram',
      ...metadataAccounts,
    ],
    args: { authorizationData },
  },
  buyLegacy: {
    accounts: [
      'feeVault*',
      'buyer',
      'buyerTa*',
      'listTa*',
      'listState*',
      'mint',
      ...sellerThenPayer,
      ...tokenPrograms,
      'marketplaceProgram',
      'systemProgram',
      'metadata*',
      'edition',
      'buyerTokenRecord*?',
      'listTokenRecord*?',
      'authorizationRules?',
      'authorizationRulesProgram?',
      'tokenMetadataProgram?',
      'sysvarInstructions?',
      'cosigner!?',
    ],
    args: { maxAmount: 'u64', optionalRoyaltyPct: { option: 'u16' }, authorizationData },
  },
};

/** Token-2022 and WNS listings share one account layout; WNS adds its royalty accounts. */
function tokenExtensionListings(suffix: 'T22' | 'Wns', extra: readonly string[]): Record<string, InstructionDef> {
  const wns = suffix === 'Wns';
  return {
    [`list${suffix}`]: {
      accounts: [
        'owner!',
        ...tokenAccounts,
        'payer*!',
        ...tokenPrograms,
        'marketplaceProgram',
        'systemProgram',
        ...extra,
        'cosigner!?',
        ...(wns ? ['currency?'] : []),
      ],
      // WNS listings are paid in SOL only: no currency argument.
      args: wns
        ? { amount: 'u64', expireInSec: { option: 'u64' }, privateTaker: optionalPubkey, makerBroker: optionalPubkey }
        : listTerms,
    },
    [`delist${suffix}`]: {
      accounts: [
        wns ? 'owner!' : 'owner*!',
        ...tokenAccounts,
        'rentDestination*',
        'payer*!',
        ...tokenPrograms,
        'marketplaceProgram',
        'systemProgram',
        ...extra,
      ],
      args: {},
    },
    [`closeExpiredListing${suffix}`]: {
      accounts: [
        'owner',
        ...tokenAccounts,
        'rentDestination*',
        'payer*!',
        ...tokenPrograms,
        'systemProgram',
        'marketplaceProgram',
        ...extra,
      ],
      args: {},
    },
    [`buy${suffix}`]: {
      accounts: [
        'feeVault*',
        'buyer',
        'buyerTa*',
        'listState*',
        'listTa*',
        'mint',
        ...sellerThenPayer,
        ...tokenPrograms,
        'marketplaceProgram',
        'systemProgram',
        ...extra,
        'cosigner!?',
      ],
      args: { maxAmount: 'u64' },
    },
  };
}

const core: Record<string, InstructionDef> = {
  listCore: {
    accounts: [
      'asset*',
      'collection?',
      'listState*',
      'owner!',
      'mplCoreProgram',
      'marketplaceProgram',
      'systemProgram',
      'payer*!',
      'cosigner!?',
    ],
    args: listTerms,
  },
  delistCore: {
    accounts: [
      'asset*',
      'collection?',
      'owner*!',
      'listState*',
      'mplCoreProgram',
      'marketplaceProgram',
      'systemProgram',
      'rentDestination*',
    ],
    args: {},
  },
  closeExpiredListingCore: {
    accounts: [
      'listState*',
      'asset*',
      'collection?',
      'owner',
      'mplCoreProgram',
      'systemProgram',
      'marketplaceProgram',
      'rentDestination*',
    ],
    args: {},
  },
  buyCore: {
    accounts: [
      'feeVault*',
      'listState*',
      'asset*',
      'collection?',
      'buyer',
      ...payerThenSeller,
      'mplCoreProgram',
      'marketplaceProgram',
      'systemProgram',
      'cosigner?',
    ],
    args: { maxAmount: 'u64' },
  },
};

/** Recognised by name only. */
const byName = (...names: string[]): Record<string, InstructionDef> =>
  Object.fromEntries(names.map((name) => [name, {}]));

export const TENSOR_MARKETPLACE_INTERFACE: ProgramInterface = {
  name: 'marketplace',
  version: '0.7.1',
  accounts: {
    ListState: {
      version: 'u8',
      bump: { array: ['u8', 1] },
      owner: 'pubkey',
      assetId: 'pubkey',
      amount: 'u64',
      currency: optionalPubkey,
      expiry: 'i64',
      privateTaker: optionalPubkey,
      makerBroker: optionalPubkey,
      // The default pubkey stands for "none" in these two.
      rentPayer: 'pubkey',
      cosigner: 'pubkey',
      reserved1: { array: ['u8', 64] },
    },
    AssetListState: null,
    BidState: null,
    BidTa: null,
  },
  instructions: {
    tcompNoop: { accounts: ['tcompSigner!'], args: { event: { defined: 'TcompEvent' } } },
    ...compressed,
    ...legacy,
    ...tokenExtensionListings('T22', []),
    ...tokenExtensionListings('Wns', wnsAccounts),
    ...core,
    ...byName('edit', 'bid', 'cancelBid', 'closeExpiredBid', 'takeBidMetaHash', 'takeBidFullMeta', 'takeBidLegacy'),
    ...byName('takeBidT22', 'takeBidWns', 'takeBidCore'),
    ...byName('buySpl', 'buyLegacySpl', 'buyT22Spl', 'buyWnsSpl', 'buyCoreSpl'),
  },
  types: {
    TcompEvent: { enum: { Maker: [{ defined: 'MakeEvent' }], Taker: [{ defined: 'TakeEvent' }] } },
    MakeEvent: {
      struct: {
        maker: 'pubkey',
        bidId: optionalPubkey,
        target: { defined: 'Target' },
        targetId: 'pubkey',
        field: { option: { defined: 'Field' } },
        fieldId: optionalPubkey,
        amount: 'u64',
        quantity: 'u32',
        currency: optionalPubkey,
        expiry: 'i64',
        privateTaker: optionalPubkey,
        assetId: optionalPubkey,
      },
    },
    TakeEvent: {
      struct: {
        taker: 'pubkey',
        bidId: optionalPubkey,
        target: { defined: 'Target' },
        targetId: 'pubkey',
        field: { option: { defined: 'Field' } },
        fieldId: optionalPubkey,
        amount: 'u64',
        quantity: 'u32',
        tcompFee: 'u64',
        takerBrokerFee: 'u64',
        makerBrokerFee: 'u64',
        creatorFee: 'u64',
        currency: optionalPubkey,
        assetId: optionalPubkey,
      },
    },
    Target: { enum: { AssetId: null, Whitelist: null } },
    Field: { enum: { Name: null } },
    AuthorizationDataLocal: { struct: { payload: { vec: { defined: 'TaggedPayload' } } } },
    TaggedPayload: { struct: { name: 'string', payload: { defined: 'PayloadTypeLocal' } } },
    PayloadTypeLocal: {
      enum: {
        Pubkey: ['pubkey'],
        Seeds: [{ defined: 'SeedsVecLocal' }],
        MerkleProof: [{ defined: 'ProofInfoLocal' }],
        Number: ['u64'],
      },
    },
    SeedsVecLocal: { struct: { seeds: { vec: 'bytes' } } },
    ProofInfoLocal: { struct: { proof: { vec: hash } } },
  },
};
