"""Shared test helpers: credentials, an independent token check, real servers on loopback, tools."""

from __future__ import annotations

import atexit
import base64
import contextlib
import functools
import hashlib
import hmac
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from joserfc import jwt as jose_jwt
from joserfc.jwk import OctKey

#: This test suite's own directory, the package ``tests``.
TESTS = Path(__file__).resolve().parent
#: The tree the tests came in (a checkout or an unpacked sdist): its examples, docs and benchmarks.
#: Never put on a path: under it lies the package's source, and the tests test the installed package.
ROOT = TESTS.parent
#: Set by CI when the suite runs against an installed wheel rather than a developer's checkout.
INSTALLED = os.environ.get("ROLLOUT_TEST_INSTALLED", "") == "1"
CLIENT_ID = "test-client"
#: 64 bytes: long enough that PyJWT's key-length recommendation is met.
SECRET = "s3cr3t-" + "x" * 57
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
#: Frameworks this run cannot install, named by the nox session that pins the oldest releases
#: (every Quart needs a newer Flask than the oldest one): their tests skip there, and only there.
WITHOUT = frozenset(filter(None, os.environ.get("ROLLOUT_TESTS_WITHOUT", "").split(",")))


def absent(error: ImportError) -> bool:
    """Whether ``error`` (or what caused it) is a missing framework this run was told it lacks;
    anywhere else a missing framework fails the test that imports it."""
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, ModuleNotFoundError) and (cause.name or "").split(".")[0] in WITHOUT:
            return True
        cause = cause.__cause__
    return False


def skip_without(source: str) -> None:
    """Skip the test of a snippet or an example that imports a framework this run lacks."""
    for name in WITHOUT:
        if re.search(rf"^\s*(?:from|import)\s+{re.escape(name)}\b", source, re.MULTILINE):
            pytest.skip(f"this run has no {name}")


def b64url_decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def verify_token(
    token: str, *, secret: str = SECRET, client_id: str = CLIENT_ID, ttl: int = 900
) -> dict[str, Any]:
    """Check ``token`` without PyJWT: the HMAC by hand, then joserfc; return its claims."""
    header_b64, payload_b64, signature_b64 = token.split(".")
    expected = hmac.new(
        secret.encode(), f"{header_b64}.{payload_b64}".encode(), hashlib.sha512
    ).digest()
    assert hmac.compare_digest(expected, b64url_decode(signature_b64)), "bad signature"
    assert json.loads(b64url_decode(header_b64)) == {"alg": "HS512", "typ": "JWT"}
    decoded = jose_jwt.decode(token, OctKey.import_key(secret.encode()), algorithms=["HS512"])
    claims = decoded.claims
    assert list(claims) == ["iss", "sub", "iat", "exp"], claims
    assert claims["iss"] == client_id
    assert isinstance(claims["sub"], str)
    assert claims["exp"] - claims["iat"] == ttl
    assert abs(claims["iat"] - time.time()) < 120
    return dict(claims)


def require_executable(name: str, why: str) -> str:
    """The path of ``name``; skip the test if it is missing, but fail it in CI."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed: {why}"
        if IN_CI:
            pytest.fail(message + " (CI must install it)")
        pytest.skip(message)
    return path


@functools.cache
def suite_only_dir() -> Path:
    """A fresh directory holding nothing but ``tests``, a link to this test suite.

    It is the working directory and the ``PYTHONPATH`` of the Python processes the tests start, so
    that they import ``tests.apps...`` and ``tests.django_project...`` while ``rollout_middleware``
    comes from wherever it is installed (site-packages, or the developer's editable install), never
    from the package source that lies beside ``tests`` in a checkout or an sdist.
    """
    path = Path(tempfile.mkdtemp(prefix="rollout-tests-"))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    (path / "tests").symlink_to(TESTS, target_is_directory=True)
    return path


def subprocess_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a Python process the tests start: ours, ``env``, and ``tests`` importable
    through :func:`suite_only_dir` (ahead of any ``PYTHONPATH`` of the caller's)."""
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    full_env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(suite_only_dir()), full_env.get("PYTHONPATH", "")) if p
    )
    return full_env


def npm_ci(
    directory: Path, why: str, *, env: Mapping[str, str] | None = None, timeout: float = 600
) -> None:
    """``npm ci`` in ``directory`` (its package-lock.json), for a test that needs it.

    Without npm the test skips (fails in CI), as :func:`require_executable` says. When ``npm ci``
    fails, most often because no npm registry can be reached (an offline build), the test skips
    with npm's error as the reason; in CI that skip fails the run (``tests/conftest.py``).
    """
    npm = require_executable("npm", why)
    argv = [npm, "ci", "--no-audit", "--no-fund"]
    try:
        done = subprocess.run(
            argv,
            cwd=directory,
            env={**os.environ, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.skip(f"npm ci in {directory} took over {timeout:.0f} s (no npm registry?): {why}")
    if done.returncode != 0:
        lines = [line.strip() for line in done.stderr.splitlines() if line.strip()]
        said = " | ".join(
            [line for line in lines if re.match(r"npm error (code |\w*Error: )", line)][:2]
            or lines[-3:]
        )
        pytest.skip(
            f"npm ci failed in {directory} (exit {done.returncode}; is an npm registry reachable?)"
            f": {why}. npm said: {said}"
        )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def running_server(
    argv: Sequence[str],
    port: int,
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    ready_path: str = "/",
    timeout: float = 30.0,
) -> Iterator[str]:
    """Run ``argv`` (a server bound to 127.0.0.1:``port``) until the block ends; yield its URL.

    The server runs in ``cwd`` (by default :func:`suite_only_dir`) with :func:`subprocess_env`, in
    its own process group, and the whole group is stopped afterwards, so no worker is left behind.
    Its output is shown if it fails to start.
    """
    proc = subprocess.Popen(
        list(argv),
        cwd=suite_only_dir() if cwd is None else cwd,
        env=subprocess_env(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                output = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
                raise RuntimeError(f"server exited with {proc.returncode}:\n{output}")
            try:
                httpx.get(url + ready_path, timeout=1.0)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"server did not start on port {port}") from None
                time.sleep(0.1)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        if proc.stdout:
            proc.stdout.close()


PYTHON = sys.executable


def req(
    decision: Any,
    method: str,
    headers: Mapping[str, str] | None = None,
    content_length: int | None = None,
    *,
    path: str = "/rollout-token",
    client: str | None = "127.0.0.1",
) -> Any:
    """The core's :class:`~rollout_middleware.decision.TokenRequest` for a request of these values."""
    return decision.request(
        method, (headers or {}).items(), path=path, client=client, content_length=content_length
    )


def _server_environ(
    app: Any, raw: list[tuple[bytes, bytes]], chunked: bool, environ: dict[str, Any], start: Any
) -> Any:
    """``app`` given the environ of a PEP 3333 server such as gunicorn: every header, repeated
    ones joined with ``,``, values as latin-1 text; a chunked body with no ``CONTENT_LENGTH``, on a
    stream marked ``wsgi.input_terminated``."""
    for key in [key for key in environ if key.startswith("HTTP_")]:
        del environ[key]
    for name, value in raw:
        key = name.decode("latin-1").upper().replace("-", "_")
        text = value.decode("latin-1")
        if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            environ[key] = text
            continue
        key = "HTTP_" + key
        environ[key] = f"{environ[key]},{text}" if key in environ else text
    if chunked:
        environ.pop("CONTENT_LENGTH", None)
        environ["wsgi.input_terminated"] = True
    return app(environ, start)


def pep3333_transport(app: Any) -> Any:
    """An httpx transport for a WSGI ``app`` that builds the environ as a real server does
    (httpx's own keeps only the last of repeated headers, and refuses non-ASCII values)."""
    try:
        import httpx2
    except ModuleNotFoundError:  # Python 3.10
        import httpx as httpx2

    class Transport(httpx2.WSGITransport):  # type: ignore[misc,name-defined]
        def handle_request(self, request: Any) -> Any:
            raw = list(request.headers.raw)
            chunked = "content-length" not in request.headers and bool(request.read())
            plain = httpx2.Request(
                request.method,
                request.url,
                headers=[(k, v) for k, v in raw if v.isascii()],
                content=request.read(),
            )
            self.app = functools.partial(_server_environ, app, raw, chunked)
            return super().handle_request(plain)

    return Transport(app=app)
