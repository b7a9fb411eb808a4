// AMM pools, swaps and liquidity events (seed: amm.sql).
import type { Sequelize } from 'sequelize';
import { defineSeedModel } from './define.ts';

export function defineAmmModels(sequelize: Sequelize) {
  const Pool = defineSeedModel(sequelize, 'pools', 'Pool');
  const Swap = defineSeedModel(sequelize, 'swaps', 'Swap');
  const LiquidityEvent = defineSeedModel(sequelize, 'liquidity_events', 'LiquidityEvent');
  Pool.hasMany(Swap, { as: 'swaps', foreignKey: 'pool_pubkey', sourceKey: 'pubkey' });
  Swap.belongsTo(Pool, { as: 'pool', foreignKey: 'pool_pubkey', targetKey: 'pubkey' });
  Pool.hasMany(LiquidityEvent, { as: 'liquidityEvents', foreignKey: 'pool_pubkey', sourceKey: 'pubkey' });
  LiquidityEvent.belongsTo(Pool, { as: 'pool', foreignKey: 'pool_pubkey', targetKey: 'pubkey' });
  return { Pool, Swap, LiquidityEvent };
}
