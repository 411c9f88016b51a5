"""The Rollout API stand-in as an app, mounted at ``/api`` as Rollout's API is.

``uvicorn --factory tests.rollout_api_app:create_app`` serves it with the client id and secret of
``ROLLOUT_CLIENT_ID`` and ``ROLLOUT_CLIENT_SECRET`` and its HTTP controls on; tests that run in-process
call :func:`build` instead.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from starlette.applications import Starlette
from starlette.routing import Mount

from rollout_middleware.testing import RolloutAPIStandIn

#: The credentials every stand-in starts with: user id -> connector app keys.
SEEDED = {"user-1": ["follow-up-boss", "dotloop"], "user-2": ["lofty"]}


def build(
    client_id: str,
    client_secret: str,
    *,
    clock: Callable[[], float] = time.time,
    expose_controls: bool = False,
) -> tuple[Starlette, RolloutAPIStandIn]:
    """A stand-in seeded with :data:`SEEDED`, and an app serving it under ``/api``."""
    stand_in = RolloutAPIStandIn(
        client_id, client_secret, clock=clock, expose_controls=expose_controls
    )
    for user, app_keys in SEEDED.items():
        for app_key in app_keys:
            stand_in.add_credential(user, app_key)
    return Starlette(routes=[Mount("/api", app=stand_in)]), stand_in


def create_app() -> Starlette:
    app, _ = build(
        os.environ["ROLLOUT_CLIENT_ID"], os.environ["ROLLOUT_CLIENT_SECRET"], expose_controls=True
    )
    return app
