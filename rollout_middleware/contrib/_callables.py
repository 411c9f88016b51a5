"""Checks shared by the framework integrations: a callable the app hands us takes what we pass."""

from __future__ import annotations

import inspect

from ..errors import ConfigurationError

__all__ = ["check_one_argument"]


def check_one_argument(name: str, func: object, argument: str) -> None:
    """Raise :class:`~rollout_middleware.errors.ConfigurationError` unless ``func`` can be called
    with one positional argument."""
    if not callable(func):
        raise ConfigurationError(
            f"{name} must be a callable that takes {argument}, got {type(func).__name__}"
        )
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError):  # no signature to read: trust it
        return
    try:
        signature.bind(None)
    except TypeError:
        label = getattr(func, "__qualname__", type(func).__name__)
        raise ConfigurationError(
            f"{name} must take exactly one argument, {argument}; {label}{signature} does not"
        ) from None
