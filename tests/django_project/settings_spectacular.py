"""The test project with drf-spectacular generating the schema (``manage.py spectacular``)."""

from __future__ import annotations

from .settings import *  # noqa: F403
from .settings import INSTALLED_APPS, REST_FRAMEWORK

INSTALLED_APPS = [*INSTALLED_APPS, "drf_spectacular"]
REST_FRAMEWORK = {**REST_FRAMEWORK, "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema"}
