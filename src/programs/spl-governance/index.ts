// SPL Governance: Realm + Governance accounts → governances; Proposal accounts → proposals;
// VoteRecord accounts + CastVote instructions → votes; ExecuteTransaction instructions → executions.
import { WatchList, statsFor, type DecoderOptions } from '../decoder-options.ts';
import { programOf, type Program } from '../types.ts';
import {
  GovernanceDecoder,
  SPL_GOVERNANCE_PROGRAM_ID,
  type GovernanceProgramAccount,
  type GovernanceTransaction,
} from './decode.ts';
import { GovernanceMapper } from './map.ts';

export { SPL_GOVERNANCE_PROGRAM_ID } from './decode.ts';
export { PROPOSAL_STATE_MAP, nativeTreasuryAddress, proposalAddress } from './map.ts';

export function createSplGovernanceProgram(
  options: DecoderOptions = {},
): Program<GovernanceProgramAccount, GovernanceTransaction> {
  const programId = options.programId ?? SPL_GOVERNANCE_PROGRAM_ID;
  const stats = statsFor(options);
  const decoder = new GovernanceDecoder(programId, stats);
  const mapper = new GovernanceMapper(decoder, new WatchList(options.watch));
  return programOf({ name: 'spl-governance', programId, domain: 'governance', stats }, decoder, mapper);
}
