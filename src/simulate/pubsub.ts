// The PubSub (websocket) half of the local cluster: subscriptions and their notifications in the
// validator's wire format (`{"jsonrpc":"2.0","method":"programNotification","params":{"result":…,
// "subscription":N}}`). As on a validator, account, program, logs and signature subscriptions are
// notified per slot (bank) when that slot reaches the subscription's commitment (`finalized` when
// none is given), with the slot as `context.slot`; slot and slotsUpdates subscriptions follow the
// slots' life (created, frozen, confirmed, rooted, dead). PubSub has no retraction: a `processed`
// account subscription is sent the account's surviving state when a fork it was told about dies.
import type { WebSocket } from 'ws';
import { parseCommitment, type Commitment } from './commitment.ts';
import type { LedgerEvent, LedgerSlot, LocalLedger } from './ledger.ts';
import { RpcError, compileFilters, encodeAccount } from './rpc-methods.ts';

type Subscription =
  | { kind: 'program'; program: string; matches: (data: Uint8Array) => boolean; commitment: Commitment }
  /** `lastNotifiedSlot`: the slot of the account version last sent, so a reverted fork write is noticed. */
  | { kind: 'account'; pubkey: string; commitment: Commitment; lastNotifiedSlot: number }
  | { kind: 'logs'; mentions: string | null; commitment: Commitment }
  | { kind: 'slot' }
  | { kind: 'slotsUpdates' }
  | { kind: 'signature'; signature: string; commitment: Commitment };

const NOTIFICATION: Record<Subscription['kind'], string> = {
  program: 'programNotification',
  account: 'accountNotification',
  logs: 'logsNotification',
  slot: 'slotNotification',
  slotsUpdates: 'slotsUpdatesNotification',
  signature: 'signatureNotification',
};

const UNSUBSCRIBE: Record<string, Subscription['kind']> = {
  programUnsubscribe: 'program',
  accountUnsubscribe: 'account',
  logsUnsubscribe: 'logs',
  slotUnsubscribe: 'slot',
  slotsUpdatesUnsubscribe: 'slotsUpdates',
  signatureUnsubscribe: 'signature',
};

/** How a validator encodes an account that does not exist (`Account::default()`). */
const MISSING_ACCOUNT = {
  data: ['', 'base64'],
  executable: false,
  lamports: 0,
  owner: '11111111111111111111111111111111',
  rentEpoch: 0,
  space: 0,
};

export interface PubSubOptions {
  /** Sends every notification twice, as a flaky RPC provider may. */
  duplicateNotifications?: boolean;
}

export class PubSub {
  private nextId = 0;
  private readonly sockets = new Map<WebSocket, Map<number, Subscription>>();
  private readonly unlisten: () => void;

  constructor(
    private readonly ledger: LocalLedger,
    readonly options: PubSubOptions = {},
  ) {
    this.unlisten = ledger.onEvent((event) => this.publish(event));
  }

  attach(socket: WebSocket): void {
    const subscriptions = new Map<number, Subscription>();
    this.sockets.set(socket, subscriptions);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('message', (raw) => {
      let request: { id?: unknown; method?: unknown; params?: unknown };
      try {
        request = JSON.parse(String(raw)) as typeof request;
      } catch {
        send(socket, {
          jsonrpc: '2.0',
          error: { code: -32700, message: 'Parse error' },
          id: null,
        });
        return;
      }
      // Requests without an id are notifications (web3.js sends `ping` every 5 s); nothing to answer.
      if (request.id === undefined || request.id === null) return;
      try {
        const result = this.handle(subscriptions, String(request.method), request.params);
        send(socket, { jsonrpc: '2.0', result, id: request.id });
      } catch (error) {
        const rpc = error instanceof RpcError ? error : new RpcError(-32603, (error as Error).message);
        send(socket, {
          jsonrpc: '2.0',
          error: { code: rpc.code, message: rpc.message },
          id: request.id,
        });
      }
    });
  }

  /** Sockets currently connected. */
  connections(): WebSocket[] {
    return [...this.sockets.keys()];
  }

  subscriptionCount(): number {
    let n = 0;
    for (const subs of this.sockets.values()) n += subs.size;
    return n;
  }

  close(): void {
    this.unlisten();
  }

  private handle(subscriptions: Map<number, Subscription>, method: string, rawParams: unknown): unknown {
    const params = Array.isArray(rawParams) ? (rawParams as unknown[]) : [];
    const unsubscribeKind = UNSUBSCRIBE[method];
    if (unsubscribeKind !== undefined) {
      const id = params[0];
      const sub = typeof id === 'number' ? subscriptions.get(id) : undefined;
      if (sub === undefined || sub.kind !== unsubscribeKind) throw new RpcError(-32602, 'Invalid subscription id.');
      subscriptions.delete(id as number);
      return true;
    }
    const subscribe = (sub: Subscription) => {
      const id = this.nextId++;
      subscriptions.set(id, sub);
      return id;
    };
    const cfg = (index: number): Record<string, unknown> => {
      const value = params[index];
      return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
    };
    const commitment = (index: number): Commitment => {
      const raw = cfg(index).commitment;
      if (raw === undefined || raw === null) return 'finalized';
      const parsed = parseCommitment(raw);
      if (parsed === null) throw new RpcError(-32602, `Invalid params: unknown commitment ${JSON.stringify(raw)}`);
      return parsed;
    };
    const pubkey = (index: number): string => {
      const value = params[index];
      if (typeof value !== 'string' || value.length < 32 || value.length > 44) {
        throw new RpcError(-32602, 'Invalid Request: Invalid pubkey provided');
      }
      return value;
    };
    switch (method) {
      case 'programSubscribe': {
        const program = pubkey(0);
        const encoding = cfg(1).encoding ?? 'base64';
        if (encoding !== 'base64')
          throw new RpcError(-32602, `the local cluster notifies base64 only, not ${String(encoding)}`);
        return subscribe({
          kind: 'program',
          program,
          matches: compileFilters(cfg(1).filters),
          commitment: commitment(1),
        });
      }
      case 'accountSubscribe': {
        const key = pubkey(0);
        const level = commitment(1);
        // As a validator: start from the slot of the version the subscriber could already read.
        const lastNotifiedSlot = this.ledger.getStoredAccount(key, level)?.slot ?? 0;
        return subscribe({ kind: 'account', pubkey: key, commitment: level, lastNotifiedSlot });
      }
      case 'logsSubscribe': {
        const filter = params[0];
        const level = commitment(1);
        if (filter === 'all' || filter === 'allWithVotes')
          return subscribe({ kind: 'logs', mentions: null, commitment: level });
        const mentions = (filter as { mentions?: unknown } | undefined)?.mentions;
        if (!Array.isArray(mentions) || mentions.length !== 1 || typeof mentions[0] !== 'string') {
          throw new RpcError(-32602, 'Invalid Request: Only 1 address supported');
        }
        return subscribe({ kind: 'logs', mentions: mentions[0], commitment: level });
      }
      case 'slotSubscribe':
        return subscribe({ kind: 'slot' });
      case 'slotsUpdatesSubscribe':
        return subscribe({ kind: 'slotsUpdates' });
      case 'signatureSubscribe': {
        const signature = params[0];
        if (typeof signature !== 'string') throw new RpcError(-32602, 'Invalid Request: Invalid signature provided');
        const level = commitment(1);
        const id = subscribe({ kind: 'signature', signature, commitment: level });
        const tx = this.ledger.getTransaction(signature, level);
        // Already at the asked commitment: answer at once, as a validator does for a signature it has seen.
        if (tx !== null) setImmediate(() => this.notifySignature(subscriptions, id, tx.slot, tx.err));
        return id;
      }
      default:
        throw new RpcError(-32601, 'Method not found');
    }
  }

  private notifySignature(subscriptions: Map<number, Subscription>, id: number, slot: number, err: unknown): void {
    for (const [socket, subs] of this.sockets) {
      if (subs !== subscriptions || !subs.has(id)) continue;
      this.notify(socket, 'signature', id, {
        context: { slot },
        value: { err },
      });
      subs.delete(id);
    }
  }

  private publish(event: LedgerEvent): void {
    const { slot } = event;
    switch (event.type) {
      case 'slotStarted': {
        // A validator announces a slot when it creates the bank, with the root it has then.
        const root = this.ledger.slot('finalized');
        const timestamp = Date.now();
        this.toNodeWatchers('slot', () => ({ parent: slot.parent, slot: slot.slot, root }));
        this.toNodeWatchers('slotsUpdates', () => ({ type: 'firstShredReceived', slot: slot.slot, timestamp }));
        this.toNodeWatchers('slotsUpdates', () => ({
          type: 'createdBank',
          parent: slot.parent,
          slot: slot.slot,
          timestamp,
        }));
        break;
      }
      case 'transaction':
        break;
      case 'slotProcessed': {
        const timestamp = Date.now();
        const failed = slot.transactions.filter((tx) => tx.err !== null).length;
        this.toNodeWatchers('slotsUpdates', () => ({ type: 'completed', slot: slot.slot, timestamp }));
        this.toNodeWatchers('slotsUpdates', () => ({
          type: 'frozen',
          slot: slot.slot,
          timestamp,
          stats: {
            numTransactionEntries: slot.transactions.length,
            numSuccessfulTransactions: slot.transactions.length - failed,
            numFailedTransactions: failed,
            maxTransactionsPerEntry: Math.min(1, slot.transactions.length),
          },
        }));
        this.notifyBank(slot, 'processed');
        break;
      }
      case 'slotConfirmed':
        this.toNodeWatchers('slotsUpdates', () => ({
          type: 'optimisticConfirmation',
          slot: slot.slot,
          timestamp: Date.now(),
        }));
        this.notifyBank(slot, 'confirmed');
        break;
      case 'slotFinalized':
        this.toNodeWatchers('slotsUpdates', () => ({ type: 'root', slot: slot.slot, timestamp: Date.now() }));
        this.notifyBank(slot, 'finalized');
        break;
      case 'slotDead':
        this.toNodeWatchers('slotsUpdates', () => ({
          type: 'dead',
          slot: slot.slot,
          timestamp: Date.now(),
          err: slot.deadError ?? '',
        }));
        this.notifyReverted(slot);
        break;
    }
  }

  private toNodeWatchers(kind: 'slot' | 'slotsUpdates', result: () => unknown): void {
    for (const [socket, subs] of this.sockets) {
      for (const [id, sub] of subs) if (sub.kind === kind) this.notify(socket, kind, id, result());
    }
  }

  /** What `slot` did, to the subscriptions at `commitment`. */
  private notifyBank(slot: LedgerSlot, commitment: Commitment): void {
    const context = { slot: slot.slot };
    for (const [socket, subs] of this.sockets) {
      for (const [id, sub] of subs) {
        if (sub.kind === 'slot' || sub.kind === 'slotsUpdates' || sub.commitment !== commitment) continue;
        switch (sub.kind) {
          case 'logs':
            for (const tx of slot.transactions) {
              if (sub.mentions !== null && !tx.accountKeys.includes(sub.mentions)) continue;
              this.notify(socket, 'logs', id, {
                context,
                value: { signature: tx.signatures[0], err: tx.err, logs: tx.logMessages },
              });
            }
            break;
          case 'program':
            for (const { account } of slot.updates) {
              if (account.owner !== sub.program || !sub.matches(account.data)) continue;
              this.notify(socket, 'program', id, {
                context,
                value: { pubkey: account.pubkey, account: encodeAccount({ account }) },
              });
            }
            break;
          case 'account': {
            const last = slot.updates.filter((u) => u.account.pubkey === sub.pubkey).pop();
            if (last === undefined) break;
            sub.lastNotifiedSlot = slot.slot;
            this.notify(socket, 'account', id, { context, value: encodeAccount(last) });
            break;
          }
          case 'signature': {
            const tx = slot.transactions.find((t) => t.signatures[0] === sub.signature);
            if (tx === undefined) break;
            this.notify(socket, 'signature', id, { context, value: { err: tx.err } });
            subs.delete(id);
            break;
          }
        }
      }
    }
  }

  /** A validator re-sends a processed account subscription the account once its fork is gone. */
  private notifyReverted(dead: LedgerSlot): void {
    const written = new Set(dead.updates.map((u) => u.account.pubkey));
    const context = { slot: this.ledger.slot('processed') };
    for (const [socket, subs] of this.sockets) {
      for (const [id, sub] of subs) {
        if (sub.kind !== 'account' || sub.commitment !== 'processed' || !written.has(sub.pubkey)) continue;
        const stored = this.ledger.getStoredAccount(sub.pubkey, 'processed');
        const modified = stored?.slot ?? 0;
        if (modified === sub.lastNotifiedSlot) continue;
        sub.lastNotifiedSlot = modified;
        this.notify(socket, 'account', id, {
          context,
          value: stored === null ? MISSING_ACCOUNT : encodeAccount(stored),
        });
      }
    }
  }

  private notify(socket: WebSocket, kind: Subscription['kind'], subscription: number, result: unknown): void {
    const message = {
      jsonrpc: '2.0',
      method: NOTIFICATION[kind],
      params: { result, subscription },
    };
    send(socket, message);
    if (this.options.duplicateNotifications === true) send(socket, message);
  }
}

function send(socket: WebSocket, message: unknown): void {
  if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(message));
}
