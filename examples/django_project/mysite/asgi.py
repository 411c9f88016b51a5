"""ASGI entry point: ``uvicorn mysite.asgi:application``."""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

from rollout_middleware.contrib.django import rollout_asgi

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")

application = rollout_asgi(get_asgi_application())
