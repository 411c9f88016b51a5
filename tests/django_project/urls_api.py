"""docs/drf.md's wiring beside the middleware (settings_middleware): the test project's routes and
DRF's view at ``api/rollout-token``, a path of its own."""

from __future__ import annotations

from django.urls import path

from rollout_middleware.contrib.drf import RolloutTokenAPIView

from .urls import urlpatterns as _project

urlpatterns = [*_project, path("api/rollout-token", RolloutTokenAPIView.as_view())]
