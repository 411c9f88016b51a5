"""The exceptions this package raises. No message ever holds the client secret."""

from __future__ import annotations

__all__ = ["ConfigurationError", "InvalidUserIdError", "RolloutError"]


class RolloutError(Exception):
    """Base class of every error raised by ``rollout_middleware``."""


class ConfigurationError(RolloutError, ValueError):
    """An option has a wrong value; raised where the app is built.

    ``option`` names the keyword option it is about (``"ttl"``), or is ``None``; framework wiring
    uses it to name its own setting (``ROLLOUT_TOKEN_TTL``) instead.
    """

    def __init__(self, message: str, *, option: str | None = None) -> None:
        super().__init__(message)
        self.option = option


class InvalidUserIdError(RolloutError, ValueError):
    """A user id cannot become a token's ``sub`` claim."""


class ResolverTimeoutError(RolloutError):
    """The user resolver took longer than ``resolver_timeout`` (answered 503, never raised out)."""
