"""The mistake of issue 22 (item 10): DRF's view at the middleware's own path, ``rollout-token``,
where ``RolloutTokenMiddleware`` answers first."""

from __future__ import annotations

from django.urls import path

from rollout_middleware.contrib.drf import RolloutTokenAPIView

from .urls import urlpatterns as _project

urlpatterns = [*_project, path("rollout-token", RolloutTokenAPIView.as_view())]
