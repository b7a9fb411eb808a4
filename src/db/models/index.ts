// Every seed table as a typed Sequelize model, bound to one database.
import type { Sequelize } from 'sequelize';
import { defineAmmModels } from './amm.ts';
import { defineCommonModels } from './common.ts';
import { defineEscrowModels } from './escrow.ts';
import { defineGovernanceModels } from './governance.ts';
import { defineMarketplaceModels } from './marketplace.ts';

export type { SeedModel, CreationOf } from './define.ts';

export function defineModels(sequelize: Sequelize) {
  return {
    ...defineCommonModels(sequelize),
    ...defineEscrowModels(sequelize),
    ...defineMarketplaceModels(sequelize),
    ...defineAmmModels(sequelize),
    ...defineGovernanceModels(sequelize),
  };
}

export type Models = ReturnType<typeof defineModels>;
