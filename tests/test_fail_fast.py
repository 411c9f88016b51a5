"""Where a wrong option stops the app, in every wiring the README shows, and as the README says.

The constructor checks the options, as every Starlette middleware does. Starlette and FastAPI build
their middleware at the first event (the lifespan startup): uvicorn with ``--lifespan on`` stops
there; under its default ``auto`` it takes the error for "lifespan unsupported", and every request
answers 500 with the error logged. Wrapped by hand, the app fails at import under any server.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

import rollout_middleware
from rollout_middleware import ConfigurationError, RolloutTokenMiddleware
from tests.support import (
    CLIENT_ID,
    SECRET,
    free_port,
    subprocess_env,
    suite_only_dir,
    verify_token,
)


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


CASES = [
    ("fastapi_app", "ttl must be a whole number of seconds"),
    ("starlette_app", "ttl must be a whole number of seconds"),
    ("misspelt_app", "did you mean 'ttl'?"),
]
UVICORN = [sys.executable, "-m", "uvicorn"]


@pytest.mark.server
@pytest.mark.parametrize(("target", "said"), CASES)
def test_uvicorn_with_lifespan_on_refuses_to_start(target: str, said: str) -> None:
    app = f"tests.apps.misconfigured_app:{target}"
    port = str(free_port())
    code, output = start_and_wait(
        [*UVICORN, app, "--lifespan", "on", "--host", "127.0.0.1", "--port", port]
    )
    assert code != 0, output
    assert said in output
    assert "Application startup failed" in output
    assert SECRET not in output


@pytest.mark.server
def test_uvicorn_by_default_answers_500_and_logs_the_error() -> None:
    port = free_port()
    app = "tests.apps.misconfigured_app:starlette_app"
    proc = subprocess.Popen(
        [*UVICORN, app, "--host", "127.0.0.1", "--port", str(port)],
        cwd=suite_only_dir(),
        env=subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                status = httpx.get(f"http://127.0.0.1:{port}/hello", timeout=1).status_code
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "uvicorn did not start"
                time.sleep(0.1)
    finally:
        os.killpg(proc.pid, 9)
        output = proc.communicate()[0].decode(errors="replace")
    assert status == 500
    assert "ttl must be a whole number of seconds" in output
    assert SECRET not in output


@pytest.mark.server
def test_wrapped_by_hand_uvicorn_refuses_to_start() -> None:
    app = "tests.apps.misconfigured_wrapped:app"
    port = str(free_port())
    code, output = start_and_wait([*UVICORN, app, "--host", "127.0.0.1", "--port", port])
    assert code != 0, output
    assert "ttl must be a whole number of seconds" in output


def test_a_subclass_works_however_it_is_built() -> None:
    from starlette.applications import Starlette
    from starlette.middleware import Middleware

    class TenantTokens(RolloutTokenMiddleware):
        def __init__(self, app: Any, *, tenant: str, **options: Any) -> None:
            super().__init__(app, resolve_user=lambda scope: f"{tenant}:ada", **options)

    credentials = {"client_id": CLIENT_ID, "client_secret": SECRET}
    app = Starlette(middleware=[Middleware(TenantTokens, tenant="acme", **credentials)])
    with TestClient(app) as client:
        assert verify_token(client.get("/rollout-token").json()["token"])["sub"] == "acme:ada"
    wrong = Starlette(middleware=[Middleware(TenantTokens, tenant="acme", ttl=0, **credentials)])
    with pytest.raises(ConfigurationError, match="ttl"), TestClient(wrong):
        pass


def test_the_package_never_reads_the_call_stack() -> None:
    package = Path(rollout_middleware.__file__).parent
    for source in package.rglob("*.py"):
        text = source.read_text()
        for needle in ("_getframe", "f_back", "inspect.stack", "inspect.currentframe"):
            assert needle not in text, f"{source.name} reads the call stack ({needle})"


def test_built_by_hand_it_raises_at_once() -> None:
    with pytest.raises(ConfigurationError, match="ttl must be"):
        RolloutTokenMiddleware(
            lambda *a: None,  # type: ignore[arg-type,return-value]
            resolve_user=lambda scope: None,
            client_id=CLIENT_ID,
            client_secret=SECRET,
            ttl="900",  # type: ignore[typeddict-item]
        )


def test_in_process_the_first_event_raises() -> None:
    from tests.apps.misconfigured_app import fastapi_app

    fastapi_app.middleware_stack = None
    with pytest.raises(ConfigurationError, match="ttl must be"), TestClient(fastapi_app):
        pass
