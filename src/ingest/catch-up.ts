// Reading back what the chain did while the ingester was not listening: at every start and after
// every gap the live source reports.
// - first start (no checkpoint): the program's accounts as they are now (getProgramAccounts),
//   then up to SOLSTREAM_BACKFILL_INITIAL_LIMIT of its most recent transactions, oldest first.
// - later: every signature since the program's checkpoint, oldest first, each window of
//   transactions written after the current state of the accounts they touched, so that events
//   find their accounts and state rows end at the chain's current values.
import type { SolanaConfig } from '../config.ts';
import type { Logger } from '../log.ts';
import type { AccountInput } from '../programs/types.ts';
import { MULTIPLE_ACCOUNTS_LIMIT, type ChainReader, type SignatureInfo } from './chain.ts';
import type { Pipeline, IngestItem } from './pipeline.ts';
import { backfillProgress } from './progress.ts';
import { writableAccountsOf } from './rpc.ts';
import type { Checkpoint } from './writer.ts';

export interface CatchUpOptions {
  readonly chain: ChainReader;
  readonly pipeline: Pipeline;
  readonly settings: Pick<SolanaConfig, 'batchSize' | 'initialHistoryLimit'>;
  readonly logger: Logger;
  readonly closed: () => boolean;
  /** A human name for a program id, for logs. */
  readonly nameOf: (programId: string) => string;
}

export class CatchUp {
  constructor(private readonly options: CatchUpOptions) {}

  async program(programId: string, checkpoint: Checkpoint | undefined): Promise<void> {
    if (checkpoint === undefined) return this.firstStart(programId);
    const missed = await this.options.chain.signatures(programId, {
      limit: Number.MAX_SAFE_INTEGER,
      ...(checkpoint.signature === null ? { afterSlot: checkpoint.slot } : { until: checkpoint.signature }),
    });
    if (missed.length > 0) await this.backfill(programId, missed.reverse(), true);
  }

  private async firstStart(programId: string): Promise<void> {
    const { chain, pipeline, settings, logger } = this.options;
    const { slot, accounts } = await chain.programAccounts(programId);
    logger.info(
      { program: this.options.nameOf(programId), accounts: accounts.length, slot },
      'loading current accounts',
    );
    const items: IngestItem[] = accounts.map((a) => ({
      kind: 'account',
      programId,
      account: { pubkey: a.pubkey, data: a.data, slot, origin: 'load' },
    }));
    for (let i = 0; i < items.length && !this.options.closed(); i += settings.batchSize)
      await pipeline.process(items.slice(i, i + settings.batchSize));
    const recent =
      settings.initialHistoryLimit === 0
        ? []
        : await chain.signatures(programId, { limit: settings.initialHistoryLimit });
    if (recent.length === 0) {
      await pipeline.process([{ kind: 'checkpoint', checkpoint: { programId, slot, signature: null } }]);
      return;
    }
    // The accounts were just read: the history's transactions add their events, and their (older)
    // state values yield to what was read.
    await this.backfill(programId, recent.reverse(), false);
  }

  private async backfill(programId: string, signatures: readonly SignatureInfo[], refresh: boolean): Promise<void> {
    const { chain, pipeline, settings, logger } = this.options;
    const progress = backfillProgress(
      logger,
      { program: programId, name: this.options.nameOf(programId) },
      signatures.length,
    );
    for (let i = 0; i < signatures.length && !this.options.closed(); i += settings.batchSize) {
      const window = signatures.slice(i, i + settings.batchSize);
      const transactions = await chain.transactions(window.map((s) => s.signature));
      const touched = refresh ? [...new Set(transactions.flatMap((tx) => writableAccountsOf(tx, programId)))] : [];
      const accounts = await this.readAccounts(programId, touched);
      await pipeline.process([
        ...accounts.map((account): IngestItem => ({ kind: 'account', programId, account })),
        ...transactions.map((tx): IngestItem => ({
          kind: 'transaction',
          programId,
          tx,
          checkpoint: { programId, slot: tx.slot, signature: tx.signature },
        })),
      ]);
      progress.advance(window.length);
    }
    progress.finish();
  }

  /** The current data of those of `pubkeys` that `programId` still owns. */
  private async readAccounts(programId: string, pubkeys: readonly string[]): Promise<AccountInput[]> {
    const out: AccountInput[] = [];
    for (let i = 0; i < pubkeys.length; i += MULTIPLE_ACCOUNTS_LIMIT) {
      const chunk = pubkeys.slice(i, i + MULTIPLE_ACCOUNTS_LIMIT);
      const { slot, values } = await this.options.chain.accounts(chunk);
      values.forEach((account, j) => {
        if (account !== null && account.owner === programId)
          out.push({ pubkey: chunk[j] as string, data: account.data, slot, origin: 'load' });
      });
    }
    return out;
  }
}
