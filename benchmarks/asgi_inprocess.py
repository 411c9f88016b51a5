"""In-process ASGI benchmark: ``python benchmarks/asgi_inprocess.py [--quick] [--rounds N]``.

Each app is called directly, in one asyncio event loop, with a prebuilt ``http`` scope (a shallow
copy per request, as a server makes a new one), a ``receive`` that returns an empty body and a
``send`` that drops the messages. No HTTP client, no server: only the app's own cost. Variants run
interleaved (A B C ... A B C ...); the table gives the median time per request and the ratios.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import _common
import jwt
from _common import (
    CLIENT_ID,
    PASS_PATH,
    SECRET,
    TOKEN_PATH,
    USER,
    USER_HEADER,
    Comparison,
    interleave,
    machine,
    parser,
    time_table,
)
from apps import (
    resolve_sync,
    starlette_bare,
    starlette_basehttp,
    starlette_hand,
    starlette_ours,
)

from rollout_middleware.tokens import TokenIssuer

Message = dict[str, Any]


def make_scope(path: str) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"127.0.0.1:8000"),
            (b"user-agent", b"bench/1.0"),
            (b"accept", b"*/*"),
            (USER_HEADER.lower().encode(), USER.encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }


async def receive() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


def check(app: Any, path: str, expect: bytes) -> None:
    """Run one request and make sure the answer is the expected one (200 with ``expect`` in it)."""
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(app(make_scope(path), receive, send))
    status = sent[0]["status"]
    body = b"".join(m.get("body", b"") for m in sent[1:])
    if status != 200 or expect not in body:
        raise SystemExit(f"{app!r} on {path}: unexpected answer {status} {body[:80]!r}")


def asgi_runner(loop: asyncio.AbstractEventLoop, app: Any, path: str) -> Callable[[int], float]:
    scope = make_scope(path)

    async def send(message: Message) -> None:
        return None

    async def batch(n: int) -> float:
        start = _common.clock()
        for _ in range(n):
            await app(dict(scope), receive, send)
        return _common.clock() - start

    return lambda n: loop.run_until_complete(batch(n))


def main() -> None:
    args = _common.parse_args(parser(__doc__.splitlines()[0]))
    rounds = args.rounds or (3 if args.quick else 60)
    batch = 0.002 if args.quick else 0.02

    bare = starlette_bare()
    ours = starlette_ours()
    ours_sync = starlette_ours(resolve_sync)
    basehttp = starlette_basehttp()
    hand = starlette_hand()
    hand_sync = starlette_hand(sync=True)
    for app, path, expect in [
        (bare, PASS_PATH, b"Hello"),
        (ours, PASS_PATH, b"Hello"),
        (basehttp, PASS_PATH, b"Hello"),
        (ours, TOKEN_PATH, b'"token":"ey'),
        (ours_sync, TOKEN_PATH, b'"token":"ey'),
        (hand, TOKEN_PATH, b'"token":"ey'),
        (hand_sync, TOKEN_PATH, b'"token":"ey'),
        (basehttp, TOKEN_PATH, b'"token":"ey'),
    ]:
        check(app, path, expect)

    issuer = TokenIssuer(CLIENT_ID, SECRET)

    def run_mint(n: int) -> float:
        mint = issuer.mint
        start = _common.clock()
        for _ in range(n):
            mint(USER)
        return _common.clock() - start

    def run_encode(n: int) -> float:
        start = _common.clock()
        for _ in range(n):
            now = int(time.time())
            jwt.encode(
                {"iss": CLIENT_ID, "sub": USER, "iat": now, "exp": now + 900},
                SECRET,
                algorithm="HS512",
            )
        return _common.clock() - start

    loop = asyncio.new_event_loop()
    try:
        variants: dict[str, Callable[[int], float]] = {
            "bare Starlette /": asgi_runner(loop, bare, PASS_PATH),
            "ours /": asgi_runner(loop, ours, PASS_PATH),
            "BaseHTTPMiddleware /": asgi_runner(loop, basehttp, PASS_PATH),
            "hand route": asgi_runner(loop, hand, TOKEN_PATH),
            "ours token": asgi_runner(loop, ours, TOKEN_PATH),
            "BaseHTTPMiddleware token": asgi_runner(loop, basehttp, TOKEN_PATH),
            "hand sync route": asgi_runner(loop, hand_sync, TOKEN_PATH),
            "ours token, sync resolver": asgi_runner(loop, ours_sync, TOKEN_PATH),
            "jwt.encode": run_encode,
            "TokenIssuer.mint": run_mint,
        }
        samples = interleave(variants, rounds=rounds, batch_seconds=batch)
    finally:
        loop.close()

    comparisons = [
        Comparison("pass-through", "bare Starlette /", "ours /", "<= 1.04"),
        Comparison("pass-through, reference", "bare Starlette /", "BaseHTTPMiddleware /"),
        Comparison("token path", "hand route", "ours token", "<= 0.3"),
        Comparison("token path, reference", "hand route", "BaseHTTPMiddleware token"),
        Comparison("token path, sync", "hand sync route", "ours token, sync resolver"),
        Comparison("mint alone", "jwt.encode", "TokenIssuer.mint", "<= 0.4"),
    ]
    print(
        f"## In-process ASGI ({rounds} interleaved rounds of ~{batch * 1000:.0f} ms per variant, {args.clock} time)\n"
    )
    print(f"Machine: {machine()}\n")
    print(time_table(samples, comparisons))


if __name__ == "__main__":
    main()
