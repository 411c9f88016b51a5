"""Serve short-lived Rollout auth tokens to your front end, from any Python web app.

The ASGI middleware and endpoint are in :mod:`rollout_middleware.asgi`, the WSGI ones in
:mod:`rollout_middleware.wsgi`, token minting in :mod:`rollout_middleware.tokens`. The names most
apps need are importable from here.
"""

from __future__ import annotations

from .asgi import RolloutTokenEndpoint, RolloutTokenMiddleware
from .config import Options, RequestInfo, Settings
from .decision import Answer, TokenDecision
from .errors import ConfigurationError, InvalidUserIdError, RolloutError
from .tokens import IssuedToken, TokenIssuer, generate_token
from .wsgi import RolloutTokenWSGIEndpoint, RolloutTokenWSGIMiddleware

__all__ = [
    "Answer",
    "ConfigurationError",
    "InvalidUserIdError",
    "IssuedToken",
    "Options",
    "RequestInfo",
    "RolloutError",
    "RolloutTokenEndpoint",
    "RolloutTokenMiddleware",
    "RolloutTokenWSGIEndpoint",
    "RolloutTokenWSGIMiddleware",
    "Settings",
    "TokenDecision",
    "TokenIssuer",
    "generate_token",
]

__version__ = "0.1.0"
