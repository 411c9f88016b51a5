"""Over-HTTP benchmark on 127.0.0.1: ``python benchmarks/http_servers.py [--quick] [--servers ...]``.

For each server (uvicorn with httptools for ASGI; gunicorn sync, gunicorn gthread and waitress for
WSGI) it starts three apps on free ports, each in its own process group:

- ``ours``: the app (Starlette or Flask) with our middleware;
- ``hand``: the same app without it, with the hand-written token route (Rollout's guide translated);
- ``raw``: a raw ASGI / plain WSGI app answering a constant JSON body of a token answer's size;
- ``mint`` (uvicorn only): a raw ASGI app that only mints (``TokenIssuer.issue`` and two sends),
  beside the middleware around a raw ASGI app (no Starlette layers); and a Starlette app with a
  mint-only middleware, beside ``ours`` (both pay Starlette's layers).

Then it loads them in turn, interleaved (A B C ... A B C ...), with ``wrk`` (Debian package ``wrk``)
or, if ``wrk`` is missing, a small bounded Python load generator. Servers run on CPU 0 and the load
generator on CPU 1 (``taskset``), when both exist. Every run is bounded in time; every server is
stopped at the end. The tables give median req/s and latency percentiles, and the ratios.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from _common import PASS_PATH, TOKEN_PATH, USER, USER_HEADER, machine, paired_ratio, parser

HERE = Path(__file__).resolve().parent
PY = sys.executable


@dataclass(frozen=True)
class Result:
    rps: float
    p50_ms: float
    p99_ms: float


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def pinned(argv: list[str], cpu: int | None) -> list[str]:
    if cpu is None:
        return argv
    return ["taskset", "-c", str(cpu), *argv]


def cpus() -> tuple[int | None, int | None]:
    """CPU for the servers and CPU for the load generator, or (None, None) if we cannot pin."""
    if shutil.which("taskset") is None or not hasattr(os, "sched_getaffinity"):
        return None, None
    allowed = sorted(os.sched_getaffinity(0))
    if len(allowed) < 2:
        return None, None
    return allowed[0], allowed[1]


def server_argv(kind: str, app: str, port: int) -> list[str]:
    bind = f"127.0.0.1:{port}"
    if kind == "uvicorn":
        return [
            PY, "-m", "uvicorn", f"apps:{app}", "--host", "127.0.0.1", "--port", str(port),
            "--http", "httptools", "--no-access-log", "--log-level", "warning",
            "--lifespan", "off",
        ]  # fmt: skip
    if kind == "gunicorn-sync":
        return [PY, "-m", "gunicorn", "-w", "1", "-k", "sync", "-b", bind, f"apps:{app}"]
    if kind == "gunicorn-gthread":
        return [
            PY, "-m", "gunicorn", "-w", "1", "-k", "gthread", "--threads", "4", "-b", bind,
            f"apps:{app}",
        ]  # fmt: skip
    if kind == "waitress":
        return [PY, "-m", "waitress", f"--listen={bind}", "--threads=4", f"apps:{app}"]
    raise ValueError(kind)


SERVERS = {
    "uvicorn": (
        "asgi_ours",
        "asgi_hand",
        "asgi_raw",
        "asgi_mint",
        "asgi_ours_raw",
        "asgi_mint_starlette",
    ),
    "gunicorn-sync": ("wsgi_ours", "wsgi_hand", "wsgi_raw"),
    "gunicorn-gthread": ("wsgi_ours", "wsgi_hand", "wsgi_raw"),
    "waitress": ("wsgi_ours", "wsgi_hand", "wsgi_raw"),
}


def wait_ready(port: int, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", PASS_PATH)
            conn.getresponse().read()
            conn.close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"server on port {port} did not start") from None
            time.sleep(0.1)


@contextlib.contextmanager
def servers(
    kind: str, apps: Sequence[str], cpu: int | None, processes: int = 1
) -> Iterator[dict[str, list[int]]]:
    """Start ``processes`` servers per app (own process group each); yield their ports; stop them
    all. Each process has its own luck (memory layout, hash seed): more of them average it out."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
    }
    procs: list[subprocess.Popen[bytes]] = []
    ports: dict[str, list[int]] = {app: [] for app in apps}
    started: list[int] = []
    try:
        for app in [app for app in apps for _ in range(processes)]:
            port = free_port()
            proc = subprocess.Popen(
                pinned(server_argv(kind, app, port), cpu),
                cwd=HERE,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            procs.append(proc)
            ports[app].append(port)
            started.append(port)
        for proc, port in zip(procs, started, strict=True):
            wait_ready(port, proc)
        yield ports
    finally:
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def check(port: int, path: str) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("GET", path, headers={USER_HEADER: USER})
    response = conn.getresponse()
    body = response.read()
    conn.close()
    if response.status != 200:
        raise SystemExit(f"port {port} {path}: unexpected answer {response.status} {body[:80]!r}")


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    if match is None:
        raise ValueError(text)
    return float(match.group(1)) * _UNITS[match.group(2)]


def run_wrk(url: str, seconds: float, connections: int, cpu: int | None, timeout: float) -> Result:
    argv = [
        "wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency",
        "--timeout", "5s", "-H", f"{USER_HEADER}: {USER}", url,
    ]  # fmt: skip
    out = subprocess.run(
        pinned(argv, cpu), capture_output=True, text=True, timeout=timeout, check=True
    ).stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
    if not (rps and p50 and p99):
        raise RuntimeError(f"cannot read wrk output:\n{out}")
    return Result(float(rps.group(1)), _ms(p50.group(1)), _ms(p99.group(1)))


async def _python_load(port: int, path: str, seconds: float, connections: int) -> Result:
    request = (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{USER_HEADER}: {USER}\r\n\r\n"
    ).encode()
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        reader: asyncio.StreamReader | None = None
        writer: asyncio.StreamWriter | None = None
        while time.perf_counter() < deadline:
            if writer is None:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            assert reader is not None
            start = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
            await reader.readexactly(int(length.group(1)) if length else 0)
            latencies.append(time.perf_counter() - start)
            if re.search(rb"(?i)\r\nconnection:\s*close", head):
                writer.close()
                writer = None
        if writer is not None:
            writer.close()

    started = time.perf_counter()
    await asyncio.wait_for(asyncio.gather(*(worker() for _ in range(connections))), seconds + 10)
    elapsed = time.perf_counter() - started
    latencies.sort()
    return Result(
        len(latencies) / elapsed,
        latencies[len(latencies) // 2] * 1e3,
        latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1e3,
    )


def run_python(
    url: str, seconds: float, connections: int, cpu: int | None, timeout: float
) -> Result:
    """The fallback: this module's own bounded load generator, in a pinned child process."""
    port, path = url.removeprefix("http://127.0.0.1:").split("/", 1)
    argv = [PY, __file__, "--load-child", port, "/" + path, str(seconds), str(connections)]
    out = subprocess.run(
        pinned(argv, cpu), capture_output=True, text=True, timeout=timeout, check=True
    ).stdout
    rps, p50, p99 = (float(x) for x in out.split())
    return Result(rps, p50, p99)


# variant name -> (app, path); then the ratios of each table
VARIANTS = {
    "ours token": (0, TOKEN_PATH),
    "hand route token": (1, TOKEN_PATH),
    "raw constant": (2, TOKEN_PATH),
    "raw mint": (3, TOKEN_PATH),
    "ours token, raw app": (4, TOKEN_PATH),
    "mint middleware, Starlette": (5, TOKEN_PATH),
    "ours /": (0, PASS_PATH),
    "bare /": (1, PASS_PATH),
}
RATIOS = [
    ("token path vs raw constant", "raw constant", "ours token", ">= 0.6"),
    ("the middleware alone vs raw mint", "raw mint", "ours token, raw app", ">= 0.75"),
    (
        "in Starlette: ours vs a mint-only middleware",
        "mint middleware, Starlette",
        "ours token",
        ">= 0.75",
    ),
    ("token path (in Starlette) vs raw mint", "raw mint", "ours token", ""),
    ("token path vs hand route", "hand route token", "ours token", ""),
    ("pass-through vs bare", "bare /", "ours /", ">= 0.98"),
]


def bench_server(
    kind: str, rounds: int, seconds: float, connections: int, use_wrk: bool, processes: int = 1
) -> str:
    server_cpu, load_cpu = cpus()
    apps = SERVERS[kind]
    load = run_wrk if use_wrk else run_python
    variants = {name: v for name, v in VARIANTS.items() if v[0] < len(apps)}
    results: dict[str, list[Result]] = {name: [] for name in variants}
    with servers(kind, apps, server_cpu, processes) as ports:
        for index, path in variants.values():
            for port in ports[apps[index]]:
                check(port, path)
        for _ in range(rounds):
            for process in range(processes):
                for name, (index, path) in variants.items():
                    url = f"http://127.0.0.1:{ports[apps[index]][process]}{path}"
                    results[name].append(load(url, seconds, connections, load_cpu, seconds + 30))
    rows = [
        f"### {kind}\n",
        "| variant | req/s | p50 ms | p99 ms |",
        "|---|---:|---:|---:|",
    ]
    for name, runs in results.items():
        rows.append(
            f"| {name} | {statistics.median(r.rps for r in runs):,.0f} | "
            f"{statistics.median(r.p50_ms for r in runs):.2f} | "
            f"{statistics.median(r.p99_ms for r in runs):.2f} |"
        )
    rows += ["", "| ratio (req/s) | value | target | met |", "|---|---:|---|---|"]
    for label, base, cand, target in RATIOS:
        if base not in results:
            continue
        ratio = paired_ratio([r.rps for r in results[base]], [r.rps for r in results[cand]])
        met = ""
        if target:
            met = "yes" if ratio >= float(target.split()[1]) else "**no**"
        rows.append(f"| {label} | {ratio:.3f}x | {target} | {met} |")
    return "\n".join(rows)


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument(
        "--servers", default=",".join(SERVERS), help="comma-separated, of: " + ", ".join(SERVERS)
    )
    p.add_argument("--seconds", type=float, default=None, help="length of each load run")
    p.add_argument("--connections", type=int, default=64)
    p.add_argument(
        "--processes", type=int, default=1, help="servers per app, loaded in turn (default 1)"
    )
    p.add_argument("--load", choices=("auto", "wrk", "python"), default="auto")
    args = p.parse_args()
    use_wrk = args.load == "wrk" or (args.load == "auto" and shutil.which("wrk") is not None)
    if args.load == "wrk" and shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (Debian: apt-get install wrk)")
    rounds = args.rounds or (1 if args.quick else 3)
    seconds = args.seconds or (1.0 if args.quick and use_wrk else 0.3 if args.quick else 3.0)
    connections = args.connections if use_wrk else min(args.connections, 16)
    kinds = [k.strip() for k in args.servers.split(",") if k.strip()]
    for kind in kinds:
        if kind not in SERVERS:
            raise SystemExit(f"unknown server {kind!r}; choose from {', '.join(SERVERS)}")
    server_cpu, load_cpu = cpus()
    pinning = (
        f"servers on CPU {server_cpu}, load on CPU {load_cpu}"
        if server_cpu is not None
        else "no pinning"
    )
    loader = (
        f"wrk, {connections} connections"
        if use_wrk
        else f"Python load generator, {connections} connections"
    )
    print(
        f"## Over HTTP ({rounds} interleaved rounds of {seconds:g} s per variant and server "
        f"process, {args.processes} process(es) per app; {loader}; {pinning})\n"
    )
    print(f"Machine: {machine()}\n")
    for kind in kinds:
        print(bench_server(kind, rounds, seconds, connections, use_wrk, args.processes))
        print()


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "--load-child":
        _, _, port, path, seconds, conns = sys.argv
        r = asyncio.run(_python_load(int(port), path, float(seconds), int(conns)))
        print(r.rps, r.p50_ms, r.p99_ms)
    else:
        main()
