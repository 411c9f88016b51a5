"""The Django app of this package: ``"rollout_middleware.contrib.django"`` in ``INSTALLED_APPS``.

It has no models, URLs or templates. Installing it registers the system checks of
:mod:`.checks`, so ``manage.py check`` (and ``runserver``, ``migrate``, the test runner) reports a
wrong ``ROLLOUT_*`` setting before the server answers a request.
"""

from __future__ import annotations

from django.apps import AppConfig

__all__ = ["RolloutConfig"]


class RolloutConfig(AppConfig):
    name = "rollout_middleware.contrib.django"
    label = "rollout_middleware"
    verbose_name = "Rollout tokens"

    def ready(self) -> None:
        from . import checks

        checks.register_checks()
