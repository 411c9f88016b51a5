"""A URLconf with several routes to the DRF token view, for the schema generators
(tests/contrib/test_drf_schema.py): the class twice, and subclasses, one of them annotated with
drf-spectacular's ``@extend_schema`` as a project would."""

from __future__ import annotations

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework.authentication import SessionAuthentication

from rollout_middleware.contrib.drf import RolloutTokenAPIView


class SessionTokenView(RolloutTokenAPIView):
    authentication_classes = (SessionAuthentication,)


@extend_schema(tags=["auth"])
class TaggedTokenView(RolloutTokenAPIView):
    pass


urlpatterns = [
    path("api/rollout-token", RolloutTokenAPIView.as_view()),
    path("api/v2/rollout-token", RolloutTokenAPIView.as_view()),
    path("api/session/rollout-token", SessionTokenView.as_view()),
    path("api/tagged/rollout-token", TaggedTokenView.as_view()),
]
