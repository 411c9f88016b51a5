"""The Django app of this package: ``"rollout_middleware.contrib.django"`` in ``INSTALLED_APPS``.

It has no models, URLs or templates. Installing it does two things:

- it registers the system checks of :mod:`.checks`, so ``manage.py check`` (and ``runserver``,
  ``migrate``, the test runner) reports every wrong ``ROLLOUT_*`` setting, each with its id and hint;
- outside management commands (under gunicorn, uvicorn, Daphne, any server that calls
  ``get_wsgi_application()`` or ``get_asgi_application()``, and under pytest), a wrong setting
  raises :class:`~django.core.exceptions.ImproperlyConfigured` when Django sets up, listing every
  problem: the process refuses to start, whichever wiring serves the token (``token_view``,
  ``token_urlpatterns()``, the DRF view, which Django would otherwise only build at their first
  request). Management commands leave them to the checks, which report them all, formatted.
"""

from __future__ import annotations

import sys
from pathlib import Path

from django.apps import AppConfig
from django.core.exceptions import ImproperlyConfigured

__all__ = ["RolloutConfig"]

#: Django's management entry point: ``ManagementUtility.execute`` and ``call_command`` live here.
_MANAGEMENT = str(Path("django", "core", "management", "__init__.py"))


def _in_management_command() -> bool:
    """Whether ``django.setup()`` was called by a management command (``manage.py ...``)."""
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_filename.endswith(_MANAGEMENT):
            return True
        frame = frame.f_back  # type: ignore[assignment]
    return False


class RolloutConfig(AppConfig):
    name = "rollout_middleware.contrib.django"
    label = "rollout_middleware"
    verbose_name = "Rollout tokens"

    def ready(self) -> None:
        from . import checks
        from .conf import read_settings

        checks.register_checks()
        if _in_management_command():
            return
        problems = read_settings().problems
        if problems:
            raise ImproperlyConfigured(
                "Wrong Rollout settings (manage.py check lists them too):\n"
                + "\n".join(
                    f"- {p.setting}: {p.message}. {p.hint} (rollout_middleware.{p.id})"
                    for p in problems
                )
            )
