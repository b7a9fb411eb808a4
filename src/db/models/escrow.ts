// Token escrows and their audit trail (seed: escrows.sql).
import type { Sequelize } from 'sequelize';
import { defineSeedModel } from './define.ts';

export function defineEscrowModels(sequelize: Sequelize) {
  const Escrow = defineSeedModel(sequelize, 'escrows', 'Escrow');
  const EscrowEvent = defineSeedModel(sequelize, 'escrow_events', 'EscrowEvent');
  Escrow.hasMany(EscrowEvent, { as: 'events', foreignKey: 'escrow_pubkey', sourceKey: 'pubkey' });
  EscrowEvent.belongsTo(Escrow, { as: 'escrow', foreignKey: 'escrow_pubkey', targetKey: 'pubkey' });
  return { Escrow, EscrowEvent };
}
