"""Settings of the example: a plain Django project plus the ROLLOUT_* settings.

Run it as described in docs/django.md. The Rollout credentials come from the environment
(ROLLOUT_CLIENT_ID, ROLLOUT_CLIENT_SECRET); never write the secret into settings.py.
"""

from __future__ import annotations

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-only-change-me-" + "e" * 40)
DEBUG = os.environ.get("DJANGO_DEBUG", "1") == "1"
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rollout_middleware.contrib.django",  # system checks of the ROLLOUT_* settings
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "rollout_middleware.contrib.django.RolloutTokenMiddleware",  # GET /rollout-token
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "mysite.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "mysite" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("DJANGO_DB_PATH", str(BASE_DIR / "db.sqlite3")),
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"
STATIC_URL = "/static/"
USE_TZ = True

# --- Rollout ---------------------------------------------------------------------------------
# ROLLOUT_CLIENT_ID and ROLLOUT_CLIENT_SECRET are read from the environment when not set here, at
# the first token request: migrate and createsuperuser run without them.
ROLLOUT_TOKEN_PATH = "/rollout-token"  # the default, as in Rollout's own front-end guide
ROLLOUT_TOKEN_TTL = 900  # the default: 15 minutes

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"rollout_middleware": {"handlers": ["console"], "level": "INFO"}},
}
