"""The URLconf of the DRF equivalence adapter (tests/equivalence/drf.py): the view at
``/rollout-token``, the user from the ``x-user`` header by a DRF authentication class, and
``AllowAny`` so that an anonymous request gets the package's own 401 (IsAuthenticated would give
DRF's)."""

from __future__ import annotations

from django.urls import path
from rest_framework.permissions import AllowAny

from rollout_middleware.contrib.drf import RolloutTokenAPIView

from .xuser import XUserAuthentication

urlpatterns = [
    path(
        "rollout-token",
        RolloutTokenAPIView.as_view(
            authentication_classes=[XUserAuthentication], permission_classes=[AllowAny]
        ),
    ),
]
