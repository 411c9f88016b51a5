from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.urls import path
from django.views.generic import TemplateView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", login_required(TemplateView.as_view(template_name="home.html")), name="home"),
    # /rollout-token: answered by RolloutTokenMiddleware (settings.MIDDLEWARE), no route here.
]
