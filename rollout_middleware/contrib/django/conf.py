"""The ``ROLLOUT_*`` Django settings: read, checked one by one, turned into the core's options.

:func:`read_settings` is the one place that reads them. It never raises: it returns the options it
could build and a :class:`Problem` per wrong setting, which the system checks
(:mod:`.checks`) report as ``rollout_middleware.E0xx`` errors and the wiring
(:func:`rollout_options`, the middleware, the views) raises as
:class:`~django.core.exceptions.ImproperlyConfigured`. So a setting means the same thing, and is
refused with the same words, everywhere.

No setting is read at import time: only when a function here is called, after ``django.setup()``.
Values are typed as Python values: ``ROLLOUT_TOKEN_TTL = "900"`` is refused (write ``900``).
"""

from __future__ import annotations

import difflib
import functools
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.utils.module_loading import import_string

from ...config import DEFAULT_MAX_BODY_SIZE, DEFAULT_METHODS, DEFAULT_PATH, Settings, check_path
from ...decision import TokenDecision
from ...errors import ConfigurationError
from ...tokens import CLIENT_ID_ENV, CLIENT_SECRET_ENV, DEFAULT_TTL, TokenIssuer

__all__ = [
    "APP",
    "SETTINGS",
    "Problem",
    "ReadSettings",
    "check_at_url_load",
    "checks_installed",
    "default_decision",
    "raise_first",
    "read_settings",
    "unknown_settings",
]

#: Every ``ROLLOUT_*`` setting: its check id and what it accepts (the hint of a check message).
SETTINGS: dict[str, tuple[str, str]] = {
    "ROLLOUT_CLIENT_ID": (
        "E001",
        f"a non-empty str; unset or None reads the {CLIENT_ID_ENV} environment variable",
    ),
    "ROLLOUT_CLIENT_SECRET": (
        "E001",
        f"a non-empty str or bytes; unset or None reads the {CLIENT_SECRET_ENV} environment variable",
    ),
    "ROLLOUT_TOKEN_TTL": ("E002", "an int: the token lifetime in seconds, from 1 to 3600 (900)"),
    "ROLLOUT_TOKEN_PATH": (
        "E003",
        f"a str that starts with '/' and holds no whitespace, '?' or '#' ({DEFAULT_PATH!r})",
    ),
    "ROLLOUT_TOKEN_METHODS": (
        "E004",
        "a list or tuple of upper-case HTTP method names, such as ('GET',) or ('POST',)",
    ),
    "ROLLOUT_ALLOWED_ORIGINS": (
        "E005",
        "a list or tuple of origins 'scheme://host[:port]', such as ('https://app.example.com',)",
    ),
    "ROLLOUT_MAX_BODY_SIZE": ("E006", f"an int of bytes, 0 or more ({DEFAULT_MAX_BODY_SIZE})"),
    "ROLLOUT_ON_ISSUE": (
        "E007",
        "a callable (user_id, expires_at, request_info), or the dotted path of one, or None",
    ),
    "ROLLOUT_ISSUER": (
        "E008",
        "a rollout_middleware.TokenIssuer, or the dotted path of one, or None; it replaces "
        "ROLLOUT_CLIENT_ID, ROLLOUT_CLIENT_SECRET and ROLLOUT_TOKEN_TTL",
    ),
}

#: An issuer for checking the options that do not depend on the credentials.
_CHECK_ISSUER: TokenIssuer | None = None


def _check_issuer() -> TokenIssuer:
    global _CHECK_ISSUER
    if _CHECK_ISSUER is None:
        _CHECK_ISSUER = TokenIssuer("settings-check", b"x" * 64)
    return _CHECK_ISSUER


@dataclass(frozen=True)
class Problem:
    """One wrong setting: its name, its check id, what is wrong, and what it accepts."""

    setting: str
    id: str
    message: str

    @property
    def hint(self) -> str:
        return f"{self.setting} accepts {SETTINGS[self.setting][1]}."


@dataclass(frozen=True)
class ReadSettings:
    """What :func:`read_settings` found: the core's options (``path`` and the answer options), and
    the problems. The options are complete only when there is no problem."""

    path: str
    options: dict[str, Any]
    problems: tuple[Problem, ...]


def _materialise(value: Any) -> Any:
    """A one-shot iterable read once, as a tuple (a str stays a str, to be refused)."""
    if isinstance(value, Iterable) and not isinstance(value, (str, bytes)):
        return tuple(value)
    return value


def _importable(setting: str, value: object, problems: list[Problem]) -> Any:
    if isinstance(value, str):
        try:
            return import_string(value)
        except ImportError as exc:
            problems.append(
                Problem(setting, SETTINGS[setting][0], f"cannot import {value!r}: {exc}")
            )
            return None
    return value


def read_settings() -> ReadSettings:
    """Read and check every ``ROLLOUT_*`` setting now; never raises for a wrong value."""
    problems: list[Problem] = []

    def problem(setting: str, message: str) -> None:
        problems.append(Problem(setting, SETTINGS[setting][0], message))

    def get(name: str, default: Any = None) -> Any:
        return getattr(settings, name, default)

    options: dict[str, Any] = {}
    issuer = _importable("ROLLOUT_ISSUER", get("ROLLOUT_ISSUER"), problems)
    client_id, client_secret = get("ROLLOUT_CLIENT_ID"), get("ROLLOUT_CLIENT_SECRET")
    ttl = get("ROLLOUT_TOKEN_TTL", DEFAULT_TTL)
    try:
        TokenIssuer("settings-check", b"x" * 64, ttl=ttl)
    except ConfigurationError as exc:
        problem("ROLLOUT_TOKEN_TTL", str(exc))
    if issuer is not None:
        if not isinstance(issuer, TokenIssuer):
            problem("ROLLOUT_ISSUER", f"must be a TokenIssuer, got {type(issuer).__name__}")
        given = [
            name
            for name in ("ROLLOUT_CLIENT_ID", "ROLLOUT_CLIENT_SECRET", "ROLLOUT_TOKEN_TTL")
            if get(name) is not None
        ]
        if given:
            problem(
                "ROLLOUT_ISSUER", f"give either ROLLOUT_ISSUER or {' / '.join(given)}, not both"
            )
        options["issuer"] = issuer
    else:
        if client_id is None:
            client_id = os.environ.get(CLIENT_ID_ENV, "")
        if client_secret is None:
            client_secret = os.environ.get(CLIENT_SECRET_ENV, "")
        if not isinstance(client_id, str):
            problem(
                "ROLLOUT_CLIENT_ID",
                f"the Rollout client id must be a str, got {type(client_id).__name__}",
            )
        elif not client_id.strip():
            problem(
                "ROLLOUT_CLIENT_ID",
                f"the Rollout client id is missing or empty: set ROLLOUT_CLIENT_ID, or the "
                f"{CLIENT_ID_ENV} environment variable",
            )
        elif not isinstance(client_secret, (str, bytes)):
            problem(  # the type only: a wrongly typed secret may still be the secret
                "ROLLOUT_CLIENT_SECRET",
                "the Rollout client secret must be a str or bytes, got "
                f"{type(client_secret).__name__}",
            )
        elif not client_secret:
            problem(
                "ROLLOUT_CLIENT_SECRET",
                "the Rollout client secret is missing or empty: set ROLLOUT_CLIENT_SECRET, or the "
                f"{CLIENT_SECRET_ENV} environment variable",
            )
        else:
            try:
                TokenIssuer(client_id, client_secret)
            except ConfigurationError as exc:  # its message never holds the secret
                problem("ROLLOUT_CLIENT_SECRET", str(exc))
            else:
                options.update(client_id=client_id, client_secret=client_secret, ttl=ttl)

    path = get("ROLLOUT_TOKEN_PATH", DEFAULT_PATH)
    try:
        check_path(path)
    except ConfigurationError as exc:
        problem("ROLLOUT_TOKEN_PATH", str(exc))

    on_issue = _importable("ROLLOUT_ON_ISSUE", get("ROLLOUT_ON_ISSUE"), problems)
    checked: list[tuple[str, str, Any]] = [
        (
            "ROLLOUT_TOKEN_METHODS",
            "methods",
            _materialise(get("ROLLOUT_TOKEN_METHODS", DEFAULT_METHODS)),
        ),
        (
            "ROLLOUT_ALLOWED_ORIGINS",
            "allowed_origins",
            _materialise(get("ROLLOUT_ALLOWED_ORIGINS", ())),
        ),
        (
            "ROLLOUT_MAX_BODY_SIZE",
            "max_body_size",
            get("ROLLOUT_MAX_BODY_SIZE", DEFAULT_MAX_BODY_SIZE),
        ),
        ("ROLLOUT_ON_ISSUE", "on_issue", on_issue),
    ]
    for setting, option, value in checked:
        try:
            Settings.build(issuer=_check_issuer(), **{option: value})
        except ConfigurationError as exc:
            if not any(p.setting == setting for p in problems):
                problem(setting, str(exc))
        else:
            options[option] = value
    return ReadSettings(path if isinstance(path, str) else DEFAULT_PATH, options, tuple(problems))


#: This package's Django app, whose system checks report every wrong setting.
APP = "rollout_middleware.contrib.django"


def checks_installed() -> bool:
    """Whether the app is in ``INSTALLED_APPS``, so ``manage.py check`` reports wrong settings."""
    from django.apps import apps

    return apps.is_installed(APP)


def check_at_url_load() -> None:
    """Raise for a wrong setting now, as the URLconf loads, unless the app's system checks will
    report it: ``manage.py check`` loads the URLconf, and an exception there would hide every
    check message but one."""
    if not checks_installed():
        default_decision()


def unknown_settings() -> list[tuple[str, str | None]]:
    """Each ``ROLLOUT_*`` setting this package does not know, with the nearest known name."""
    return [
        (name, next(iter(difflib.get_close_matches(name, SETTINGS, n=1)), None))
        for name in sorted(dir(settings))
        if name.startswith("ROLLOUT_") and name not in SETTINGS
    ]


def raise_first(found: ReadSettings) -> None:
    """Raise :class:`~django.core.exceptions.ImproperlyConfigured` for the first problem, if any."""
    if found.problems:
        first = found.problems[0]
        raise ImproperlyConfigured(f"{first.setting}: {first.message}. {first.hint}")


@functools.cache
def default_decision() -> TokenDecision:
    """The :class:`~rollout_middleware.decision.TokenDecision` of the current settings, built once
    (again after ``override_settings`` changes a ``ROLLOUT_*`` setting). Raises
    :class:`~django.core.exceptions.ImproperlyConfigured` for a wrong setting."""
    found = read_settings()
    raise_first(found)
    return TokenDecision.build(**found.options)


def _settings_changed(*, setting: str, **kwargs: Any) -> None:
    if setting.startswith("ROLLOUT_"):
        default_decision.cache_clear()


setting_changed.connect(_settings_changed, dispatch_uid="rollout_middleware.contrib.django.conf")
