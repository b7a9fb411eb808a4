"""The cluster's two listeners: JSON-RPC (and the control endpoints) over HTTP/1.1 on port P,
PubSub over websockets on port P+1 (web3.js derives the websocket port that way).

Control endpoints, outside JSON-RPC, for tests:
  GET  /control/state            {slot, blockHeight, transactions, paused, websockets, subscriptions, ...}
  POST /control/pause            stop playing transactions
  POST /control/resume           play again at --rate
  POST /control/step?n=N         play N transactions now (one block each), answer the new state
  POST /control/drop-websockets  drop every PubSub connection without a close frame
"""

import asyncio
import json
import time
from urllib.parse import parse_qs, urlsplit

from pubsub import PubSub
from rpc import Rpc
from websocket import Connection, handshake_response, read_http_head

MAX_BODY = 8 * 1024 * 1024
STATUS_TEXT = {200: "OK", 204: "No Content", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
               413: "Payload Too Large", 429: "Too Many Requests"}


class RateLimit:
    """At most `per_second` JSON-RPC requests in each wall-clock second; the rest get HTTP 429,
    as a hosted RPC provider answers a client over its quota."""

    def __init__(self, per_second: int):
        self.per_second = per_second
        self.window = 0
        self.count = 0
        self.rejected = 0

    def admit(self) -> bool:
        now = int(time.monotonic())
        if now != self.window:
            self.window, self.count = now, 0
        self.count += 1
        if self.count > self.per_second:
            self.rejected += 1
            return False
        return True


class PubSubClient:
    def __init__(self, conn: Connection):
        self.conn = conn
        self.subscriptions: set = set()

    def send(self, text: str) -> None:
        self.conn.send_text(text)

    def call_soon(self, fn) -> None:
        # After the subscription's own reply has gone out.
        asyncio.get_running_loop().call_soon(fn)


class Cluster:
    def __init__(self, ledger, activity, rate: float, rate_limit: "int | None"):
        self.ledger = ledger
        self.activity = activity
        self.rate = rate
        self.paused = False
        self.rpc = Rpc(ledger)
        self.pubsub = PubSub(ledger)
        self.clients: set = set()
        self.rate_limit = RateLimit(rate_limit) if rate_limit else None
        self.dropped = 0
        self.requests = 0

    # --- playing ----------------------------------------------------------------------------

    async def play(self) -> None:
        """--rate transactions per second, one block each, until cancelled."""
        if self.rate <= 0:
            return
        interval = 1.0 / self.rate
        deadline = time.monotonic()
        while True:
            deadline += interval
            await asyncio.sleep(max(0.0, deadline - time.monotonic()))
            if not self.paused:
                self.activity.play_block(1)
            else:
                deadline = time.monotonic()

    def state(self) -> dict:
        return {"slot": self.ledger.slot, "blockHeight": self.ledger.block_height,
                "transactions": len(self.ledger.transactions), "paused": self.paused,
                "websockets": len(self.clients), "subscriptions": len(self.pubsub.subscriptions),
                "notifications": self.pubsub.notifications_sent, "droppedWebsockets": self.dropped,
                "rpcRequests": self.requests, "rateLimited": self.rate_limit.rejected if self.rate_limit else 0}

    # --- HTTP -------------------------------------------------------------------------------

    async def serve_http(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await self._http_requests(reader, writer)
        except asyncio.CancelledError:
            pass  # shutting down
        finally:
            writer.close()

    async def _http_requests(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    request_line, headers = await read_http_head(reader)
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                    return
                parts = request_line.split(" ")
                if len(parts) != 3:
                    await self._respond(writer, 400, b"bad request line", "text/plain", close=True)
                    return
                method, target, version = parts
                body = await self._read_body(reader, headers)
                if body is None:
                    await self._respond(writer, 413, b"request body too large", "text/plain", close=True)
                    return
                keep_alive = headers.get("connection", "").lower() != "close" and version == "HTTP/1.1"
                status, payload, ctype = self._route(method, target, body)
                await self._respond(writer, status, payload, ctype, close=not keep_alive)
                if not keep_alive:
                    return
        except ConnectionError:
            return

    async def _read_body(self, reader: asyncio.StreamReader, headers: dict) -> "bytes | None":
        if headers.get("transfer-encoding", "").lower() == "chunked":
            chunks = []
            total = 0
            while True:
                size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                if size == 0:
                    await reader.readuntil(b"\r\n")
                    return b"".join(chunks)
                total += size
                if total > MAX_BODY:
                    return None
                chunks.append(await reader.readexactly(size))
                await reader.readexactly(2)
        length = int(headers.get("content-length", "0") or 0)
        if length > MAX_BODY:
            return None
        return await reader.readexactly(length) if length else b""

    async def _respond(self, writer, status: int, payload: bytes, ctype: str, close: bool) -> None:
        head = [f"HTTP/1.1 {status} {STATUS_TEXT.get(status, 'OK')}", f"Content-Type: {ctype}",
                f"Content-Length: {len(payload)}", "Connection: close" if close else "Connection: keep-alive"]
        if status == 429:
            head.append("Retry-After: 1")
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + payload)
        await writer.drain()

    def _route(self, method: str, target: str, body: bytes) -> "tuple[int, bytes, str]":
        url = urlsplit(target)
        if url.path.startswith("/control/"):
            return self._control(method, url.path[len("/control/"):], parse_qs(url.query))
        if url.path == "/health" and method == "GET":
            return 200, b"ok", "text/plain"
        if method != "POST":
            return 405, b"Used HTTP Method is not allowed. POST or OPTIONS is required", "text/plain"
        if self.rate_limit is not None and not self.rate_limit.admit():
            error = {"jsonrpc": "2.0", "error": {"code": 429, "message": "Too many requests for a specific RPC call"},
                     "id": None}
            return 429, json.dumps(error).encode(), "application/json"
        self.requests += 1
        return 200, json.dumps(self._json_rpc(body), separators=(",", ":")).encode(), "application/json"

    def _json_rpc(self, body: bytes):
        try:
            request = json.loads(body)
        except ValueError:
            return {"jsonrpc": "2.0", "error": {"code": -32700, "message": "Parse error"}, "id": None}
        if isinstance(request, list):
            if not request:
                return {"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid request"}, "id": None}
            return [r for r in (self.rpc.handle(q) for q in request) if r is not None]
        reply = self.rpc.handle(request)
        return reply if reply is not None else {"jsonrpc": "2.0", "result": None, "id": None}

    def _control(self, method: str, action: str, query: dict) -> "tuple[int, bytes, str]":
        def ok(value) -> "tuple[int, bytes, str]":
            return 200, json.dumps(value).encode(), "application/json"

        if action == "state" and method == "GET":
            return ok(self.state())
        if method != "POST":
            return 405, b"control actions are POST", "text/plain"
        if action == "pause":
            self.paused = True
            return ok(self.state())
        if action == "resume":
            self.paused = False
            return ok(self.state())
        if action == "step":
            try:
                n = int(query.get("n", ["1"])[0])
            except ValueError:
                return 400, b"n must be an integer", "text/plain"
            if not 0 < n <= 10_000:
                return 400, b"n must be between 1 and 10000", "text/plain"
            for _ in range(n):
                self.activity.play_block(1)
            return ok(self.state())
        if action == "drop-websockets":
            dropped = len(self.clients)
            for client in list(self.clients):
                client.conn.abort()
                # Gone at once, not when the reader notices: the state answered below shows it.
                self.clients.discard(client)
                self.pubsub.disconnect(client)
            self.dropped += dropped
            return ok({**self.state(), "dropped": dropped})
        return 404, b"unknown control action", "text/plain"

    # --- PubSub -----------------------------------------------------------------------------

    async def serve_websocket(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            _, headers = await read_http_head(reader)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            writer.close()
            return
        answer = handshake_response(headers)
        if answer is None:
            writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            writer.close()
            return
        writer.write(answer)
        conn = Connection(reader, writer)
        client = PubSubClient(conn)
        self.clients.add(client)
        try:
            while True:
                text = await conn.receive()
                if text is None:
                    break
                reply = self.pubsub.handle(client, text)
                if reply is not None:
                    conn.send_text(reply)
        except asyncio.CancelledError:
            pass  # shutting down
        finally:
            self.clients.discard(client)
            self.pubsub.disconnect(client)
            if not conn.closed:
                writer.close()
