"""The benchmark scripts keep working: each runs in its few-second ``--quick`` mode and prints its
table. Benchmarks are not tests: nothing here looks at a timing, only at the table's shape."""

from __future__ import annotations

import re
import subprocess

import pytest

from tests.support import PYTHON, ROOT, require_executable

BENCH = ROOT / "benchmarks"
NUMBER = r"[\d,]+(?:\.\d+)?"


def run(script: str, *args: str, timeout: float = 120) -> str:
    result = subprocess.run(
        [PYTHON, str(BENCH / script), "--quick", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    return result.stdout


def assert_time_rows(out: str, labels: list[str]) -> None:
    assert "| comparison | baseline | µs | candidate | µs | ratio | target | met |" in out
    for label in labels:
        row = re.search(
            rf"^\| {re.escape(label)} \| [^|]+ \| {NUMBER} \| [^|]+ \| {NUMBER} \| {NUMBER}x \|",
            out,
            re.M,
        )
        assert row, f"no row {label!r} in:\n{out}"


@pytest.mark.slow
def test_asgi_inprocess() -> None:
    out = run("asgi_inprocess.py")
    assert out.startswith("## In-process ASGI")
    assert_time_rows(
        out,
        [
            "pass-through",
            "pass-through, reference",
            "token path",
            "token path, reference",
            "token path, sync",
            "mint alone",
        ],
    )


@pytest.mark.slow
def test_wsgi_inprocess() -> None:
    out = run("wsgi_inprocess.py")
    assert out.startswith("## In-process WSGI")
    assert_time_rows(
        out,
        [
            "pass-through",
            "pass-through, reference",
            "pass-through, plain WSGI app",
            "token path",
            "token path, reference",
        ],
    )


def assert_http_table(out: str, server: str) -> None:
    assert f"### {server}\n" in out, out
    for variant in ("ours token", "hand route token", "raw constant", "ours /", "bare /"):
        assert re.search(
            rf"^\| {re.escape(variant)} \| {NUMBER} \| {NUMBER} \| {NUMBER} \|$", out, re.M
        ), f"no row {variant!r} in:\n{out}"
    ratios = ["token path vs raw constant", "token path vs hand route", "pass-through vs bare"]
    if server == "uvicorn":  # the mint-only apps, each beside the variant of ours it matches
        ratios += [
            "the middleware alone vs raw mint",
            "in Starlette: ours vs a mint-only middleware",
        ]
    for ratio in ratios:
        assert re.search(rf"^\| {ratio} \| {NUMBER}x \|", out, re.M), f"no {ratio!r} in:\n{out}"


@pytest.mark.server
@pytest.mark.slow
@pytest.mark.parametrize("server", ["uvicorn", "gunicorn-sync", "gunicorn-gthread", "waitress"])
def test_http_servers_python_load(server: str) -> None:
    """Every server, loaded by the fallback Python load generator (0.3 s per variant)."""
    processes = "2" if server == "uvicorn" else "1"
    out = run("http_servers.py", "--servers", server, "--load", "python", "--processes", processes)
    assert "Python load generator" in out
    assert f"{processes} process(es) per app" in out
    assert_http_table(out, server)


@pytest.mark.server
@pytest.mark.slow
def test_http_servers_wrk() -> None:
    """The wrk path (1 s per variant, wrk's shortest run), on uvicorn."""
    require_executable("wrk", "the HTTP benchmark's load generator (Debian package wrk)")
    out = run("http_servers.py", "--servers", "uvicorn", "--load", "wrk")
    assert "wrk, 64 connections" in out
    assert_http_table(out, "uvicorn")
