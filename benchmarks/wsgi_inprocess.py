"""In-process WSGI benchmark: ``python benchmarks/wsgi_inprocess.py [--quick] [--rounds N]``.

Each app is called directly with a prebuilt environ (a shallow copy per request, with a fresh empty
``wsgi.input``) and a trivial ``start_response``; the answer is iterated and closed, as a server
does. No HTTP client, no server: only the app's own cost. Variants run interleaved; the table gives
the median time per request and the ratios.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Callable
from typing import Any

import _common
from _common import (
    PASS_PATH,
    TOKEN_PATH,
    USER,
    USER_HEADER,
    Comparison,
    interleave,
    machine,
    parser,
    time_table,
)
from apps import flask_bare, flask_hand, flask_hook, flask_ours, plain_wsgi, plain_wsgi_ours


def make_environ(path: str) -> dict[str, Any]:
    return {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1:8000",
        "HTTP_USER_AGENT": "bench/1.0",
        "HTTP_ACCEPT": "*/*",
        "HTTP_" + USER_HEADER.upper().replace("-", "_"): USER,
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }


def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
    return None


def call(app: Any, environ: dict[str, Any]) -> tuple[str, bytes]:
    """One request, the way a server runs it: the status and the body."""
    seen: list[str] = []

    def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        seen.append(status)

    result = app(environ, start)
    try:
        body = b"".join(result)
    finally:
        if hasattr(result, "close"):
            result.close()
    return seen[0], body


def wsgi_runner(app: Any, path: str) -> Callable[[int], float]:
    environ = make_environ(path)
    status, body = call(app, dict(environ))
    if not status.startswith("200") or not (b"Hello" in body or b'"token":"ey' in body):
        raise SystemExit(f"{app!r} on {path}: unexpected answer {status} {body[:80]!r}")

    def batch(n: int) -> float:
        empty = io.BytesIO
        start = _common.clock()
        for _ in range(n):
            env = dict(environ)
            env["wsgi.input"] = empty(b"")
            result = app(env, start_response)
            for _chunk in result:
                pass
            close = getattr(result, "close", None)
            if close is not None:
                close()
        return _common.clock() - start

    return batch


def main() -> None:
    args = _common.parse_args(parser(__doc__.splitlines()[0]))
    rounds = args.rounds or (3 if args.quick else 60)
    batch = 0.002 if args.quick else 0.02

    bare, ours, hand, hook = flask_bare(), flask_ours(), flask_hand(), flask_hook()
    plain, plain_ours = plain_wsgi, plain_wsgi_ours()
    variants: dict[str, Callable[[int], float]] = {
        "bare Flask /": wsgi_runner(bare, PASS_PATH),
        "ours /": wsgi_runner(ours, PASS_PATH),
        "before_request hook /": wsgi_runner(hook, PASS_PATH),
        "plain WSGI /": wsgi_runner(plain, PASS_PATH),
        "ours + plain WSGI /": wsgi_runner(plain_ours, PASS_PATH),
        "hand Flask route": wsgi_runner(hand, TOKEN_PATH),
        "ours token": wsgi_runner(ours, TOKEN_PATH),
        "before_request hook token": wsgi_runner(hook, TOKEN_PATH),
    }
    samples = interleave(variants, rounds=rounds, batch_seconds=batch)
    comparisons = [
        Comparison("pass-through", "bare Flask /", "ours /", "<= 1.04"),
        Comparison("pass-through, reference", "bare Flask /", "before_request hook /"),
        Comparison("pass-through, plain WSGI app", "plain WSGI /", "ours + plain WSGI /"),
        Comparison("token path", "hand Flask route", "ours token", "<= 0.3"),
        Comparison("token path, reference", "hand Flask route", "before_request hook token"),
    ]
    print(
        f"## In-process WSGI ({rounds} interleaved rounds of ~{batch * 1000:.0f} ms per variant, {args.clock} time)\n"
    )
    print(f"Machine: {machine()}\n")
    print(time_table(samples, comparisons))


if __name__ == "__main__":
    main()
