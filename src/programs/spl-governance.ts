// SPL Governance (see spl-governance/): its id and derived addresses, for the local cluster and tests.
export {
  SPL_GOVERNANCE_PROGRAM_ID,
  PROPOSAL_STATE_MAP,
  nativeTreasuryAddress,
  proposalAddress,
  createSplGovernanceProgram,
} from './spl-governance/index.ts';
