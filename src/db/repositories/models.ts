// One set of models per open database (Sequelize binds a model class to one instance).
import type { Database } from '../connection.ts';
import { defineModels, type Models } from '../models/index.ts';

const cache = new WeakMap<Database['sequelize'], Models>();

export function modelsFor(db: Database): Models {
  let models = cache.get(db.sequelize);
  if (models === undefined) {
    models = defineModels(db.sequelize);
    cache.set(db.sequelize, models);
  }
  return models;
}
