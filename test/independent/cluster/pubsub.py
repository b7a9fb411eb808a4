"""The validator's PubSub (websocket JSON-RPC) subscriptions and the notifications each block
produces for them.

Rules followed from the validator:
- notifications of a slot go out once its block is final (every block here), for any commitment;
- account and program notifications carry each account's state at the end of the slot, once per
  account per slot;
- programSubscribe notifies accounts *owned by the program* after the slot: an account a
  transaction closed (no lamports, no data, owner back to the system program) is not notified to
  its former owner's subscribers; accountSubscribe does notify it (lamports 0, owner the system
  program);
- logsSubscribe {mentions: [key]} notifies transactions whose account keys include the key,
  "all" every transaction; the value is {signature, err, logs};
- signatureSubscribe notifies once, then the subscription ends;
- slotSubscribe notifies {parent, root, slot} for every new block.
"""

import json

from encoding import (RpcError, check_encoding, invalid_params, matches, parse_filters, parse_pubkey, parse_signature,
                      ui_account)
from keys import SYSTEM_PROGRAM
from runtime import Account

SUBSCRIBE = {
    "accountSubscribe": "account", "programSubscribe": "program", "logsSubscribe": "logs",
    "signatureSubscribe": "signature", "slotSubscribe": "slot", "rootSubscribe": "root",
}
UNSUBSCRIBE = {
    "accountUnsubscribe": "account", "programUnsubscribe": "program", "logsUnsubscribe": "logs",
    "signatureUnsubscribe": "signature", "slotUnsubscribe": "slot", "rootUnsubscribe": "root",
}


class Subscription:
    def __init__(self, sid: int, kind: str, client, **spec):
        self.id = sid
        self.kind = kind
        self.client = client
        self.spec = spec


class PubSub:
    def __init__(self, ledger):
        self.ledger = ledger
        self.subscriptions: dict = {}
        self.next_id = 0
        self.notifications_sent = 0
        ledger.listeners.append(self.on_block)

    # --- requests ---------------------------------------------------------------------------

    def handle(self, client, text: str) -> "str | None":
        try:
            request = json.loads(text)
        except ValueError:
            return json.dumps({"jsonrpc": "2.0", "error": {"code": -32700, "message": "Parse error"}, "id": None})
        if isinstance(request, list):
            replies = [r for r in (self._handle_one(client, q) for q in request) if r is not None]
            return json.dumps(replies) if replies else None
        reply = self._handle_one(client, request)
        return None if reply is None else json.dumps(reply)

    def _handle_one(self, client, request) -> "dict | None":
        if not isinstance(request, dict) or not isinstance(request.get("method"), str):
            return {"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid request"}, "id": None}
        rid = request.get("id")
        if "id" not in request:
            return None  # a notification (web3.js's keep-alive "ping"): nothing to answer
        method = request["method"]
        params = request.get("params") or []
        try:
            if method in SUBSCRIBE:
                result = self.subscribe(client, SUBSCRIBE[method], params)
            elif method in UNSUBSCRIBE:
                result = self.unsubscribe(client, UNSUBSCRIBE[method], params)
            else:
                raise RpcError(-32601, "Method not found")
            return {"jsonrpc": "2.0", "result": result, "id": rid}
        except RpcError as e:
            return {"jsonrpc": "2.0", "error": e.to_json(), "id": rid}
        except (ValueError, TypeError, KeyError, IndexError) as e:
            return {"jsonrpc": "2.0", "error": {"code": -32602, "message": f"Invalid params: {e}"}, "id": rid}

    def subscribe(self, client, kind: str, params: list) -> int:
        config = params[1] if len(params) > 1 and isinstance(params[1], dict) else {}
        check_encoding(config.get("encoding"))
        spec: dict = {"encoding": config.get("encoding")}
        if kind == "account":
            spec["pubkey"] = parse_pubkey(params[0])
        elif kind == "program":
            spec["program"] = parse_pubkey(params[0])
            spec["filters"] = parse_filters(config.get("filters"))
        elif kind == "logs":
            target = params[0] if params else None
            if target in ("all", "allWithVotes"):
                spec["mentions"] = None
            elif isinstance(target, dict) and isinstance(target.get("mentions"), list):
                if len(target["mentions"]) != 1:
                    raise invalid_params("Invalid Request: Only 1 address supported")
                spec["mentions"] = parse_pubkey(target["mentions"][0])
            else:
                raise invalid_params("Invalid params: logs filter must be \"all\" or {mentions: [address]}")
        elif kind == "signature":
            spec["signature"] = parse_signature(params[0])
            spec["received"] = bool(config.get("enableReceivedNotification"))
        sub = Subscription(self.next_id, kind, client, **spec)
        self.next_id += 1
        self.subscriptions[sub.id] = sub
        client.subscriptions.add(sub.id)
        if kind == "signature":
            # A signature already confirmed is notified right away.
            record = self.ledger.by_signature.get(spec["signature"])
            if record is not None:
                client.call_soon(lambda: self._signature_done(sub, record.slot, record.err))
        return sub.id

    def unsubscribe(self, client, kind: str, params: list) -> bool:
        sid = params[0] if params else None
        sub = self.subscriptions.get(sid) if isinstance(sid, int) else None
        if sub is None or sub.kind != kind or sub.client is not client:
            raise invalid_params("Invalid subscription id.")
        self._remove(sub)
        return True

    def _remove(self, sub: Subscription) -> None:
        self.subscriptions.pop(sub.id, None)
        sub.client.subscriptions.discard(sub.id)

    def disconnect(self, client) -> None:
        for sid in list(client.subscriptions):
            sub = self.subscriptions.get(sid)
            if sub is not None:
                self._remove(sub)

    # --- notifications ----------------------------------------------------------------------

    def _notify(self, sub: Subscription, method: str, result) -> None:
        self.notifications_sent += 1
        sub.client.send(json.dumps({"jsonrpc": "2.0", "method": method,
                                    "params": {"result": result, "subscription": sub.id}}))

    def _signature_done(self, sub: Subscription, slot: int, err) -> None:
        if sub.id in self.subscriptions:
            self._notify(sub, "signatureNotification", {"context": {"slot": slot}, "value": {"err": err}})
            self._remove(sub)

    def on_block(self, block, changed: dict) -> None:
        subs = list(self.subscriptions.values())
        if not subs:
            return
        slot = block.slot
        for sub in subs:
            if sub.kind == "slot":
                self._notify(sub, "slotNotification", {"parent": block.parent_slot, "root": slot, "slot": slot})
            elif sub.kind == "root":
                self._notify(sub, "rootNotification", slot)
        for record in block.transactions:
            keys = set(record.message.account_keys)
            for sub in subs:
                if sub.kind == "logs" and (sub.spec["mentions"] is None or sub.spec["mentions"] in keys):
                    self._notify(sub, "logsNotification", {"context": {"slot": slot}, "value": {
                        "signature": record.signature, "err": record.err, "logs": record.logs}})
                elif sub.kind == "signature" and sub.spec["signature"] == record.signature:
                    if sub.spec["received"]:
                        self._notify(sub, "signatureNotification",
                                     {"context": {"slot": slot}, "value": "receivedSignature"})
                    self._signature_done(sub, slot, record.err)
        for pubkey, account in changed.items():
            shown = account if account is not None else Account(0, SYSTEM_PROGRAM, b"")
            for sub in subs:
                if sub.id not in self.subscriptions:
                    continue
                if sub.kind == "account" and sub.spec["pubkey"] == pubkey:
                    self._notify(sub, "accountNotification", {"context": {"slot": slot}, "value": ui_account(
                        shown, sub.spec["encoding"], size_limit=False)})
                elif (sub.kind == "program" and account is not None and account.owner == sub.spec["program"]
                      and matches(sub.spec["filters"], account.data)):
                    self._notify(sub, "programNotification", {"context": {"slot": slot}, "value": {
                        "pubkey": pubkey, "account": ui_account(account, sub.spec["encoding"], size_limit=False)}})
