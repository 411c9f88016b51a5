"""Ready-made user resolvers: Starlette's session and user, Litestar's user, a proxy's header."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from starlette.authentication import SimpleUser
from starlette.types import Scope

from ._config import TOKEN
from .errors import ConfigurationError

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

__all__ = ["authenticated_user", "session_user", "trusted_environ_header", "trusted_header"]

AsyncResolver = Callable[[Scope], Awaitable[Any]]

#: How to get the order right, in both of Starlette's ways to add middleware.
_ORDER = (
    ". In Starlette(middleware=[...]) list it before RolloutTokenMiddleware; with "
    "app.add_middleware (FastAPI), the middleware added last runs first, so call "
    "app.add_middleware for it after the one for RolloutTokenMiddleware"
)


def session_user(key: str = "user_id") -> AsyncResolver:
    """Resolve the user id stored under ``key`` in Starlette's session (``scope["session"]``)."""

    async def resolve(scope: Scope) -> Any:
        if "session" not in scope:
            raise ConfigurationError(
                "session_user found no session: Starlette's SessionMiddleware must run before "
                f"the token middleware{_ORDER}"
            )
        return scope["session"].get(key)

    return resolve


def authenticated_user(attribute: str = "identity") -> AsyncResolver:
    """Resolve ``scope["user"].<attribute>`` if the user is authenticated, else ``None``: the user
    of Starlette's ``AuthenticationMiddleware``, or of Litestar's (``authenticated_user("id")``).
    A missing user or attribute is a ``ConfigurationError`` at the request, saying why."""

    async def resolve(scope: Scope) -> Any:
        if "user" not in scope:
            raise ConfigurationError(
                "authenticated_user found no user: Litestar's authentication middleware did not "
                "run for this request (it skips its exclude_http_methods, OPTIONS and HEAD by "
                "default, its exclude paths, and routes with the exclude_from_auth opt)"
                if _in_litestar(scope)
                else "authenticated_user found no user: Starlette's AuthenticationMiddleware must "
                f"run before the token middleware{_ORDER}"
            )
        user = scope["user"]
        if user is None:
            return None
        authenticated = getattr(user, "is_authenticated", None)
        if authenticated is None and not _in_litestar(scope):
            raise ConfigurationError(
                f"authenticated_user: scope['user'] is a {type(user).__name__} with no "
                "is_authenticated: it reads the users of Starlette's AuthenticationMiddleware "
                "(starlette.authentication.BaseUser) and of Litestar's authentication middleware"
            )
        if authenticated is not None and not authenticated:  # Litestar's: always authenticated
            return None
        if attribute == "identity" and type(user) is SimpleUser:
            return user.username  # what SimpleUser.identity is, where Starlette implements it
        try:
            return getattr(user, attribute)
        except AttributeError:
            raise ConfigurationError(
                f"authenticated_user: the user, a {type(user).__name__}, has no attribute "
                f"{attribute!r}; give the name of its id: authenticated_user('id')"
            ) from None

    return resolve


def _in_litestar(scope: Scope) -> bool:
    """Whether a Litestar app serves ``scope``: ``"litestar_app"``, or (2.13) ``scope["app"]``."""
    return "litestar_app" in scope or any(
        cls.__module__.partition(".")[0] == "litestar" for cls in type(scope.get("app")).__mro__
    )


def _check_header_name(name: str) -> str:
    if not isinstance(name, str) or not TOKEN.fullmatch(name):
        raise ConfigurationError(
            f"a header name must be an RFC 9110 token (ASCII letters, digits, '-', ...), got {name!r}",
            option="name",
        )
    return name


def trusted_header(name: str) -> AsyncResolver:
    """Resolve the user id from request header ``name``, set by an upstream proxy (ASGI)."""
    wanted = _check_header_name(name).lower().encode("latin-1")

    async def resolve(scope: Scope) -> Any:
        return next((v.decode("latin-1") for k, v in scope["headers"] if k == wanted), "") or None

    return resolve


def trusted_environ_header(name: str) -> Callable[[WSGIEnvironment], Any]:
    """:func:`trusted_header` for WSGI: the same header, read from the environ."""
    key = "HTTP_" + _check_header_name(name).upper().replace("-", "_")

    def resolve(environ: WSGIEnvironment) -> Any:
        return environ.get(key) or None

    return resolve
