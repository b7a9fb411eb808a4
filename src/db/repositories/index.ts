export { upsertRows, requiredColumns, type UpsertResult, type UpsertOptions } from './upsert.ts';
export { WriteError, type WriteErrorCode } from './errors.ts';
export {
  findByPubkey,
  findEscrowsByParty,
  findActiveEscrows,
  findListings,
  findSwaps,
  findProposals,
  findVotes,
  type PageOptions,
} from './queries.ts';
export { pageOf, MAX_PAGE_SIZE } from './pages.ts';
export { modelsFor } from './models.ts';
