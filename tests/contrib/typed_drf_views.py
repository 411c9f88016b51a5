"""A project's typed views over ``RolloutTokenAPIView``, checked by mypy with django-stubs and
djangorestframework-stubs (tests/contrib/test_drf_typing.py). The mixin is HackSoftware's
Django-Styleguide-Example's ``ApiAuthMixin``, annotated as the stubs annotate ``APIView``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from rest_framework.authentication import BaseAuthentication, SessionAuthentication
from rest_framework.permissions import BasePermission, IsAdminUser, IsAuthenticated

from rollout_middleware.contrib.drf import RolloutTokenAPIView

if TYPE_CHECKING:
    from rest_framework.permissions import _PermissionClass

    PermissionClassesType = Sequence[_PermissionClass]
else:
    PermissionClassesType = Sequence[type[BasePermission]]


class ApiAuthMixin:
    authentication_classes: Sequence[type[BaseAuthentication]] = [SessionAuthentication]
    permission_classes: PermissionClassesType = (IsAuthenticated,)


class RolloutTokenApi(ApiAuthMixin, RolloutTokenAPIView):
    pass


class StaffRolloutTokenApi(RolloutTokenAPIView):
    permission_classes = (IsAuthenticated & IsAdminUser,)  # an OperandHolder, as DRF composes
