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
    # Served by rollout_asgi / rollout_wsgi in asgi.py / wsgi.py. Under `manage.py runserver`
    # (which does not load asgi.py/wsgi.py's wrapper), use the view instead:
    #   from rollout_middleware.contrib.django import token_urlpatterns
    #   path("", include(token_urlpatterns())),
]
