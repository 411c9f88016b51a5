"""WSGI entry point: ``gunicorn mysite.wsgi``.

Django's own application: RolloutTokenMiddleware (settings.MIDDLEWARE) answers the token path,
under this server and under ``manage.py runserver`` alike.
"""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")

application = get_wsgi_application()
