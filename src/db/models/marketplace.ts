// NFT listings, sales and collections (seed: marketplace.sql).
import type { Sequelize } from 'sequelize';
import { defineSeedModel } from './define.ts';

export function defineMarketplaceModels(sequelize: Sequelize) {
  const Listing = defineSeedModel(sequelize, 'listings', 'Listing');
  const Sale = defineSeedModel(sequelize, 'sales', 'Sale');
  const Collection = defineSeedModel(sequelize, 'collections', 'Collection');
  Listing.hasMany(Sale, { as: 'sales', foreignKey: 'listing_pubkey', sourceKey: 'pubkey' });
  Sale.belongsTo(Listing, { as: 'listing', foreignKey: 'listing_pubkey', targetKey: 'pubkey' });
  return { Listing, Sale, Collection };
}
