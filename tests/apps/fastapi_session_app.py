"""A FastAPI app with a session-cookie login, the token router under ``prefix="/api"``.

The user dependency reads Starlette's ``SessionMiddleware`` session from the request. For real
servers (``uvicorn tests.apps.fastapi_session_app:app``) and ``TestClient`` alike.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import FastAPI, Form, HTTPException, Request
from starlette.middleware.sessions import SessionMiddleware

from rollout_middleware.contrib.fastapi import rollout_token_router

from ..support import CLIENT_ID, SECRET

USERS = {"alice": "wonderland", "bob": "builder"}


def session_user_id(request: Request) -> str | None:
    user_id: str | None = request.session.get("user_id")
    return user_id


def build_app(**options: Any) -> FastAPI:
    app = FastAPI()

    @app.post("/login")
    def login(
        request: Request, username: Annotated[str, Form()], password: Annotated[str, Form()]
    ) -> dict[str, str]:
        if USERS.get(username) != password:
            raise HTTPException(403, "bad credentials")
        request.session["user_id"] = username
        return {"user": username}

    @app.post("/logout")
    def logout(request: Request) -> dict[str, None]:
        request.session.clear()
        return {"user": None}

    @app.get("/")
    def home(request: Request) -> dict[str, str | None]:
        return {"user": session_user_id(request)}

    router = rollout_token_router(
        session_user_id, client_id=CLIENT_ID, client_secret=SECRET, **options
    )
    app.include_router(router, prefix="/api")
    app.add_middleware(SessionMiddleware, secret_key="test-session-key", https_only=False)
    return app


app = build_app()
