// DAO governances, proposals, votes and executions (seed: governance.sql).
import type { Sequelize } from 'sequelize';
import { defineSeedModel } from './define.ts';

export function defineGovernanceModels(sequelize: Sequelize) {
  const Governance = defineSeedModel(sequelize, 'governances', 'Governance');
  const Proposal = defineSeedModel(sequelize, 'proposals', 'Proposal');
  const Vote = defineSeedModel(sequelize, 'votes', 'Vote');
  const Execution = defineSeedModel(sequelize, 'executions', 'Execution');
  Governance.hasMany(Proposal, { as: 'proposals', foreignKey: 'governance_pubkey', sourceKey: 'pubkey' });
  Proposal.belongsTo(Governance, { as: 'governance', foreignKey: 'governance_pubkey', targetKey: 'pubkey' });
  Proposal.hasMany(Vote, { as: 'votes', foreignKey: 'proposal_pubkey', sourceKey: 'pubkey' });
  Vote.belongsTo(Proposal, { as: 'proposal', foreignKey: 'proposal_pubkey', targetKey: 'pubkey' });
  Proposal.hasMany(Execution, { as: 'executions', foreignKey: 'proposal_pubkey', sourceKey: 'pubkey' });
  Execution.belongsTo(Proposal, { as: 'proposal', foreignKey: 'proposal_pubkey', targetKey: 'pubkey' });
  return { Governance, Proposal, Vote, Execution };
}
