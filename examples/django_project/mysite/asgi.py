"""ASGI entry point: ``uvicorn mysite.asgi:application``.

Django's own application: RolloutTokenMiddleware (settings.MIDDLEWARE) answers the token path,
under this server and under ``manage.py runserver`` alike.
"""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")

application = get_asgi_application()
