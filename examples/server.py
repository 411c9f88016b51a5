"""A minimal Starlette app serving Rollout tokens: ``python examples/server.py [--port N]``.

Without ROLLOUT_CLIENT_ID/ROLLOUT_CLIENT_SECRET in the environment it runs on throwaway demo
credentials and says so. Every visitor is the demo user ``demo-user``.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys

import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from rollout_middleware import RolloutTokenMiddleware

PAGE = """<!doctype html><meta charset="utf-8"><title>Rollout token demo</title>
<h1>Rollout token demo</h1><pre id="out">fetching /rollout-token ...</pre>
<script>
fetch("/rollout-token").then(r => r.json()).then(d => {
  const claims = JSON.parse(atob(d.token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
  document.getElementById("out").textContent = JSON.stringify(claims, null, 2);
});
</script>"""


async def home(request: Request) -> HTMLResponse:
    return HTMLResponse(PAGE)


def build_app() -> Starlette:
    client_id = os.environ.get("ROLLOUT_CLIENT_ID")
    client_secret = os.environ.get("ROLLOUT_CLIENT_SECRET")
    if not client_id or not client_secret:
        client_id, client_secret = "demo-client", secrets.token_urlsafe(64)
        print(
            "*** No ROLLOUT_CLIENT_ID/ROLLOUT_CLIENT_SECRET set: using throwaway DEMO credentials. "
            "Rollout will not accept these tokens. ***",
            file=sys.stderr,
        )
    return Starlette(
        routes=[Route("/", home)],
        middleware=[
            Middleware(
                RolloutTokenMiddleware,
                resolve_user=lambda scope: "demo-user",
                client_id=client_id,
                client_secret=client_secret,
            )
        ],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    uvicorn.run(build_app(), host=args.host, port=args.port)


if __name__ == "__main__":
    main()
