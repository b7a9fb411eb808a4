// Watched accounts and transaction history (seed: common.sql).
import type { Sequelize } from 'sequelize';
import { defineSeedModel } from './define.ts';

export function defineCommonModels(sequelize: Sequelize) {
  return {
    Account: defineSeedModel(sequelize, 'accounts', 'Account'),
    Transaction: defineSeedModel(sequelize, 'transactions', 'Transaction'),
  };
}
