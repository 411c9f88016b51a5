"""Rollout tokens in any WSGI app, behind a proxy that authenticates: standard library only.

    pip install rollout-middleware
    ROLLOUT_CLIENT_ID=... ROLLOUT_CLIENT_SECRET=... python examples/wsgi_app.py [--port 8000]

Your authenticating proxy (oauth2-proxy, an SSO gateway) sets ``X-Auth-User`` and strips it from
what clients send; try ``curl -H "X-Auth-User: ada" http://127.0.0.1:8000/rollout-token``.
For a login of the app's own (a signed cookie), see ``examples/wsgi_server.py``.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from typing import TYPE_CHECKING
from wsgiref.simple_server import make_server

from rollout_middleware import RolloutTokenWSGIMiddleware
from rollout_middleware.resolvers import trusted_environ_header

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment


def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """Your WSGI app (Pyramid, Bottle, Falcon, ...). It knows nothing of Rollout."""
    user = environ.get("HTTP_X_AUTH_USER") or "nobody"
    body = f"Hello, {user}. Your front end fetches /rollout-token.\n".encode()
    headers = [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))]
    start_response("200 OK", headers)
    return [body]


# Credentials from ROLLOUT_CLIENT_ID and ROLLOUT_CLIENT_SECRET; GET /rollout-token answers for the
# user the proxy named (401 without one), every other request goes to ``app`` untouched.
application = RolloutTokenWSGIMiddleware(app, resolve_user=trusted_environ_header("X-Auth-User"))

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Rollout tokens in a plain WSGI app")
    parser.add_argument("--port", type=int, default=8000)
    with make_server("127.0.0.1", parser.parse_args().port, application) as server:
        server.serve_forever()
