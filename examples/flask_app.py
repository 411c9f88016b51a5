"""Rollout tokens in a Flask app, with a session login: the smallest complete wiring.

    pip install "rollout-middleware[flask]"
    ROLLOUT_CLIENT_ID=... ROLLOUT_CLIENT_SECRET=... python examples/flask_app.py [--port 8000]

Log in with ``curl -c jar -d user_id=ada http://127.0.0.1:8000/login``, then
``curl -b jar http://127.0.0.1:8000/rollout-token``. With Flask-Login, the resolver is
``lambda: current_user.get_id()``.
"""

from __future__ import annotations

import argparse
import os
import secrets

from flask import Flask, redirect, request, session
from werkzeug.wrappers import Response

from rollout_middleware.contrib.flask import RolloutToken

app = Flask(__name__)
app.secret_key = os.environ.get("SESSION_SECRET") or secrets.token_hex(32)

# Credentials from ROLLOUT_CLIENT_ID and ROLLOUT_CLIENT_SECRET (or app.config); GET /rollout-token.
# The resolver runs in the request context, so Flask's session (and Flask-Login) work in it.
RolloutToken(app, resolve_user=lambda: session.get("user_id"))


@app.get("/")
def home() -> str:
    user = session.get("user_id")
    return f"Logged in as {user}" if user else "Not logged in: POST /login"


@app.post("/login")
def login() -> Response | tuple[str, int]:
    """A stand-in for your real login: it trusts the user id it is given."""
    user_id = request.form.get("user_id", "").strip()
    if not user_id:
        return "user_id is required", 400
    session["user_id"] = user_id
    return redirect("/", code=303)


@app.post("/logout")
def logout() -> Response:
    session.clear()
    return redirect("/", code=303)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Rollout tokens in a Flask app")
    parser.add_argument("--port", type=int, default=8000)
    app.run(host="127.0.0.1", port=parser.parse_args().port)
