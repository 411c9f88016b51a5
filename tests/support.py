"""Shared test helpers: credentials, an independent token check, real servers on loopback, tools."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from joserfc import jwt as jose_jwt
from joserfc.jwk import OctKey

ROOT = Path(__file__).resolve().parent.parent
CLIENT_ID = "test-client"
#: 64 bytes: long enough that PyJWT's key-length recommendation is met.
SECRET = "s3cr3t-" + "x" * 57
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


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
    cwd: Path = ROOT,
    ready_path: str = "/",
    timeout: float = 30.0,
) -> Iterator[str]:
    """Run ``argv`` (a server bound to 127.0.0.1:``port``) until the block ends; yield its URL.

    The server runs in its own process group, and the whole group is stopped afterwards, so no
    worker is left behind. Its output is shown if it fails to start.
    """
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    full_env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT), full_env.get("PYTHONPATH", "")) if p
    )
    proc = subprocess.Popen(
        list(argv),
        cwd=cwd,
        env=full_env,
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
