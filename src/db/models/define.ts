// Builds a Sequelize model from the schema catalogue, so model attributes cannot drift from the
// columns the rest of solstream knows about.
import {
  DataTypes,
  Model,
  type ModelAttributeColumnOptions,
  type ModelAttributes,
  type ModelStatic,
  type Sequelize,
} from 'sequelize';
import { toIsoTimestamp, toStoredU64, toU64String } from '../rows.ts';
import { TABLES, type ColumnDef, type RowOf, type Topic } from '../schema.ts';

/** Attributes a caller may leave out when creating a row (database defaults fill them). */
type Defaulted = 'id' | 'created_at' | 'updated_at';
export type CreationOf<T extends Topic> = Omit<RowOf<T>, Defaulted> &
  Partial<Pick<RowOf<T>, Defaulted & keyof RowOf<T>>>;

export type SeedModel<T extends Topic> = ModelStatic<Model<RowOf<T>, CreationOf<T>>>;

function attribute(sequelize: Sequelize, name: string, def: ColumnDef): ModelAttributeColumnOptions {
  const postgres = sequelize.getDialect() === 'postgres';
  const base = { allowNull: def.nullable, field: name };
  switch (def.kind) {
    case 'serial':
      return { ...base, type: DataTypes.INTEGER, primaryKey: true, autoIncrement: true };
    case 'u64':
      // NUMERIC(20,0) on PostgreSQL, canonical decimal TEXT on SQLite: either way a string here.
      return {
        ...base,
        type: postgres ? DataTypes.DECIMAL(20, 0) : DataTypes.TEXT,
        get(this: Model) {
          const value: unknown = this.getDataValue(name);
          return value === null || value === undefined ? value : toU64String(value, name);
        },
        set(this: Model, value: unknown) {
          this.setDataValue(name, value === null || value === undefined ? value : toStoredU64(value, name));
        },
      };
    case 'i64':
      return {
        ...base,
        type: DataTypes.BIGINT,
        get(this: Model) {
          const value: unknown = this.getDataValue(name);
          return value === null || value === undefined ? value : Number(value);
        },
      };
    case 'int':
      return { ...base, type: DataTypes.INTEGER };
    case 'bool':
      return { ...base, type: DataTypes.BOOLEAN };
    case 'timestamp':
      return {
        ...base,
        type: DataTypes.DATE,
        get(this: Model) {
          const value: unknown = this.getDataValue(name);
          return value === null || value === undefined ? value : toIsoTimestamp(value);
        },
      };
    case 'json':
      return { ...base, type: postgres ? DataTypes.JSONB : DataTypes.JSON };
    case 'enum':
      return { ...base, type: DataTypes.STRING, validate: { isIn: [[...(def.labels ?? [])]] } };
    default:
      return { ...base, type: def.maxLength === undefined ? DataTypes.TEXT : DataTypes.STRING(def.maxLength) };
  }
}

export function defineSeedModel<T extends Topic>(sequelize: Sequelize, topic: T, modelName: string): SeedModel<T> {
  const columns: Readonly<Record<string, ColumnDef>> = TABLES[topic].columns;
  // Built from the catalogue at run time, so TypeScript cannot see that every key is covered.
  const attributes = Object.fromEntries(
    Object.entries(columns).map(([name, def]) => [name, attribute(sequelize, name, def)]),
  ) as unknown as ModelAttributes<Model<RowOf<T>, CreationOf<T>>, RowOf<T>>;
  const hasUpdatedAt = 'updated_at' in columns;
  class SeedRow extends Model<RowOf<T>, CreationOf<T>> {}
  SeedRow.init(attributes as unknown as ModelAttributes<SeedRow, RowOf<T>>, {
    sequelize,
    modelName,
    tableName: topic,
    timestamps: true,
    createdAt: 'created_at',
    updatedAt: hasUpdatedAt ? 'updated_at' : false,
    underscored: true,
  });
  return SeedRow as unknown as SeedModel<T>;
}
