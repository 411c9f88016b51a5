"""The ``ROLLOUT_*`` Django settings, read through the core's one configuration path."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed

from ... import _config
from ...decision import TokenDecision
from ...errors import ConfigurationError

#: Every setting, with its check id and what it accepts (the hint of a check message).
SETTINGS: dict[str, tuple[str, str]] = {
    "ROLLOUT_CLIENT_ID": ("E001", "a str; unset or None reads the environment variable"),
    "ROLLOUT_CLIENT_SECRET": (
        "E001",
        "a str, bytes or SecretStr; unset or None reads the environment variable",
    ),
    "ROLLOUT_TOKEN_TTL": ("E002", "an int: the token lifetime in seconds, from 1 to 3600 (900)"),
    "ROLLOUT_TOKEN_PATH": ("E003", "a str that starts with '/' ('/rollout-token')"),
    "ROLLOUT_TOKEN_METHODS": ("E004", "a list of upper-case HTTP methods, such as ('GET',)"),
    "ROLLOUT_ALLOWED_ORIGINS": ("E005", "a list of origins such as ('https://app.example.com',)"),
    "ROLLOUT_MAX_BODY_SIZE": ("E006", "an int of bytes, 0 or more (65536)"),
    "ROLLOUT_ON_ISSUE": ("E007", "a callable (user_id, expires_at, request_info) or its path"),
    "ROLLOUT_ISSUER": ("E008", "a TokenIssuer or its dotted path; it replaces the credentials"),
}
#: What a Django entry point takes: the answer options and the token path.
TAKES = _config.ANSWER_OPTIONS | {"path"}


def get(name: str) -> Any:
    """The Django setting ``name``, ``None`` if unset."""
    return getattr(settings, name, None)


#: Where the options come from, for the core's ``gather``: the Django settings.
SOURCES = (("settings", get),)


def setting_errors() -> list[ConfigurationError]:
    """An error per wrong ``ROLLOUT_*`` setting, each checked by its option's rule."""
    options, _, errors = _config.gather({}, SOURCES, TAKES)
    for option, value in options.items():
        try:
            _config.RULES[option](value)
        except ConfigurationError as exc:
            errors.append(exc)
    if not errors:
        try:
            _config.build("settings", options, TAKES)
        except ConfigurationError as exc:
            errors.append(exc)
    return errors


def settings_for(owner: str, given: Mapping[str, Any]) -> _config.Settings:
    """The settings of an entry point: ``given`` keywords, then the ``ROLLOUT_*`` settings.
    Raises :class:`~django.core.exceptions.ImproperlyConfigured` naming the setting."""
    try:
        return _config.read(owner, given, SOURCES, TAKES)
    except ConfigurationError as exc:
        raise ImproperlyConfigured(str(exc)) from None


def checked_at_url_load() -> bool:
    """Whether the settings are sound as the URLconf loads: a wrong one raises, unless the app is
    installed, whose system checks report them all (``manage.py check`` loads the URLconf too)."""
    from django.apps import apps

    if apps.is_installed("rollout_middleware.contrib.django"):
        return not setting_errors()
    default_decision()
    return True


@functools.cache
def default_decision() -> TokenDecision:
    """The decision of the current settings, built once (again after ``override_settings``)."""
    return TokenDecision(settings_for("ROLLOUT_* settings", {}))


def _settings_changed(*, setting: str, **kwargs: Any) -> None:
    if setting.startswith("ROLLOUT_"):
        default_decision.cache_clear()


setting_changed.connect(_settings_changed, dispatch_uid="rollout_middleware.contrib.django.conf")
