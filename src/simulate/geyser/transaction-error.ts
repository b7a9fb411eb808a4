// A transaction error as Geyser carries it: the runtime's `TransactionError` serialized with bincode
// (a u32 little-endian variant index, then the variant's fields), from the JSON form RPC uses
// (`"BlockhashNotFound"`, `{"InstructionError":[0,{"Custom":1}]}`,
// `{"InsufficientFundsForRent":{"account_index":3}}`). The variant lists follow the runtime's enums
// in declaration order, which bincode's indexes depend on.

const TRANSACTION_ERRORS = [
  'AccountInUse',
  'AccountLoadedTwice',
  'AccountNotFound',
  'ProgramAccountNotFound',
  'InsufficientFundsForFee',
  'InvalidAccountForFee',
  'AlreadyProcessed',
  'BlockhashNotFound',
  'InstructionError',
  'CallChainTooDeep',
  'MissingSignatureForFee',
  'InvalidAccountIndex',
  'SignatureFailure',
  'InvalidProgramForExecution',
  'SanitizeFailure',
  'ClusterMaintenance',
  'AccountBorrowOutstanding',
  'WouldExceedMaxBlockCostLimit',
  'UnsupportedVersion',
  'InvalidWritableAccount',
  'WouldExceedMaxAccountCostLimit',
  'WouldExceedAccountDataBlockLimit',
  'TooManyAccountLocks',
  'AddressLookupTableNotFound',
  'InvalidAddressLookupTableOwner',
  'InvalidAddressLookupTableData',
  'InvalidAddressLookupTableIndex',
  'InvalidRentPayingAccount',
  'WouldExceedMaxVoteCostLimit',
  'WouldExceedAccountDataTotalLimit',
  'DuplicateInstruction',
  'InsufficientFundsForRent',
  'MaxLoadedAccountsDataSizeExceeded',
  'InvalidLoadedAccountsDataSizeLimit',
  'ResanitizationNeeded',
  'ProgramExecutionTemporarilyRestricted',
  'UnbalancedTransaction',
  'ProgramCacheHitMaxLimit',
  'CommitCancelled',
] as const;

const INSTRUCTION_ERRORS = [
  'GenericError',
  'InvalidArgument',
  'InvalidInstructionData',
  'InvalidAccountData',
  'AccountDataTooSmall',
  'InsufficientFunds',
  'IncorrectProgramId',
  'MissingRequiredSignature',
  'AccountAlreadyInitialized',
  'UninitializedAccount',
  'UnbalancedInstruction',
  'ModifiedProgramId',
  'ExternalAccountLamportSpend',
  'ExternalAccountDataModified',
  'ReadonlyLamportChange',
  'ReadonlyDataModified',
  'DuplicateAccountIndex',
  'ExecutableModified',
  'RentEpochModified',
  'NotEnoughAccountKeys',
  'AccountDataSizeChanged',
  'AccountNotExecutable',
  'AccountBorrowFailed',
  'AccountBorrowOutstanding',
  'DuplicateAccountOutOfSync',
  'Custom',
  'InvalidError',
  'ExecutableDataModified',
  'ExecutableLamportChange',
  'ExecutableAccountNotRentExempt',
  'UnsupportedProgramId',
  'CallDepth',
  'MissingAccount',
  'ReentrancyNotAllowed',
  'MaxSeedLengthExceeded',
  'InvalidSeeds',
  'InvalidRealloc',
  'ComputationalBudgetExceeded',
  'PrivilegeEscalation',
  'ProgramEnvironmentSetupFailure',
  'ProgramFailedToComplete',
  'ProgramFailedToCompile',
  'Immutable',
  'IncorrectAuthority',
  'BorshIoError',
  'AccountNotRentExempt',
  'InvalidAccountOwner',
  'ArithmeticOverflow',
  'UnsupportedSysvar',
  'IllegalOwner',
  'MaxAccountsDataAllocationsExceeded',
  'MaxAccountsExceeded',
  'MaxInstructionTraceLengthExceeded',
  'BuiltinProgramsMustConsumeComputeUnits',
] as const;

/** Variants whose one field is a u8 account or instruction index. */
const U8_FIELD: Record<string, string | null> = {
  DuplicateInstruction: null,
  InsufficientFundsForRent: 'account_index',
  ProgramExecutionTemporarilyRestricted: 'account_index',
};

const u32 = (value: number): Buffer => {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32LE(value);
  return bytes;
};

function variantIndex(names: readonly string[], name: string, what: string): Buffer {
  const index = names.indexOf(name);
  if (index < 0) throw new TypeError(`unknown ${what} ${JSON.stringify(name)}`);
  return u32(index);
}

function instructionError(value: unknown): Buffer {
  if (typeof value === 'string') return variantIndex(INSTRUCTION_ERRORS, value, 'InstructionError');
  if (typeof value === 'object' && value !== null && 'Custom' in value) {
    const code = (value as { Custom: unknown }).Custom;
    if (typeof code !== 'number') throw new TypeError('InstructionError Custom needs a number');
    return Buffer.concat([variantIndex(INSTRUCTION_ERRORS, 'Custom', 'InstructionError'), u32(code)]);
  }
  throw new TypeError(`unsupported InstructionError ${JSON.stringify(value)}`);
}

/** bincode bytes of a transaction error given in RPC's JSON form. */
export function encodeTransactionError(err: unknown): Uint8Array {
  if (typeof err === 'string') return variantIndex(TRANSACTION_ERRORS, err, 'TransactionError');
  if (typeof err !== 'object' || err === null) throw new TypeError(`unsupported TransactionError ${String(err)}`);
  const [name, value] = Object.entries(err)[0] ?? [];
  if (name === undefined) throw new TypeError('empty TransactionError');
  const head = variantIndex(TRANSACTION_ERRORS, name, 'TransactionError');
  if (name === 'InstructionError') {
    const [index, inner] = value as [unknown, unknown];
    if (typeof index !== 'number') throw new TypeError('InstructionError needs an instruction index');
    return Buffer.concat([head, Buffer.from([index]), instructionError(inner)]);
  }
  if (name in U8_FIELD) {
    const field = U8_FIELD[name];
    const byte = field === null ? value : (value as Record<string, unknown>)[field as string];
    if (typeof byte !== 'number') throw new TypeError(`${name} needs an index`);
    return Buffer.concat([head, Buffer.from([byte])]);
  }
  return head;
}
