"""Ingress benchmark: our webhook (verify + decrypt + durable de-dup, 200 only once stored)
against lark-oapi's stock EventDispatcherHandler behind a minimal aiohttp route that
stores nothing.

    python -m bench.ingress [--events 3000] [--rounds 5] [--concurrency 32] [--quick]
                            [--pg postgres@127.0.0.1:5432 | --no-pg]

Servers (each its own process, all pinned to CPU 0 when `taskset` exists; the load
generator runs here on CPU 1): "ours" (the inbox worker answering every event on the same
core), "ours-ingest" (worker off) and "stock". They are started once and measured
interleaved, round after round, the order rotating; the worker's backlog is drained
between rounds. Every request is a distinct, AES-encrypted, signed im.message.receive_v1
event, prepared before the clock starts. Ratios are per round (side by side), then the
median: on a shared machine absolute rates drift, ratios much less.

Each server's CPU seconds per event during the runs are read from /proc and shown next to
the rates: on a shared machine they move much less than the rates do.

The last line is ``RESULT ingress_ratio=… ingress_ratio_worker=… p99_ms=… …`` (p99 and
events/s of "ours" with the worker on; ``pg_…`` keys for PostgreSQL when it answers).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
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

from bench.common import free_port  # noqa: E402
from tests import feishu_events as fe  # noqa: E402


def serve_ours(port: int, db_url: str, worker: bool = True) -> None:
    from aiohttp import web

    from bot.app import build_app
    from bot.config import Settings
    from bot.fast import run
    from bot.transport.webhook import make_web_app

    settings = Settings(
        verification_token=fe.VERIFICATION_TOKEN,
        encrypt_key=fe.ENCRYPT_KEY,
        database_url=db_url,
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

    run(main())  # as `dutybot run`: uvloop when installed


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


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (Linux /proc; 0 elsewhere). Per event, this is
    the steadier figure when other work shares the machine."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_server(kind: str, port: int, db_url: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "bench.ingress", "--serve", kind, "--port", str(port)]
    cmd += ["--db", db_url]
    if shutil.which("taskset"):
        cmd = ["taskset", "-c", "0", *cmd]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    if proc.stdout.readline().strip() != "ready":
        raise RuntimeError(f"{kind} server failed to start")
    return proc


async def pending(db_url: str) -> int:
    from sqlalchemy import text

    from storage import db

    engine = db.make_engine(db_url)
    try:
        async with engine.connect() as conn:
            result = await conn.execute(
                text(
                    "SELECT count(*) FROM inbound_events WHERE status IN ('pending', 'processing')"
                )
            )
            return int(result.scalar())
    finally:
        await engine.dispose()


def drain(db_url: str, deadline: float = 300.0) -> None:
    """Wait until the worker has answered every stored event (its backlog would otherwise
    compete with the next round)."""
    until = time.monotonic() + deadline
    while asyncio.run(pending(db_url)) and time.monotonic() < until:
        time.sleep(0.5)


async def create_pg(spec: str, suffix: str) -> tuple[str, str] | None:
    import asyncpg

    user, _, hostport = spec.partition("@")
    host, _, port = hostport.partition(":")
    try:
        admin = await asyncpg.connect(
            user=user, host=host, port=int(port or 5432), database="postgres", timeout=3
        )
    except Exception as exc:  # noqa: BLE001
        print(f"PostgreSQL not reachable at {spec} ({exc}); skipped", file=sys.stderr)
        return None
    name = f"dutybot_ingress_{os.getpid()}_{suffix}"
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    from storage import db

    url = f"postgresql+asyncpg://{user}@{host}:{port or 5432}/{name}"
    engine = db.make_engine(url)
    await db.upgrade(engine)
    await engine.dispose()
    return url, name


async def drop_pg(spec: str, name: str) -> None:
    import asyncpg

    user, _, hostport = spec.partition("@")
    host, _, port = hostport.partition(":")
    admin = await asyncpg.connect(user=user, host=host, port=int(port or 5432), database="postgres")
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.close()


NAMES = {
    "ours": "DutyBot: verify + durable de-dup, worker answering every event on the same core",
    "ours-ingest": "DutyBot: verify + durable de-dup only (worker off)",
    "stock": "lark-oapi EventDispatcherHandler, no-op handler, stores nothing",
}


def measure(backend: str, urls: dict[str, str], args) -> dict:
    """Interleaved rounds against the three servers; per-round results by kind."""
    procs, ports = {}, {}
    try:
        for kind in ("ours", "ours-ingest", "stock"):
            ports[kind] = free_port()
            procs[kind] = run_server(kind, ports[kind], urls.get(kind, ""))
        for kind in procs:
            asyncio.run(blast(ports[kind], prepare(200), args.concurrency))  # warm-up
        drain(urls["ours"])
        rounds: dict[str, list[dict]] = {k: [] for k in procs}
        order = ["ours-ingest", "stock", "ours"]
        for r in range(args.rounds):
            for kind in order[r % 3 :] + order[: r % 3]:
                requests = prepare(args.events)
                cpu = cpu_seconds(procs[kind].pid)
                result = asyncio.run(blast(ports[kind], requests, args.concurrency))
                result["cpu_us"] = (cpu_seconds(procs[kind].pid) - cpu) / len(requests) * 1e6
                rounds[kind].append(result)
                if kind == "ours":
                    drain(urls["ours"])
            print(
                f"[{backend}] round {r + 1}: "
                + ", ".join(f"{k} {rounds[k][-1]['rate']:.0f}/s" for k in rounds),
                file=sys.stderr,
            )
        return rounds
    finally:
        for proc in procs.values():
            proc.terminate()
            proc.wait(10)


def summarise(rounds: dict[str, list[dict]]) -> dict:
    med = statistics.median
    stock = [r["rate"] for r in rounds["stock"]]
    return {
        "ratio": med(o["rate"] / s for o, s in zip(rounds["ours-ingest"], stock, strict=True)),
        "ratio_worker": med(o["rate"] / s for o, s in zip(rounds["ours"], stock, strict=True)),
        **{
            kind: {
                "rate": med(r["rate"] for r in rs),
                "p50": med(r["p50"] for r in rs),
                "p99": med(r["p99"] for r in rs),
                "errors": sum(r["errors"] for r in rs),
                "cpu_us": med(r["cpu_us"] for r in rs),
            }
            for kind, rs in rounds.items()
        },
    }


def report(backend: str, s: dict, args) -> None:
    print(
        f"\n### {backend}: {args.events} events x {args.rounds} rounds, concurrency {args.concurrency}\n"
    )
    print("| path | events/s (median) | p50 ms | p99 ms | non-200 | server CPU µs/event |")
    print("|---|---:|---:|---:|---:|---:|")
    for kind in ("ours-ingest", "ours", "stock"):
        r = s[kind]
        print(
            f"| {NAMES[kind]} | {r['rate']:.0f} | {r['p50']:.1f} | {r['p99']:.1f} "
            f"| {r['errors']} | {r['cpu_us']:.0f} |"
        )
    print(
        f"\nratio to stock (median of per-round ratios): ingest {s['ratio']:.2f}, "
        f"with the worker {s['ratio_worker']:.2f}; load average {os.getloadavg()[0]:.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--quick", action="store_true", help="1,500 events x 3 rounds, no PG")
    parser.add_argument(
        "--pg", default=os.environ.get("DUTYBOT_TEST_PG", "postgres@127.0.0.1:5432")
    )
    parser.add_argument("--no-pg", action="store_true")
    parser.add_argument("--serve", choices=("ours", "ours-ingest", "stock"))
    parser.add_argument("--port", type=int)
    parser.add_argument("--db", default="")
    args = parser.parse_args()
    if args.serve in ("ours", "ours-ingest"):
        return serve_ours(args.port, args.db, worker=args.serve == "ours")
    if args.serve == "stock":
        return serve_stock(args.port)
    if args.quick:
        args.events, args.rounds, args.no_pg = 1500, 3, True

    if shutil.which("taskset"):
        os.sched_setaffinity(0, {1 % (os.cpu_count() or 1)})
    result = {}
    with tempfile.TemporaryDirectory() as tmp:
        urls = {
            kind: f"sqlite+aiosqlite:///{Path(tmp) / f'{kind}.db'}"
            for kind in ("ours", "ours-ingest")
        }
        for url in urls.values():
            asyncio.run(migrate(url))
        result["sqlite"] = summarise(measure("sqlite", urls, args))
    if not args.no_pg:
        created = {k: asyncio.run(create_pg(args.pg, k.replace("-", "_"))) for k in urls}
        try:
            if all(created.values()):
                pg_urls = {k: c[0] for k, c in created.items()}
                result["pg"] = summarise(measure("pg", pg_urls, args))
        finally:
            for c in created.values():
                if c:
                    asyncio.run(drop_pg(args.pg, c[1]))
    for backend, s in result.items():
        report("SQLite" if backend == "sqlite" else "PostgreSQL", s, args)
    parts = []
    for backend, s in result.items():
        pre = "" if backend == "sqlite" else "pg_"
        parts += [
            f"{pre}ingress_ratio={s['ratio']:.2f}",
            f"{pre}ingress_ratio_worker={s['ratio_worker']:.2f}",
            f"{pre}p99_ms={s['ours']['p99']:.0f}",
            f"{pre}events_per_s={s['ours']['rate']:.0f}",
        ]
    print("RESULT " + " ".join(parts))


async def migrate(url: str) -> None:
    from storage import db

    engine = db.make_engine(url)
    await db.upgrade(engine)
    await engine.dispose()


if __name__ == "__main__":
    main()
