"""The exceptions this package raises.

Every message is safe to log: none of them ever contains the client secret.
"""

from __future__ import annotations

__all__ = ["ConfigurationError", "InvalidUserIdError", "ResolverTimeoutError", "RolloutError"]


class RolloutError(Exception):
    """Base class of every error raised by ``rollout_middleware``."""


class ConfigurationError(RolloutError, ValueError):
    """The middleware, endpoint or issuer was configured wrongly.

    Raised at construction, never at the first request.
    """


class InvalidUserIdError(RolloutError, ValueError):
    """A user id cannot become a token's ``sub`` claim."""


class ResolverTimeoutError(RolloutError):
    """The user resolver took longer than ``resolver_timeout``.

    Raised by :func:`rollout_middleware.config.await_within` and answered 503 by both shells; it
    never reaches the server. A ``TimeoutError`` the resolver raises itself is not this: it is the
    resolver's failure, answered 500 with its traceback logged.
    """
