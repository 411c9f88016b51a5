"""The exceptions this package raises.

Every message is safe to log: none of them ever contains the client secret.
"""

from __future__ import annotations

__all__ = ["ConfigurationError", "InvalidUserIdError", "RolloutError"]


class RolloutError(Exception):
    """Base class of every error raised by ``rollout_middleware``."""


class ConfigurationError(RolloutError, ValueError):
    """The middleware, endpoint or issuer was configured wrongly.

    Raised at construction, never at the first request.
    """


class InvalidUserIdError(RolloutError, ValueError):
    """A user id cannot become a token's ``sub`` claim."""
