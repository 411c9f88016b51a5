"""The README's Starlette and FastAPI wirings with a wrong option (``ttl="900"``), for the test that
the server refuses to start (``tests/test_fail_fast.py``)."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from rollout_middleware import RolloutTokenMiddleware
from rollout_middleware.resolvers import session_user
from tests.support import CLIENT_ID, SECRET

WRONG = {"client_id": CLIENT_ID, "client_secret": SECRET, "ttl": "900"}

fastapi_app = FastAPI()


@fastapi_app.get("/hello")
async def hello() -> str:
    return "hello"


fastapi_app.add_middleware(RolloutTokenMiddleware, resolve_user=session_user("user_id"), **WRONG)
fastapi_app.add_middleware(SessionMiddleware, secret_key="k")

starlette_app = Starlette(
    routes=[Route("/hello", lambda request: PlainTextResponse("hello"))],
    middleware=[
        Middleware(SessionMiddleware, secret_key="k"),
        Middleware(RolloutTokenMiddleware, resolve_user=session_user("user_id"), **WRONG),
    ],
)
#: A misspelt option: TypeError, not ConfigurationError.
misspelt_app = FastAPI()
misspelt_app.add_middleware(
    RolloutTokenMiddleware,
    resolve_user=session_user(),
    client_id=CLIENT_ID,
    client_secret=SECRET,
    ttl_seconds=900,
)
