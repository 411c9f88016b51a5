"""Every supported server, for real: a token fetched over HTTP on 127.0.0.1, verified independently.

Each test starts one server process on a free port, answers the token checks of
:func:`~tests.compat.helpers.check_stack` (token, 401, 405, pass-through GET and POST body) and the
second token route, and stops the server's whole process group.
"""

from __future__ import annotations

from collections.abc import Sequence

import httpx
import pytest

from tests.compat.apps import asgi_plain, wsgi_plain
from tests.compat.helpers import check_stack, check_token, free_port, require_module, serve

pytestmark = [pytest.mark.server, pytest.mark.slow]


def asgi_servers() -> list[object]:
    """(module needed, argv after ``python -m``, whether the server runs the lifespan)."""
    return [
        pytest.param(
            ("uvicorn",),
            ["uvicorn", "--loop", "asyncio", "--http", "h11", "--lifespan", "on"],
            True,
            id="uvicorn-asyncio-h11",
        ),
        pytest.param(
            ("uvicorn", "uvloop", "httptools"),
            ["uvicorn", "--loop", "uvloop", "--http", "httptools", "--lifespan", "on"],
            True,
            id="uvicorn-uvloop-httptools",
        ),
        pytest.param(("hypercorn",), ["hypercorn"], True, id="hypercorn"),
        pytest.param(
            ("granian",), ["granian", "--interface", "asgi", "--workers", "1"], True, id="granian"
        ),
        # Daphne implements no lifespan protocol: it never sends lifespan.startup.
        pytest.param(("daphne",), ["daphne"], False, id="daphne"),
    ]


def wsgi_servers() -> list[object]:
    return [
        pytest.param(("gunicorn",), ["gunicorn", "--worker-class", "sync"], id="gunicorn-sync"),
        pytest.param(
            ("gunicorn",),
            ["gunicorn", "--worker-class", "gthread", "--threads", "4"],
            id="gunicorn-gthread",
        ),
        pytest.param(("waitress",), ["waitress"], id="waitress"),
        pytest.param(
            ("granian",), ["granian", "--interface", "wsgi", "--workers", "1"], id="granian-wsgi"
        ),
    ]


def bind_args(server: str, port: int) -> list[str]:
    """The options that bind ``server`` to 127.0.0.1:``port``."""
    if server in {"uvicorn", "granian"}:
        return ["--host", "127.0.0.1", "--port", str(port)]
    if server in {"hypercorn", "gunicorn"}:
        return ["--bind", f"127.0.0.1:{port}"]
    if server == "daphne":
        return ["--bind", "127.0.0.1", "--port", str(port)]
    if server == "waitress":
        return [f"--listen=127.0.0.1:{port}"]
    raise AssertionError(server)


def argv_for(server_argv: Sequence[str], port: int) -> list[str]:
    return [*server_argv, *bind_args(server_argv[0], port)]


@pytest.mark.parametrize(("modules", "server_argv", "runs_lifespan"), asgi_servers())
def test_asgi_server(modules: tuple[str, ...], server_argv: list[str], runs_lifespan: bool) -> None:
    for module in modules:
        require_module(module)
    port = free_port()
    with (
        serve("asgi_plain:app", argv_for(server_argv, port), port) as url,
        httpx.Client(base_url=url) as client,
    ):
        check_stack(client, hello=asgi_plain.HELLO)
        check_token(client.get("/sync-token", headers={"X-User": "sync-user"}), "sync-user")
        assert client.get("/sync-token").status_code == 401
        assert client.get("/lifespan").json() == {"started": runs_lifespan}
        assert client.get("/missing").status_code == 404


@pytest.mark.parametrize(("modules", "server_argv"), wsgi_servers())
def test_wsgi_server(modules: tuple[str, ...], server_argv: list[str]) -> None:
    for module in modules:
        require_module(module)
    port = free_port()
    with (
        serve("wsgi_plain:app", argv_for(server_argv, port), port) as url,
        httpx.Client(base_url=url) as client,
    ):
        check_stack(client, hello=wsgi_plain.HELLO)
        check_token(client.get("/async-token", headers={"X-User": "async-user"}), "async-user")
        assert client.get("/async-token").status_code == 401
        assert client.get("/missing").status_code == 404
