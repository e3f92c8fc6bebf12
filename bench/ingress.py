"""Ingress benchmark: our webhook (verify + durable de-dup + background handling) against
lark-oapi's stock EventDispatcherHandler behind a minimal aiohttp route that stores nothing.

    python -m bench.ingress [--events 5000] [--concurrency 32]

Each server runs in its own process pinned to CPU 0 (when `taskset` exists); the load
generator runs here on CPU 1. Every request is a distinct, AES-encrypted, signed
im.message.receive_v1 event, prepared before the clock starts.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import feishu_events as fe  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- servers (run in a child process) --------------------------------------------------
def serve_ours(port: int, db_path: str, worker: bool = True) -> None:
    from aiohttp import web

    from bot.app import build_app
    from bot.config import Settings
    from bot.transport.webhook import make_web_app

    settings = Settings(
        verification_token=fe.VERIFICATION_TOKEN,
        encrypt_key=fe.ENCRYPT_KEY,
        database_url=f"sqlite+aiosqlite:///{db_path}",
        port=port,
    )

    async def main() -> None:
        bot = build_app(settings)
        await bot.prepare()
        if worker:
            bot.start_workers()
        runner = web.AppRunner(make_web_app(bot), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        print("ready", flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())


def serve_stock(port: int) -> None:
    import lark_oapi as lark
    from aiohttp import web

    handler = (
        lark.EventDispatcherHandler.builder(fe.ENCRYPT_KEY, fe.VERIFICATION_TOKEN)
        .register_p2_im_message_receive_v1(lambda data: None)
        .build()
    )

    async def route(request: web.Request) -> web.Response:
        raw = lark.RawRequest()
        raw.uri, raw.body, raw.headers = request.path, await request.read(), request.headers
        resp = handler.do(raw)
        return web.Response(status=resp.status_code, body=resp.content)

    app = web.Application()
    app.router.add_post("/feishu/events", route)
    print("ready", flush=True)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


# -- load generator ----------------------------------------------------------------------
def prepare(n: int) -> list[fe.SignedRequest]:
    now = datetime.now(UTC)
    return [fe.sign(fe.message(f"待办 {i}", f"ou_user{i % 500}", now)) for i in range(n)]


async def blast(port: int, requests: list[fe.SignedRequest], concurrency: int) -> dict:
    url = f"http://127.0.0.1:{port}/feishu/events"
    latencies: list[float] = []
    errors = 0
    queue = list(reversed(requests))
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as http:

        async def worker() -> None:
            nonlocal errors
            while queue:
                req = queue.pop()
                t0 = time.perf_counter()
                async with http.post(url, data=req.body, headers=req.headers) as resp:
                    await resp.read()
                    if resp.status != 200:
                        errors += 1
                latencies.append(time.perf_counter() - t0)

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter() - start
    latencies.sort()
    return {
        "events": len(latencies),
        "errors": errors,
        "rate": len(latencies) / wall,
        "p50": statistics.median(latencies) * 1000,
        "p99": latencies[int(len(latencies) * 0.99) - 1] * 1000,
    }


def run_server(kind: str, port: int, db_path: str) -> subprocess.Popen:
    cmd = [
        sys.executable,
        "-m",
        "bench.ingress",
        "--serve",
        kind,
        "--port",
        str(port),
        "--db",
        db_path,
    ]
    if shutil.which("taskset"):
        cmd = ["taskset", "-c", "0", *cmd]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    if proc.stdout.readline().strip() != "ready":
        raise RuntimeError(f"{kind} server failed to start")
    return proc


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--serve", choices=("ours", "ours-ingest", "stock"))
    parser.add_argument("--port", type=int)
    parser.add_argument("--db", default="")
    args = parser.parse_args()
    if args.serve in ("ours", "ours-ingest"):
        return serve_ours(args.port, args.db, worker=args.serve == "ours")
    if args.serve == "stock":
        return serve_stock(args.port)

    if shutil.which("taskset"):
        os.sched_setaffinity(0, {1 % (os.cpu_count() or 1)})
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for kind in ("ours", "ours-ingest", "stock"):
            port = free_port()
            proc = run_server(kind, port, str(Path(tmp) / f"{kind}.db"))
            try:
                asyncio.run(blast(port, prepare(200), args.concurrency))  # warm-up
                results[kind] = asyncio.run(blast(port, prepare(args.events), args.concurrency))
            finally:
                proc.terminate()
                proc.wait(10)
    print(
        f"{args.events} distinct signed+encrypted events, concurrency {args.concurrency}, server on 1 core\n"
    )
    print("| path | events/s | p50 ms | p99 ms | non-200 |")
    print("|---|---:|---:|---:|---:|")
    names = {
        "ours": "DutyBot: verify + durable de-dup, worker handling every event on the same core",
        "ours-ingest": "DutyBot: verify + durable de-dup only (worker off)",
        "stock": "lark-oapi EventDispatcherHandler, no-op handler, stores nothing",
    }
    for kind, r in results.items():
        print(
            f"| {names[kind]} | {r['rate']:.0f} | {r['p50']:.1f} | {r['p99']:.1f} | {r['errors']} |"
        )
    stock = results["stock"]["rate"]
    print(
        f"\nratio to stock: ours {results['ours']['rate'] / stock:.2f}, ingest only {results['ours-ingest']['rate'] / stock:.2f}"
    )


if __name__ == "__main__":
    main()
