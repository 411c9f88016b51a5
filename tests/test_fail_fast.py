"""A wrong option stops the app before it serves a request, in every wiring the README shows.

Starlette and FastAPI build their middleware stack lazily, at the first event: under uvicorn's
default ``--lifespan auto`` an exception there is taken for "lifespan unsupported", and then every
route answers 500. Built lazily from a wrong configuration, the middleware fails the lifespan
startup instead, and the server exits.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from starlette.testclient import TestClient

from rollout_middleware import ConfigurationError, RolloutTokenMiddleware
from tests.support import CLIENT_ID, SECRET, free_port, subprocess_env, suite_only_dir


def start_and_wait(argv: list[str]) -> tuple[int, str]:
    """Run a server that must refuse to start; its exit code and output."""
    proc = subprocess.Popen(
        argv,
        cwd=suite_only_dir(),
        env=subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        output, _ = proc.communicate(timeout=60)  # a safety net: a refusing server exits at once
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        output, _ = proc.communicate()
        pytest.fail("the server started serving:\n" + output.decode(errors="replace"))
    return proc.returncode, output.decode(errors="replace")


@pytest.mark.server
@pytest.mark.parametrize(
    ("target", "said"),
    [
        ("fastapi_app", "ttl must be a whole number of seconds"),
        ("starlette_app", "ttl must be a whole number of seconds"),
        ("misspelt_app", "did you mean 'ttl'?"),
    ],
)
def test_uvicorn_with_default_settings_refuses_to_start(target: str, said: str) -> None:
    port = free_port()
    argv = [sys.executable, "-m", "uvicorn", f"tests.apps.misconfigured_app:{target}"]
    code, output = start_and_wait([*argv, "--host", "127.0.0.1", "--port", str(port)])
    assert code != 0, output
    assert said in output
    assert "Application startup failed" in output
    assert "appears unsupported" not in output
    assert SECRET not in output


@pytest.mark.server
def test_hypercorn_refuses_to_start() -> None:
    """Hypercorn stops, though with exit code 0 (Hypercorn's choice, not ours)."""
    port = free_port()
    argv = [sys.executable, "-m", "hypercorn", "tests.apps.misconfigured_app:fastapi_app"]
    _, output = start_and_wait([*argv, "--bind", f"127.0.0.1:{port}"])
    assert "Lifespan failure in startup" in output
    assert "ttl must be a whole number of seconds" in output


def test_built_by_hand_it_raises_at_once() -> None:
    with pytest.raises(ConfigurationError, match="ttl must be"):
        RolloutTokenMiddleware(
            lambda *a: None,  # type: ignore[arg-type,return-value]
            resolve_user=lambda scope: None,
            client_id=CLIENT_ID,
            client_secret=SECRET,
            ttl="900",  # type: ignore[typeddict-item]
        )


def test_in_process_the_lifespan_startup_fails() -> None:
    from tests.apps.misconfigured_app import fastapi_app

    fastapi_app.middleware_stack = None
    with pytest.raises(Exception, match="ttl must be"), TestClient(fastapi_app):
        pass
