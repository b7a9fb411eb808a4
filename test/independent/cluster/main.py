"""An independent Solana cluster for solstream's ingester tests: JSON-RPC on port P, PubSub on
P+1, four mainnet programs played deterministically from a seed.

  python3 test/independent/cluster/main.py --port 0 --seed 7 --rate 5 --history 200 [--programs ID ...]

Prints one JSON line once listening: {"rpcUrl": "http://127.0.0.1:P", "wsUrl": "ws://127.0.0.1:P+1"}.
Standard library only; the programs' layouts come from the published IDL files read at run time.
"""

import argparse
import asyncio
import json
import os
import signal
import socket
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
# No __pycache__ beside the sources: the checkout stays as committed.
sys.dont_write_bytecode = True

from activity import Activity  # noqa: E402
from idl import Idl  # noqa: E402
from ledger import Ledger  # noqa: E402
from programs import cp_swap, escrow, governance, tensor  # noqa: E402
from server import Cluster  # noqa: E402

PROGRAMS = {
    "raydium-cp-swap": cp_swap.PROGRAM_ID,
    "escrow": escrow.PROGRAM_ID,
    "tensor-marketplace": tensor.PROGRAM_ID,
    "spl-governance": governance.PROGRAM_ID,
}
INTERFACE_FILES = {"raydium-cp-swap": "raydium_cp_swap.json", "tensor-marketplace": "tensor_marketplace.json"}
# The worktree's parent holds shared/ (reference data kept beside the checkout).
DEFAULT_INTERFACES = os.path.normpath(os.path.join(HERE, "..", "..", "..", "..", "shared", "reference", "interfaces"))


def bind_pair(host: str, port: int) -> "tuple[socket.socket, socket.socket]":
    """Two listening sockets on P and P+1; with port 0, the first free pair found."""
    for _ in range(200):
        first = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        first.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        first.bind((host, port))
        p = first.getsockname()[1]
        second = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        second.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            second.bind((host, p + 1))
        except OSError:
            first.close()
            second.close()
            if port != 0:
                raise
            continue
        first.listen(128)
        second.listen(128)
        return first, second
    raise OSError("no free pair of adjacent ports")


def parse_args(argv: list) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, default=0, help="JSON-RPC port (PubSub on port+1); 0 picks free ports")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--rate", type=float, default=5, help="transactions per second once listening (0: none)")
    ap.add_argument("--history", type=int, default=200, help="transactions played before listening")
    ap.add_argument("--programs", nargs="*", default=None,
                    help="program ids (or names) to play; default all four: " + ", ".join(PROGRAMS))
    ap.add_argument("--rate-limit", type=int, default=None,
                    help="answer JSON-RPC requests beyond this many per second with HTTP 429")
    ap.add_argument("--interfaces", default=os.environ.get("SOLSTREAM_INTERFACES_DIR", DEFAULT_INTERFACES),
                    help="folder holding raydium_cp_swap.json and tensor_marketplace.json")
    return ap.parse_args(argv)


def select_programs(chosen: "list | None") -> dict:
    if not chosen:
        return dict(PROGRAMS)
    by_id = {pid: name for name, pid in PROGRAMS.items()}
    out = {}
    for item in chosen:
        for value in item.split(","):
            value = value.strip()
            if not value:
                continue
            name = value if value in PROGRAMS else by_id.get(value)
            if name is None:
                known = ", ".join(f"{n} ({p})" for n, p in PROGRAMS.items())
                raise SystemExit(f"unknown program {value!r}; known: {known}")
            out[name] = PROGRAMS[name]
    return out


async def run(args: argparse.Namespace) -> None:
    programs = select_programs(args.programs)
    idls = {}
    for name, filename in INTERFACE_FILES.items():
        path = os.path.join(args.interfaces, filename)
        if name in programs:
            if not os.path.exists(path):
                raise SystemExit(f"{path} is missing: the published interface files are read from --interfaces")
            idls[name] = Idl.load(path, programs[name])
    ledger = Ledger(args.seed)
    activity = Activity(ledger, args.seed, programs, idls)
    activity.play_history(args.history)
    cluster = Cluster(ledger, activity, args.rate, args.rate_limit)
    http_sock, ws_sock = bind_pair(args.host, args.port)
    http = await asyncio.start_server(cluster.serve_http, sock=http_sock)
    ws = await asyncio.start_server(cluster.serve_websocket, sock=ws_sock)
    port = http_sock.getsockname()[1]
    print(json.dumps({"rpcUrl": f"http://{args.host}:{port}", "wsUrl": f"ws://{args.host}:{port + 1}"}), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    player = asyncio.create_task(cluster.play())
    await stop.wait()
    player.cancel()
    http.close()
    ws.close()
    for client in list(cluster.clients):
        client.conn.close(1001, "shutting down")


def main() -> None:
    args = parse_args(sys.argv[1:])
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
