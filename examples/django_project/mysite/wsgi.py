"""WSGI entry point: ``gunicorn mysite.wsgi``."""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

from rollout_middleware.contrib.django import rollout_wsgi

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")

application = rollout_wsgi(get_wsgi_application())
