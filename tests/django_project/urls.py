from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from rest_framework.throttling import UserRateThrottle

from rollout_middleware.contrib.django import token_urlpatterns
from rollout_middleware.contrib.drf import RolloutTokenAPIView

from . import views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("hello/", views.hello, name="hello"),
    path("echo/", views.echo, name="echo"),
    # The view, under a prefix so that the ASGI/WSGI wrappers (at /rollout-token) never see it.
    path("view/", include(token_urlpatterns())),
    # Django REST framework: the project's authentication classes; one view throttled.
    path("drf/rollout-token", RolloutTokenAPIView.as_view(), name="drf-rollout-token"),
    path(
        "drf/throttled/rollout-token",
        RolloutTokenAPIView.as_view(throttle_classes=[UserRateThrottle]),
    ),
]
