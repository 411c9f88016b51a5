from __future__ import annotations

from django.apps import AppConfig


class EmailUsersConfig(AppConfig):
    name = "tests.django_project.emailusers"
    label = "emailusers"
    default_auto_field = "django.db.models.AutoField"
