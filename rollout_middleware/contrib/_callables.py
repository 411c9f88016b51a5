"""Checks shared by the framework integrations: a callable the app hands us takes what we pass."""

from __future__ import annotations

import inspect

from ..errors import ConfigurationError

__all__ = ["check_one_argument", "check_request_context_resolver"]


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


def check_request_context_resolver(
    resolve_user: object, *, proxy_type: type, proxy: str, reads: str
) -> None:
    """Refuse a ``resolve_user`` the Flask or Quart extension cannot call with no argument, in
    the request context: a context proxy (``current_user``) rather than a function, or a callable
    that takes arguments. ``proxy_type`` is Werkzeug's ``LocalProxy``, ``proxy`` the fix for the
    first, ``reads`` what to read instead."""
    if isinstance(resolve_user, proxy_type) or not callable(resolve_user):
        raise ConfigurationError(
            "resolve_user must be a function that returns the user id, got "
            f"{type(resolve_user).__name__}; {proxy}",
            option="resolve_user",
        )
    try:
        inspect.signature(resolve_user).bind()
    except ValueError:  # no signature to read (some builtins): trust it
        return
    except TypeError:
        raise ConfigurationError(
            f"resolve_user must take no arguments: it runs in the request context, so read {reads} "
            "there (the middleware's resolve_user takes the scope or environ)",
            option="resolve_user",
        ) from None
