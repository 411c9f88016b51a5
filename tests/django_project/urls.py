from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from rollout_middleware.contrib.django import token_urlpatterns

from . import views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("hello/", views.hello, name="hello"),
    path("echo/", views.echo, name="echo"),
    # The view, under a prefix so that the ASGI/WSGI wrappers (at /rollout-token) never see it.
    path("view/", include(token_urlpatterns())),
]
