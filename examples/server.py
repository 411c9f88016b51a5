"""The rollout-middleware demo: ``python examples/server.py [--port N]``, then open http://127.0.0.1:8000.

A Starlette app with a login form for a few demo users (Starlette's ``SessionMiddleware``),
``RolloutTokenMiddleware`` at ``/rollout-token`` resolving the session's user, and two pages:

- ``/``: plain JavaScript, no build step. It fetches a token the way Rollout's React guide does, shows
  its decoded claims with a live countdown to expiry, calls Rollout's ``/credentials`` with it, and
  fetches a new token when the API answers 401.
- ``/react``: Rollout's own ``@rollout/link-react`` client, built from ``examples/react-link``.

This file is the wiring; the pages are Jinja templates in ``examples/demo/templates`` and their
stylesheet and script are in ``examples/demo/static``.

Without ``ROLLOUT_CLIENT_ID``/``ROLLOUT_CLIENT_SECRET`` in the environment it makes throwaway demo
credentials and mounts :class:`rollout_middleware.testing.RolloutAPIStandIn` at ``/rollout-api``, so
everything runs offline. With real credentials the pages call Rollout's API (``--api-base-url``);
``--stand-in`` keeps the local stand-in with your credentials.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from rollout_middleware import RequestInfo, RolloutTokenMiddleware
from rollout_middleware.resolvers import session_user
from rollout_middleware.testing import RolloutAPIStandIn

ROLLOUT_API = "https://universal.rollout.com/api"
STAND_IN_PATH = "/rollout-api"
HERE = Path(__file__).resolve().parent
TEMPLATES = Jinja2Templates(directory=HERE / "demo" / "templates")
STATIC = HERE / "demo" / "static"
REACT_DIST = HERE / "react-link" / "dist"

#: Demo users: user id (the token's ``sub``) -> display name.
USERS = {
    "user-ada": "Ada Lovelace",
    "user-grace": "Grace Hopper",
    "user-alan": "Alan Turing",
}


@dataclass(frozen=True)
class DemoConfig:
    client_id: str
    client_secret: str
    api_base_url: str
    stand_in: bool
    demo_credentials: bool
    ttl: int = 900


def seed(stand_in: RolloutAPIStandIn) -> None:
    """Give the demo users a few connected systems in the stand-in."""
    stand_in.add_credential("user-ada", "follow-up-boss", label="Ada's Follow Up Boss")
    stand_in.add_credential("user-ada", "dotloop", label="Lovelace Realty on dotloop")
    stand_in.add_credential("user-grace", "hubspot", label="Hopper & Co. HubSpot")
    stand_in.add_credential("user-grace", "gmail", label="grace@hopper.example")


# -- the app --------------------------------------------------------------------------------------


PAGES = ("/", "/react")


def safe_next(value: object) -> str:
    """Where to go after logging in: one of this app's pages, never another site."""
    return value if isinstance(value, str) and value in PAGES else "/"


def build_app(config: DemoConfig) -> Starlette:
    stand_in: RolloutAPIStandIn | None = None
    if config.stand_in:
        stand_in = RolloutAPIStandIn(config.client_id, config.client_secret, expose_controls=True)
        seed(stand_in)

    def render(
        request: Request, template: str, status_code: int = 200, **context: object
    ) -> Response:
        """A page of ``demo/templates``, with what every page shows (the banner, the footer)."""
        context = {
            "demo_credentials": config.demo_credentials,
            "stand_in_path": STAND_IN_PATH,
            "api_base_url": config.api_base_url,
            **context,
        }
        return TEMPLATES.TemplateResponse(request, template, context, status_code=status_code)

    def page(request: Request, template: str, title: str) -> Response:
        """A page for the logged-in user, or the way to the login form."""
        user_id = request.session.get("user_id")
        if user_id not in USERS:
            return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
        user = {"id": user_id, "name": USERS[user_id]}
        # What the page's script reads: where Rollout's API is, and who is logged in.
        page_config = {
            "apiBaseUrl": config.api_base_url,
            "standInControls": stand_in is not None,
            "user": user,
        }
        active = request.url.path
        return render(
            request, template, title=title, user=user, active=active, page_config=page_config
        )

    async def home(request: Request) -> Response:
        return page(request, "plain.html", "Plain JavaScript")

    async def react(request: Request) -> Response:
        built = (REACT_DIST / "app.js").is_file()
        return page(request, "react.html" if built else "react_missing.html", "React")

    def login_form(request: Request, next_page: str, status_code: int = 200) -> Response:
        return render(
            request, "login.html", status_code, title="Sign in", users=USERS, next_page=next_page
        )

    async def login(request: Request) -> Response:
        if request.method == "GET":
            return login_form(request, safe_next(request.query_params.get("next")))
        form = await request.form()
        user_id = form.get("user_id")
        next_page = safe_next(form.get("next"))
        if not isinstance(user_id, str) or user_id not in USERS:
            return login_form(request, next_page, status_code=400)
        request.session.clear()
        request.session["user_id"] = user_id
        return RedirectResponse(next_page, status_code=303)

    async def logout(request: Request) -> Response:
        request.session.clear()
        return RedirectResponse("/login", status_code=303)

    def on_issue(user_id: str, expires_at: int, info: RequestInfo) -> None:
        print(f"issued a Rollout token for sub={user_id!r}, expires at {expires_at}", flush=True)

    routes: list[BaseRoute] = [
        Route("/", home),
        Route("/react", react),
        Route("/login", login, methods=["GET", "POST"]),
        Route("/logout", logout, methods=["POST"]),
        Mount("/static", app=StaticFiles(directory=STATIC)),
        Mount("/react-link", app=StaticFiles(directory=REACT_DIST, check_dir=False)),
    ]
    if stand_in is not None:
        routes.append(Mount(STAND_IN_PATH, app=stand_in))
    app = Starlette(
        routes=routes,
        middleware=[
            # The session must be read before the token middleware asks who the user is.
            Middleware(
                SessionMiddleware,
                secret_key=secrets.token_urlsafe(32),
                session_cookie="demo_session",
                same_site="lax",
            ),
            Middleware(
                RolloutTokenMiddleware,
                resolve_user=session_user("user_id"),
                client_id=config.client_id,
                client_secret=config.client_secret,
                ttl=config.ttl,
                on_issue=on_issue,
            ),
        ],
    )
    app.state.stand_in = stand_in
    return app


def load_config(args: argparse.Namespace, environ: dict[str, str] | os._Environ[str]) -> DemoConfig:
    client_id = environ.get("ROLLOUT_CLIENT_ID", "")
    client_secret = environ.get("ROLLOUT_CLIENT_SECRET", "")
    demo = not (client_id and client_secret)
    if demo:
        client_id, client_secret = "demo-client", secrets.token_urlsafe(64)
    stand_in = demo or args.stand_in
    if stand_in:
        api_base_url = STAND_IN_PATH
    else:
        api_base_url = args.api_base_url or environ.get("ROLLOUT_API_BASE_URL", "") or ROLLOUT_API
    return DemoConfig(client_id, client_secret, api_base_url, stand_in, demo, args.ttl)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--ttl", type=int, default=900, help="token lifetime in seconds (900)")
    parser.add_argument(
        "--api-base-url",
        help=f"Rollout API base URL with real credentials (default $ROLLOUT_API_BASE_URL or {ROLLOUT_API})",
    )
    parser.add_argument(
        "--stand-in",
        action="store_true",
        help=f"serve the local Rollout API stand-in at {STAND_IN_PATH} even with real credentials",
    )
    parser.add_argument("--quiet", action="store_true", help="no access log")
    args = parser.parse_args(argv)
    config = load_config(args, os.environ)
    if config.demo_credentials:
        print(
            "*** No ROLLOUT_CLIENT_ID/ROLLOUT_CLIENT_SECRET set: using throwaway DEMO credentials "
            f"and a local stand-in of Rollout's API at {STAND_IN_PATH}. Rollout itself would "
            "not accept these tokens. ***",
            file=sys.stderr,
            flush=True,
        )
    print(f"Open http://{args.host}:{args.port}/ (Ctrl+C to stop)", file=sys.stderr, flush=True)
    uvicorn.run(
        build_app(config),
        host=args.host,
        port=args.port,
        access_log=not args.quiet,
        log_level="warning" if args.quiet else "info",
    )


if __name__ == "__main__":
    main()
