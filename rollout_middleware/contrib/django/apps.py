"""The Django app ``"rollout_middleware.contrib.django"``: it registers the system checks."""

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
