"""The mount point is stripped from the path only at a ``/`` boundary.

Servers differ: most put ``root_path`` in front of ``path`` (ASGI 3), Daphne with ``--root-path``
leaves it out. A mount of ``/rollout`` must then not eat the start of ``/rollout-token``.
"""

from __future__ import annotations

import sys

import httpx
import pytest

from rollout_middleware import TokenDecision
from tests.compat.helpers import check_token, require_module
from tests.support import CLIENT_ID, SECRET, free_port, running_server


@pytest.mark.parametrize(
    ("path", "mount", "owned"),
    [
        ("/rollout-token", "", True),
        ("/rollout/rollout-token", "/rollout", True),  # root_path in path (ASGI 3)
        ("/rollout-token", "/rollout", True),  # root_path left out of path (Daphne)
        ("/rollout-token", "/rollout-token", False),  # the mount itself is "" here, not the path
        ("/rolloutx/rollout-token", "/rollout", False),
        ("/rollout/other", "/rollout", False),
        ("/app/rollout-token", "/app", True),
        ("/application/rollout-token", "/app", False),
    ],
)
def test_owns_strips_the_mount_only_at_a_slash(path: str, mount: str, owned: bool) -> None:
    decision = TokenDecision.build(path="/rollout-token", client_id=CLIENT_ID, client_secret=SECRET)
    assert decision.owns(path, mount) is owned


def test_a_mount_that_is_a_prefix_of_the_token_path_under_the_middleware() -> None:
    from starlette.testclient import TestClient

    from tests.compat.apps.asgi_plain import create_app

    app = create_app(client_id=CLIENT_ID, client_secret=SECRET)
    with TestClient(app, root_path="/rollout") as client:
        check_token(client.get("/rollout/rollout-token", headers={"X-User": "user-42"}))


@pytest.mark.server
def test_daphne_with_a_root_path_that_prefixes_the_token_path() -> None:
    require_module("daphne")
    port = free_port()
    argv = [sys.executable, "-m", "daphne", "--bind", "127.0.0.1", "--port", str(port)]
    argv += ["--root-path", "/rollout", "tests.compat.apps.asgi_plain:app"]
    with (
        running_server(argv, port, ready_path="/hello") as url,
        httpx.Client(base_url=url) as client,
    ):
        check_token(client.get("/rollout-token", headers={"X-User": "user-42"}))
        assert client.get("/rollout-token").status_code == 401
