"""The README's hand-wrapped Starlette app with a wrong option: the constructor raises at import."""

from __future__ import annotations

from starlette.applications import Starlette

from rollout_middleware import RolloutTokenMiddleware
from rollout_middleware.resolvers import session_user
from tests.apps.misconfigured_app import WRONG

app = RolloutTokenMiddleware(Starlette(), resolve_user=session_user(), **WRONG)
