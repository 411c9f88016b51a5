"""Shared by the framework integrations: checks that a callable the app hands us takes what we
pass, and what the Flask and Quart extensions do alike."""

from __future__ import annotations

import inspect
import os
import types
import typing
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .. import _config
from ..errors import ConfigurationError

if TYPE_CHECKING:
    from werkzeug.sansio.request import Request

    from ..decision import TokenDecision, TokenRequest

#: The key of an extension in ``app.extensions``, and its default endpoint.
EXTENSION_KEY = "rollout_token"
#: The options the Flask and Quart extensions (and aiohttp's ``setup``) take.
EXTENSION_TAKES = _config.ANSWER_OPTIONS | {"path", "resolver_timeout"}


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


def callable_name(call: object) -> str:
    """A callable's name for a message: never its ``repr`` (a ``partial`` shows its arguments)."""
    call = getattr(call, "func", call)  # functools.partial, Litestar's AsyncCallable
    return str(getattr(call, "__qualname__", None) or f"{type(call).__qualname__} object")


def check_user_id_return(call: object) -> None:
    """Refuse a ``user_id`` dependency annotated to return what is not a user id (``-> User``,
    ``-> User | None``): else every token request would be a ``500``. An annotation it cannot
    judge (none, ``Any``, a generic or an abstract class, an unresolved string) passes; so does a
    decorated one (``functools.wraps`` copies the function's annotations, not what it returns)."""
    try:
        returns = inspect.signature(call, eval_str=True).return_annotation  # type: ignore[arg-type]
    except Exception:
        return
    if _not_a_user_id(returns) and not hasattr(call, "__wrapped__"):
        raise ConfigurationError(
            f"user_id {callable_name(call)} is annotated to return "
            f"{inspect.formatannotation(returns)}, which is not a user id: return the user's id "
            "(str, int or UUID), or None for nobody, such as user.id",
            option="user_id",
        )


def _not_a_user_id(annotation: Any) -> bool:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        named = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        return bool(named) and all(_not_a_user_id(arg) for arg in named)
    if typing.get_origin(annotation) is not None or not isinstance(annotation, type):
        return False
    if annotation in (inspect.Signature.empty, object, type(None), Any):
        return False
    if inspect.isabstract(annotation) or getattr(annotation, "_is_protocol", False):
        return False  # AsyncIterator (a generator dependency), a Protocol: not judged
    if hasattr(annotation, "__get_pydantic_core_schema__") and not hasattr(
        annotation, "model_fields"
    ):
        return False  # a marker only pydantic reads (EmailStr): its values are str
    return issubclass(annotation, bool) or not issubclass(annotation, (str, int, uuid.UUID))


def check_extension(
    owner: str,
    resolve_user: object,
    endpoint: object,
    options: Mapping[str, Any],
    *,
    proxy: str,
    reads: str,
) -> dict[str, Any]:
    """The Flask or Quart extension's arguments checked; returns its keyword options.

    ``resolve_user`` must be callable with no argument, in the request context: not a context
    proxy (``current_user``; ``proxy`` is the fix) nor a callable that takes arguments (``reads``
    says what to read instead)."""
    from werkzeug.local import LocalProxy

    if isinstance(resolve_user, LocalProxy) or not callable(resolve_user):
        raise ConfigurationError(
            "resolve_user must be a function that returns the user id, got "
            f"{type(resolve_user).__name__}; {proxy}",
            option="resolve_user",
        )
    try:
        inspect.signature(resolve_user).bind()
    except ValueError:  # no signature to read (some builtins): trust it
        pass
    except TypeError:
        raise ConfigurationError(
            f"resolve_user must take no arguments: it runs in the request context, so read {reads} "
            "there (the middleware's resolve_user takes the scope or environ)",
            option="resolve_user",
        ) from None
    if not isinstance(endpoint, str) or not endpoint:
        raise ConfigurationError(f"endpoint must be a non-empty str, got {endpoint!r}")
    return _config.check_keywords(owner, options, EXTENSION_TAKES)


def extension_settings(
    owner: str, options: Mapping[str, Any], config: Mapping[str, Any]
) -> _config.Settings:
    """An extension's settings: its keyword ``options``, then ``app.config``, then the
    environment."""
    sources = (("app.config", config.get), (_config.ENVIRONMENT, os.environ.get))
    return _config.read(owner, options, sources, EXTENSION_TAKES)


def werkzeug_token_request(decision: TokenDecision, request: Request) -> TokenRequest:
    """The core's view of a Flask or Quart request."""
    return decision.request(
        request.method,
        request.headers.items(),
        path=request.path,
        client=request.remote_addr,
        content_length=request.content_length,
    )
