// Turns driver errors from a write into one clear error type, the same on both dialects.
import { BaseError, ForeignKeyConstraintError, ValidationError, DatabaseError } from 'sequelize';

export type WriteErrorCode = 'duplicate_key' | 'missing_parent' | 'invalid_value' | 'missing_value' | 'database_error';

export class WriteError extends Error {
  constructor(
    readonly code: WriteErrorCode,
    readonly table: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${table}: ${message}`, options);
    this.name = 'WriteError';
  }
}

function driverMessage(error: BaseError): string {
  const parent = (error as { parent?: { message?: string; detail?: string } }).parent;
  const message = parent?.message ?? error.message;
  return parent?.detail ? `${message} (${parent.detail})` : message;
}

export function describeWriteError(error: unknown, table: string): Error {
  if (error instanceof WriteError || error instanceof RangeError) return error;
  if (!(error instanceof BaseError)) return error as Error;
  const message = driverMessage(error).replace(/^SQLITE_CONSTRAINT: /, '');
  if (error instanceof ForeignKeyConstraintError || /FOREIGN KEY constraint failed/.test(message)) {
    return new WriteError('missing_parent', table, `references a row that does not exist: ${message}`, {
      cause: error,
    });
  }
  if (/NOT NULL constraint failed|null value in column/.test(message)) {
    return new WriteError('missing_value', table, `a required column has no value: ${message}`, { cause: error });
  }
  // UniqueConstraintError is a subclass of ValidationError, and Sequelize reports every
  // SQLITE_CONSTRAINT as one, so the driver's message decides between the two.
  if (/UNIQUE constraint failed|duplicate key/.test(message)) {
    return new WriteError('duplicate_key', table, `duplicate key: ${message}`, { cause: error });
  }
  if (
    error instanceof ValidationError ||
    /CHECK constraint failed|check constraint|invalid input value|out of range|too long/i.test(message)
  ) {
    return new WriteError('invalid_value', table, `invalid value: ${message}`, { cause: error });
  }
  if (error instanceof DatabaseError) return new WriteError('database_error', table, message, { cause: error });
  return error;
}
