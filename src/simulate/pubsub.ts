// The PubSub (websocket) half of the local cluster: subscriptions and their notifications in the
// validator's wire format (`{"jsonrpc":"2.0","method":"programNotification","params":{"result":…,
// "subscription":N}}`). Every transaction is final when submitted, so all commitments behave alike.
import type { WebSocket } from 'ws';
import type { LedgerCommit, LocalLedger } from './ledger.ts';
import { RpcError, compileFilters, encodeAccount } from './rpc-methods.ts';

type Subscription =
  | { kind: 'program'; program: string; matches: (data: Uint8Array) => boolean }
  | { kind: 'account'; pubkey: string }
  | { kind: 'logs'; mentions: string | null }
  | { kind: 'slot' }
  | { kind: 'signature'; signature: string };

const NOTIFICATION: Record<Subscription['kind'], string> = {
  program: 'programNotification',
  account: 'accountNotification',
  logs: 'logsNotification',
  slot: 'slotNotification',
  signature: 'signatureNotification',
};

const UNSUBSCRIBE: Record<string, Subscription['kind']> = {
  programUnsubscribe: 'program',
  accountUnsubscribe: 'account',
  logsUnsubscribe: 'logs',
  slotUnsubscribe: 'slot',
  signatureUnsubscribe: 'signature',
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
    this.unlisten = ledger.onCommit((commit) => this.publish(commit));
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
        });
      }
      case 'accountSubscribe':
        return subscribe({ kind: 'account', pubkey: pubkey(0) });
      case 'logsSubscribe': {
        const filter = params[0];
        if (filter === 'all' || filter === 'allWithVotes') return subscribe({ kind: 'logs', mentions: null });
        const mentions = (filter as { mentions?: unknown } | undefined)?.mentions;
        if (!Array.isArray(mentions) || mentions.length !== 1 || typeof mentions[0] !== 'string') {
          throw new RpcError(-32602, 'Invalid Request: Only 1 address supported');
        }
        return subscribe({ kind: 'logs', mentions: mentions[0] });
      }
      case 'slotSubscribe':
        return subscribe({ kind: 'slot' });
      case 'signatureSubscribe': {
        const signature = params[0];
        if (typeof signature !== 'string') throw new RpcError(-32602, 'Invalid Request: Invalid signature provided');
        const id = subscribe({ kind: 'signature', signature });
        const tx = this.ledger.getTransaction(signature);
        // Already final: answer at once, as a validator does for a signature it has seen.
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

  private publish({ tx, accountWrites }: LedgerCommit): void {
    const slot = tx.slot;
    const context = { slot };
    const signature = tx.signatures[0] as string;
    const keys = new Set(tx.accountKeys);
    for (const [socket, subs] of this.sockets) {
      for (const [id, sub] of subs) {
        switch (sub.kind) {
          case 'slot':
            this.notify(socket, 'slot', id, {
              parent: slot - 1,
              slot,
              root: slot - 1,
            });
            break;
          case 'logs':
            if (sub.mentions === null || keys.has(sub.mentions)) {
              this.notify(socket, 'logs', id, {
                context,
                value: { signature, err: tx.err, logs: tx.logMessages },
              });
            }
            break;
          case 'program':
            for (const write of accountWrites) {
              if (write.owner !== sub.program || !sub.matches(write.data)) continue;
              this.notify(socket, 'program', id, {
                context,
                value: {
                  pubkey: write.pubkey,
                  account: encodeAccount({ account: write }),
                },
              });
            }
            break;
          case 'account':
            for (const write of accountWrites) {
              if (write.pubkey === sub.pubkey)
                this.notify(socket, 'account', id, {
                  context,
                  value: encodeAccount({ account: write }),
                });
            }
            break;
          case 'signature':
            if (sub.signature === signature) {
              this.notify(socket, 'signature', id, {
                context,
                value: { err: tx.err },
              });
              subs.delete(id);
            }
            break;
        }
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
