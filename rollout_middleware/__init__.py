"""Serve short-lived Rollout auth tokens to your front end, from any Python web app."""

from __future__ import annotations

from ._config import RequestInfo
from .asgi import RolloutTokenEndpoint, RolloutTokenMiddleware
from .decision import Answer, TokenDecision, TokenRequest
from .errors import ConfigurationError, InvalidUserIdError, RolloutError
from .tokens import IssuedToken, TokenIssuer, generate_token
from .wsgi import RolloutTokenWSGIEndpoint, RolloutTokenWSGIMiddleware

__all__ = [
    "Answer",
    "ConfigurationError",
    "InvalidUserIdError",
    "IssuedToken",
    "RequestInfo",
    "RolloutError",
    "RolloutTokenEndpoint",
    "RolloutTokenMiddleware",
    "RolloutTokenWSGIEndpoint",
    "RolloutTokenWSGIMiddleware",
    "TokenDecision",
    "TokenIssuer",
    "TokenRequest",
    "generate_token",
]

__version__ = "0.1.0"
