"""System checks of the ``ROLLOUT_*`` settings, registered by the app config (:mod:`.apps`).

===========================  ================================================================
id                           what
===========================  ================================================================
``rollout_middleware.E001``  credentials: ``ROLLOUT_CLIENT_ID`` / ``ROLLOUT_CLIENT_SECRET``
                             missing (in the settings and the environment) or wrong
``rollout_middleware.E002``  ``ROLLOUT_TOKEN_TTL``
``rollout_middleware.E003``  ``ROLLOUT_TOKEN_PATH``
``rollout_middleware.E004``  ``ROLLOUT_TOKEN_METHODS``
``rollout_middleware.E005``  ``ROLLOUT_ALLOWED_ORIGINS``
``rollout_middleware.E006``  ``ROLLOUT_MAX_BODY_SIZE``
``rollout_middleware.E007``  ``ROLLOUT_ON_ISSUE``
``rollout_middleware.E008``  ``ROLLOUT_ISSUER`` (or given together with the credentials)
``rollout_middleware.E010``  ``RolloutTokenMiddleware`` comes before ``AuthenticationMiddleware``
``rollout_middleware.W001``  an unknown ``ROLLOUT_*`` setting (a misspelling?)
===========================  ================================================================

Each error's hint names the setting and what it accepts; none holds the client secret.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks

from .conf import SETTINGS, read_settings, unknown_settings

__all__ = ["TAG", "check_middleware_order", "check_settings", "register_checks"]

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
        for problem in read_settings().problems
    ]
    for name, close in unknown_settings():
        hint = (
            f"Did you mean {close}?"
            if close
            else "Known settings: " + ", ".join(sorted(SETTINGS)) + "."
        )
        messages.append(
            checks.Warning(
                f"{name} is not a setting of rollout_middleware; it is ignored.",
                hint=hint,
                id="rollout_middleware.W001",
            )
        )
    return messages


def check_middleware_order(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """``RolloutTokenMiddleware`` needs ``request.user``: it must come after
    ``AuthenticationMiddleware`` when both are listed."""
    middleware = list(getattr(settings, "MIDDLEWARE", None) or ())
    ours = [i for i, name in enumerate(middleware) if name in _OURS]
    if ours and _AUTH in middleware and ours[0] < middleware.index(_AUTH):
        return [
            checks.Error(
                "RolloutTokenMiddleware comes before AuthenticationMiddleware in MIDDLEWARE, so "
                "request.user is not set when it answers.",
                hint=f"Move {middleware[ours[0]]!r} after {_AUTH!r}.",
                id="rollout_middleware.E010",
            )
        ]
    return []


def register_checks() -> None:
    """Register the checks (idempotent: Django's registry keeps a set)."""
    checks.register(check_settings, TAG)
    checks.register(check_middleware_order, TAG)
