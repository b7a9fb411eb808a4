"""RFC 6455 websockets over asyncio streams: the server side of the handshake and the framing.

Client frames must be masked (RFC 6455 §5.1); server frames are not. Text and binary messages may
arrive fragmented; pings are answered with pongs; a close frame is answered with a close frame.
No extension (e.g. permessage-deflate) is negotiated: the handshake simply does not accept any.
"""

import asyncio
import base64
import hashlib
import struct

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OP_CONTINUATION, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
MAX_MESSAGE = 16 * 1024 * 1024


class ProtocolError(Exception):
    def __init__(self, code: int, reason: str):
        super().__init__(reason)
        self.code = code


async def read_http_head(reader: asyncio.StreamReader) -> "tuple[str, dict]":
    """The request line and headers (lower-cased names) of an HTTP/1.1 request."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    return lines[0], headers


def accept_key(key: str) -> str:
    return base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()


def handshake_response(headers: dict) -> "bytes | None":
    """The 101 answer to a valid upgrade request, or None when it is not one."""
    key = headers.get("sec-websocket-key")
    if (headers.get("upgrade", "").lower() != "websocket" or "upgrade" not in headers.get("connection", "").lower()
            or key is None or headers.get("sec-websocket-version") != "13"):
        return None
    return ("HTTP/1.1 101 Switching Protocols\r\n"
            "Upgrade: websocket\r\n"
            "Connection: Upgrade\r\n"
            f"Sec-WebSocket-Accept: {accept_key(key)}\r\n\r\n").encode()


def frame(opcode: int, payload: bytes) -> bytes:
    """A single unmasked, final frame."""
    n = len(payload)
    if n < 126:
        header = struct.pack("!BB", 0x80 | opcode, n)
    elif n < 1 << 16:
        header = struct.pack("!BBH", 0x80 | opcode, 126, n)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 127, n)
    return header + payload


class Connection:
    """One websocket: `receive()` yields whole text messages; writes are immediate."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader = reader
        self.writer = writer
        self.closed = False

    def send_text(self, text: str) -> None:
        if not self.closed:
            self.writer.write(frame(OP_TEXT, text.encode()))

    def close(self, code: int = 1000, reason: str = "") -> None:
        if not self.closed:
            self.writer.write(frame(OP_CLOSE, struct.pack("!H", code) + reason.encode()))
            self.closed = True
            self.writer.close()

    def abort(self) -> None:
        """Drops the TCP connection without a close frame, as a validator that falls behind does."""
        self.closed = True
        self.writer.transport.abort()

    async def _read_frame(self) -> "tuple[bool, int, bytes]":
        b1, b2 = await self.reader.readexactly(2)
        fin, rsv, opcode = b1 & 0x80, b1 & 0x70, b1 & 0x0F
        if rsv:
            raise ProtocolError(1002, "reserved bits set without a negotiated extension")
        if not b2 & 0x80:
            raise ProtocolError(1002, "client frames must be masked")
        n = b2 & 0x7F
        if n == 126:
            (n,) = struct.unpack("!H", await self.reader.readexactly(2))
        elif n == 127:
            (n,) = struct.unpack("!Q", await self.reader.readexactly(8))
        if n > MAX_MESSAGE:
            raise ProtocolError(1009, "message too big")
        if opcode >= 0x8 and (n > 125 or not fin):
            raise ProtocolError(1002, "invalid control frame")
        mask = await self.reader.readexactly(4)
        data = bytearray(await self.reader.readexactly(n))
        for i in range(n):
            data[i] ^= mask[i & 3]
        return bool(fin), opcode, bytes(data)

    async def receive(self) -> "str | None":
        """The next text message, or None once the connection is closed."""
        parts: list = []
        kind = None
        while not self.closed:
            try:
                fin, opcode, data = await self._read_frame()
            except (asyncio.IncompleteReadError, ConnectionError):
                self.closed = True
                return None
            except ProtocolError as e:
                self.close(e.code, str(e))
                return None
            if opcode == OP_PING:
                self.writer.write(frame(OP_PONG, data))
                continue
            if opcode == OP_PONG:
                continue
            if opcode == OP_CLOSE:
                code = data[:2] if len(data) >= 2 else b""
                self.writer.write(frame(OP_CLOSE, code))
                self.closed = True
                self.writer.close()
                return None
            if opcode in (OP_TEXT, OP_BINARY):
                if kind is not None:
                    self.close(1002, "new message inside a fragmented one")
                    return None
                kind = opcode
            elif opcode != OP_CONTINUATION or kind is None:
                self.close(1002, "unexpected continuation frame")
                return None
            parts.append(data)
            if fin:
                payload = b"".join(parts)
                if kind == OP_BINARY:
                    self.close(1003, "only text messages are understood")
                    return None
                try:
                    return payload.decode("utf-8")
                except UnicodeDecodeError:
                    self.close(1007, "invalid UTF-8")
                    return None
        return None
