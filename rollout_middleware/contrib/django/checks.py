"""System checks of the ``ROLLOUT_*`` settings (ids in the Django docs page)."""

from __future__ import annotations

import difflib
from typing import Any

from django.conf import settings
from django.core import checks
from django.urls import resolve

from ... import _config
from ...errors import ConfigurationError
from ...tokens import credentials
from .conf import SETTINGS, default_decision, get, setting_errors

__all__ = ["TAG", "register_checks"]

TAG = "rollout_middleware"

_OURS = (
    "rollout_middleware.contrib.django.RolloutTokenMiddleware",
    "rollout_middleware.contrib.django.middleware.RolloutTokenMiddleware",
)
_AUTH = "django.contrib.auth.middleware.AuthenticationMiddleware"
_KNOWN = "Known: " + ", ".join(sorted(SETTINGS)) + "."


def check_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """An error per wrong ``ROLLOUT_*`` setting, a warning per unknown one."""
    messages: list[checks.CheckMessage] = []
    for error in setting_errors():
        setting = _config.SETTING_NAMES[error.option or "issuer"]
        check_id, accepts = SETTINGS[setting]
        messages.append(
            checks.Error(
                f"{setting}: {error}",
                hint=f"{setting} accepts {accepts}.",
                id=f"rollout_middleware.{check_id}",
            )
        )
    for name in sorted(dir(settings)):
        if name.startswith("ROLLOUT_") and name not in SETTINGS:
            close = difflib.get_close_matches(name, SETTINGS, n=1)
            messages.append(
                checks.Warning(
                    f"{name} is not a setting of rollout_middleware; it is ignored.",
                    hint=f"Did you mean {close[0]}?" if close else _KNOWN,
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


def check_shadowed_view(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """A warning when the URLconf routes the token path to a view that ``RolloutTokenMiddleware``
    (in ``MIDDLEWARE``) answers first, so that the view is never reached."""
    if not any(name in _OURS for name in getattr(settings, "MIDDLEWARE", None) or ()):
        return []
    try:
        path = default_decision().settings.path or _config.DEFAULT_PATH
        match = resolve(path)
    except Exception:  # no view there; a wrong setting or URLconf, which other checks report
        return []
    view = getattr(match.func, "view_class", match.func)  # a class-based view's class
    name = f"{view.__module__}.{getattr(view, '__qualname__', type(view).__qualname__)}"
    return [
        checks.Warning(
            f"The URLconf routes ROLLOUT_TOKEN_PATH {path!r} to {name}, but "
            "RolloutTokenMiddleware answers that path first: the view is never reached.",
            hint="Give the view another path, such as 'api/rollout-token' for DRF's view.",
            id="rollout_middleware.W002",
        )
    ]


def check_credentials(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Under ``check --deploy``: the credentials that serving tokens needs (or ``ROLLOUT_ISSUER``)."""
    try:
        if get("ROLLOUT_ISSUER") is None:
            credentials(get("ROLLOUT_CLIENT_ID"), get("ROLLOUT_CLIENT_SECRET"))
    except ConfigurationError as exc:
        return [
            checks.Error(
                f"Rollout tokens cannot be served: {exc}, in the settings or the environment.",
                hint="Set ROLLOUT_CLIENT_ID and ROLLOUT_CLIENT_SECRET where the server runs.",
                id="rollout_middleware.E009",
            )
        ]
    return []


def register_checks() -> None:
    """Register the checks (idempotent: Django's registry keeps a set)."""
    checks.register(check_settings, TAG)
    checks.register(check_middleware_order, TAG)
    checks.register(check_shadowed_view, TAG, checks.Tags.urls)
    checks.register(check_credentials, TAG, deploy=True)
