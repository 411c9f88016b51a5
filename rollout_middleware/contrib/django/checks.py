"""System checks of the ``ROLLOUT_*`` settings (ids in the Django docs page)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.urls import Resolver404, resolve

from .conf import SETTINGS, default_decision, missing_credentials, problems, unknown_settings

__all__ = ["TAG", "register_checks"]

TAG = "rollout_middleware"

_OURS = (
    "rollout_middleware.contrib.django.RolloutTokenMiddleware",
    "rollout_middleware.contrib.django.middleware.RolloutTokenMiddleware",
)
_AUTH = "django.contrib.auth.middleware.AuthenticationMiddleware"


def check_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """An error per wrong ``ROLLOUT_*`` setting, a warning per unknown one."""
    messages: list[checks.CheckMessage] = [
        checks.Error(
            f"{problem.setting}: {problem.message}",
            hint=problem.hint,
            id=f"rollout_middleware.{problem.id}",
        )
        for problem in problems()
    ]
    for name, close in unknown_settings():
        hint = f"Did you mean {close}?" if close else "Known: " + ", ".join(sorted(SETTINGS)) + "."
        messages.append(
            checks.Warning(
                f"{name} is not a setting of rollout_middleware; it is ignored.",
                hint=hint,
                id="rollout_middleware.W001",
            )
        )
    return messages


def middleware_order_error() -> str | None:
    """Why ``RolloutTokenMiddleware`` cannot see ``request.user``, or ``None``."""
    middleware = list(getattr(settings, "MIDDLEWARE", None) or ())
    ours = [i for i, name in enumerate(middleware) if name in _OURS]
    if ours and _AUTH in middleware and ours[0] < middleware.index(_AUTH):
        return (
            "RolloutTokenMiddleware comes before AuthenticationMiddleware in MIDDLEWARE, so "
            f"request.user is not set when it answers: move {middleware[ours[0]]!r} after {_AUTH!r}"
        )
    return None


def check_middleware_order(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    error = middleware_order_error()
    return [] if error is None else [checks.Error(error, id="rollout_middleware.E010")]


def shadowed_view() -> tuple[str, str] | None:
    """The token path and the view the URLconf gives it, when ``RolloutTokenMiddleware`` (in
    ``MIDDLEWARE``) answers that path first, so that the view is never reached; else ``None``."""
    if not any(name in _OURS for name in getattr(settings, "MIDDLEWARE", None) or ()):
        return None
    try:
        path = default_decision().settings.path
    except ImproperlyConfigured:
        return None  # a wrong setting: check_settings reports it
    if path is None:
        return None
    try:
        match = resolve(path)
    except Resolver404:
        return None
    except Exception:  # a broken URLconf: Django's own URL checks report it
        return None
    view = getattr(match.func, "view_class", match.func)  # a class-based view's class
    return path, f"{view.__module__}.{getattr(view, '__qualname__', type(view).__qualname__)}"


def check_shadowed_view(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    shadowed = shadowed_view()
    if shadowed is None:
        return []
    path, view = shadowed
    return [
        checks.Warning(
            f"The URLconf routes ROLLOUT_TOKEN_PATH {path!r} to {view}, but "
            "RolloutTokenMiddleware answers that path first: the view is never reached.",
            hint="Give the view another path, such as 'api/rollout-token' for DRF's view.",
            id="rollout_middleware.W002",
        )
    ]


def check_credentials(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Under ``check --deploy``: the credentials that serving tokens needs."""
    missing = missing_credentials()
    if missing is None:
        return []
    return [
        checks.Error(
            f"Rollout tokens cannot be served: {missing}.",
            hint="Set ROLLOUT_CLIENT_ID and ROLLOUT_CLIENT_SECRET where the server runs.",
            id="rollout_middleware.E009",
        )
    ]


def register_checks() -> None:
    """Register the checks (idempotent: Django's registry keeps a set)."""
    checks.register(check_settings, TAG)
    checks.register(check_middleware_order, TAG)
    checks.register(check_shadowed_view, TAG, checks.Tags.urls)
    checks.register(check_credentials, TAG, deploy=True)
