"""The one configuration path: each option's rule, written once, and :func:`build`."""

from __future__ import annotations

import difflib
import math
import pkgutil
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypedDict

from ._sync import is_async_callable
from .errors import ConfigurationError
from .tokens import (
    CLIENT_ID_ENV,
    CLIENT_SECRET_ENV,
    DEFAULT_TTL,
    Secret,
    TokenIssuer,
    check_client_id,
    check_ttl,
    credentials,
    secret_value,
)

DEFAULT_PATH = "/rollout-token"
DEFAULT_METHODS: tuple[str, ...] = ("GET",)
DEFAULT_RESOLVER_TIMEOUT = 10.0
DEFAULT_MAX_BODY_SIZE = 64 * 1024

#: RFC 9110 token: a method or a header name.
TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_ORIGIN = re.compile(r"https?://[A-Za-z0-9.\-\[\]:]+")
_BAD_PATH_CHARS = re.compile(r"[\s?#\x00-\x1f\x7f]")


class RequestInfo(TypedDict):
    """What the ``on_issue`` audit hook learns of the request: never a token or a cookie."""

    method: str
    path: str
    client: str | None


class AnswerOptions(TypedDict, total=False):
    """The options that shape the answer, taken by every entry point."""

    issuer: TokenIssuer | None
    client_id: str | None
    client_secret: object
    ttl: int | None
    methods: Iterable[str]
    allowed_origins: Iterable[str]
    on_issue: Callable[[str, int, RequestInfo], Any] | None
    max_body_size: int


class Options(AnswerOptions, total=False):
    """:class:`AnswerOptions`, and those of the shells that call a ``resolve_user``."""

    resolver_timeout: float | None
    thread_sensitive: bool


ANSWER_OPTIONS = frozenset(AnswerOptions.__optional_keys__)
SHELL_OPTIONS = frozenset(Options.__optional_keys__) | {"path", "resolve_user"}

#: Each option's setting in Django's settings, Flask's ``app.config`` and the environment.
SETTING_NAMES = {
    "client_id": CLIENT_ID_ENV,
    "client_secret": CLIENT_SECRET_ENV,
    "issuer": "ROLLOUT_ISSUER",
    "ttl": "ROLLOUT_TOKEN_TTL",
    "path": "ROLLOUT_TOKEN_PATH",
    "methods": "ROLLOUT_TOKEN_METHODS",
    "allowed_origins": "ROLLOUT_ALLOWED_ORIGINS",
    "on_issue": "ROLLOUT_ON_ISSUE",
    "max_body_size": "ROLLOUT_MAX_BODY_SIZE",
    "resolver_timeout": "ROLLOUT_RESOLVER_TIMEOUT",
}


def check_path(path: object) -> str:
    if not isinstance(path, str) or not path.startswith("/") or _BAD_PATH_CHARS.search(path):
        raise ConfigurationError(
            "path must be a str that starts with '/' and holds no whitespace, '?' or '#', "
            f"got {path!r}",
            option="path",
        )
    return path


def _sequence(option: str, value: object, example: str) -> Iterable[object]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise ConfigurationError(
            f"{option} must be a sequence such as {example}, got {value!r}", option=option
        )
    return value


def _methods(methods: object) -> frozenset[str]:
    checked = set()
    for method in _sequence("methods", methods, "('GET',)"):
        if not isinstance(method, str) or not TOKEN.fullmatch(method) or method != method.upper():
            raise ConfigurationError(
                f"each method must be an upper-case HTTP method name, got {method!r}",
                option="methods",
            )
        if method == "OPTIONS":
            raise ConfigurationError(
                "OPTIONS cannot serve tokens: it is the CORS preflight, answered by the middleware "
                "itself when allowed_origins is set",
                option="methods",
            )
        checked.add(method)
    if not checked:
        raise ConfigurationError("methods must name at least one HTTP method", option="methods")
    if "GET" in checked:
        checked.add("HEAD")
    return frozenset(checked)


def _origins(origins: object) -> frozenset[str]:
    checked = set()
    for origin in _sequence("allowed_origins", origins, "('https://app.example.com',)"):
        if not isinstance(origin, str) or not _ORIGIN.fullmatch(origin):
            raise ConfigurationError(
                "each allowed origin must be 'scheme://host[:port]' with no path, no trailing '/' "
                f"and no wildcard, got {origin!r}",
                option="allowed_origins",
            )
        checked.add(origin.lower())
    return frozenset(checked)


def _whole(option: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigurationError(
            f"{option} must be a whole number, 0 or more, got {value!r}", option=option
        )
    return value


def _timeout(timeout: object) -> float | None:
    if timeout is None:
        return None
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, (int, float))
        or not math.isfinite(timeout)
        or timeout <= 0
    ):
        raise ConfigurationError(
            f"resolver_timeout must be a positive number of seconds or None, got {timeout!r}",
            option="resolver_timeout",
        )
    return float(timeout)


def _callable(option: str, value: object, what: str, optional: bool) -> Any:
    if (value is None and optional) or callable(value):
        return value
    raise ConfigurationError(
        f"{option} must be a callable {what}{' or None' if optional else ''}, "
        f"got {type(value).__name__}",
        option=option,
    )


def _issuer(issuer: object) -> TokenIssuer | None:
    if issuer is None or isinstance(issuer, TokenIssuer):
        return issuer
    raise ConfigurationError(
        f"issuer must be a TokenIssuer, got {type(issuer).__name__}", option="issuer"
    )


def _bool(option: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise ConfigurationError(f"{option} must be True or False, got {value!r}", option=option)
    return value


def _optional(rule: Callable[[object], object]) -> Callable[[object], object]:
    return lambda value: None if value is None else rule(value)


#: The rule of each option: the checked value, or a ConfigurationError naming the option.
RULES: dict[str, Callable[[Any], Any]] = {
    "path": check_path,
    "issuer": _issuer,
    "client_id": _optional(lambda v: v if v == "" else check_client_id(v)),
    "client_secret": lambda v: Secret(v) if v is not None and secret_value(v) else None,
    "ttl": _optional(check_ttl),
    "methods": _methods,
    "allowed_origins": _origins,
    "on_issue": lambda v: _callable("on_issue", v, "(user_id, expires_at, request_info)", True),
    "max_body_size": lambda v: _whole("max_body_size", v),
    "resolve_user": lambda v: _callable("resolve_user", v, "that returns a user id", False),
    "resolver_timeout": _timeout,
    "thread_sensitive": lambda v: _bool("thread_sensitive", v),
}
DEFAULTS: dict[str, Any] = {
    "methods": _methods(DEFAULT_METHODS),
    "allowed_origins": frozenset(),
    "max_body_size": DEFAULT_MAX_BODY_SIZE,
    "resolver_timeout": DEFAULT_RESOLVER_TIMEOUT,
    "thread_sensitive": False,
}


def parse_text(option: str, text: str) -> object:
    """An option's value from the text of an environment variable."""
    if option in ("methods", "allowed_origins"):
        return tuple(part.strip() for part in text.split(",") if part.strip())
    if option in ("ttl", "max_body_size"):
        try:
            return int(text.strip())
        except ValueError:
            raise ConfigurationError(
                f"{option} must be a whole number, got {text!r}", option=option
            ) from None
    if option == "resolver_timeout":
        if text.strip().lower() in ("", "none"):
            return None
        try:
            return float(text)
        except ValueError:
            raise ConfigurationError(
                f"resolver_timeout must be a number of seconds or 'none', got {text!r}",
                option=option,
            ) from None
    return text


def check_names(owner: str, given: Iterable[str], known: Collection[str]) -> None:
    """``TypeError`` for a keyword ``owner`` does not take, suggesting the nearest known one."""
    for name in given:
        if name not in known:
            ranked = sorted(known)
            close = difflib.get_close_matches(name, ranked, n=1) or sorted(
                (k for k in ranked if k in name or name in k), key=len, reverse=True
            )  # ttl_seconds, secret: too far apart for difflib, yet plainly ttl, client_secret
            hint = f"; did you mean {close[0]!r}?" if close else f"; it takes {', '.join(ranked)}"
            raise TypeError(f"{owner}() got an unexpected keyword argument {name!r}{hint}")


def check_keywords(
    owner: str, options: Mapping[str, Any], takes: Collection[str]
) -> dict[str, Any]:
    """The keyword options of an extension that reads its settings later (``init_app``), checked
    now by name and by each option's rule (the secret kept only as PyJWT's key)."""
    check_names(owner, options, takes)
    return {name: RULES[name](value) for name, value in options.items()}


#: The name of the process environment as a source of :func:`gather`.
ENVIRONMENT = "the environment"
_CREDENTIALS = frozenset({"client_id", "client_secret"})
_CREDENTIAL_OPTIONS = ("issuer", "client_id", "client_secret", "ttl")

#: Options whose value is text: a ``str`` in the settings is the value, never parsed.
_TEXT = frozenset({"path", "client_id", "client_secret"})


def _from_text(option: str, value: object) -> object:
    """A setting's value: a ``str`` is parsed as an environment variable is (``"900"``, ``"GET,
    POST"``), a dotted path for ``issuer``/``on_issue`` imported."""
    if not isinstance(value, str) or option in _TEXT:
        return value
    if option in ("issuer", "on_issue"):
        try:
            return pkgutil.resolve_name(value)
        except (ImportError, AttributeError, ValueError) as exc:
            raise ConfigurationError(f"cannot import {value!r}: {exc}", option=option) from None
    return parse_text(option, value)


def gather(
    given: Mapping[str, Any],
    sources: Iterable[tuple[str, Callable[[str], Any]]],
    takes: Collection[str],
) -> tuple[dict[str, Any], dict[str, str], list[ConfigurationError]]:
    """The options: ``given`` keywords first, then each ``(where, get_setting)`` source in order,
    by :data:`SETTING_NAMES`. Returns them, where each came from, and the errors in parsing."""
    options, origin, errors = dict(given), {}, []
    sources = list(sources)
    for option in sorted(set(takes) - set(given)):
        setting = SETTING_NAMES.get(option)
        for where, get in sources if setting else ():
            if option in _CREDENTIALS and where == ENVIRONMENT:
                continue  # read by Credentials at the first token request, beside any issuer
            value = get(setting)  # type: ignore[arg-type]
            if value is not None:
                origin[option] = f"{setting} ({where})"
                try:
                    options[option] = _from_text(option, value)
                except ConfigurationError as exc:
                    errors.append(exc)
                break
    return options, origin, errors


def located(error: ConfigurationError, origin: Mapping[str, str]) -> ConfigurationError:
    """``error``, its message prefixed with the setting it came from (if not a keyword)."""
    where = origin.get(error.option or "")
    return ConfigurationError(f"{where}: {error}", option=error.option) if where else error


def read(
    owner: str,
    given: Mapping[str, Any],
    sources: Iterable[tuple[str, Callable[[str], Any]]],
    takes: Collection[str],
) -> Settings:
    """:func:`build` from keywords and settings (Flask's ``app.config``, Django's settings, the
    environment); an error names the setting it came from."""
    check_names(owner, given, takes)
    options, origin, errors = gather(given, sources, takes)
    if errors:
        raise located(errors[0], origin)
    try:
        return build(owner, options, takes)
    except ConfigurationError as exc:
        raise located(exc, origin) from None


class Credentials:
    """Where the token issuer comes from: ``issuer``, the given credentials, or the environment."""

    __slots__ = ("_client_id", "_environ", "_issuer", "_key", "_ttl")

    def __init__(
        self,
        issuer: TokenIssuer | None = None,
        client_id: str | None = None,
        client_secret: object = None,
        ttl: int | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        if issuer is not None and (client_id or client_secret is not None or ttl is not None):
            raise ConfigurationError(
                "give either issuer or client_id/client_secret/ttl, not both", option="issuer"
            )
        key = Secret(client_secret) if secret_value(client_secret) else None
        self._client_id = client_id or None
        self._key = key
        self._ttl = DEFAULT_TTL if ttl is None else ttl
        self._environ = environ
        self._issuer = issuer
        if issuer is None and client_id and key is not None:
            self._issuer = TokenIssuer(client_id, key, ttl=self._ttl)

    def __repr__(self) -> str:
        return f"Credentials(client_id={self._client_id!r}, ttl={self._ttl})"

    def issuer(self) -> TokenIssuer:
        """The issuer, built once the credentials are found; else ``ConfigurationError`` naming
        every missing environment variable."""
        if self._issuer is None:
            found = credentials(self._client_id, self._key, self._environ)
            self._issuer = TokenIssuer(*found, ttl=self._ttl)
        return self._issuer


@dataclass(frozen=True, slots=True)
class Settings:
    """Every option, checked; built by :func:`build`."""

    path: str | None
    credentials: Credentials
    methods: frozenset[str]
    allowed_origins: frozenset[str]
    on_issue: Callable[..., Any] | None
    max_body_size: int
    resolve_user: Callable[..., Any] | None
    resolver_timeout: float | None
    thread_sensitive: bool

    @property
    def on_issue_is_async(self) -> bool:
        return self.on_issue is not None and is_async_callable(self.on_issue)

    @property
    def resolver_is_async(self) -> bool:
        return is_async_callable(self.resolve_user)


def build(
    owner: str,
    options: Mapping[str, Any],
    takes: Collection[str] = ANSWER_OPTIONS,
    *,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Check ``options`` (the names ``owner`` takes, each by its rule) and build the settings."""
    check_names(owner, options, takes)
    value = {
        **DEFAULTS,
        "resolver_timeout": DEFAULT_RESOLVER_TIMEOUT if "resolver_timeout" in takes else None,
        "path": DEFAULT_PATH if "path" in takes else None,
        "on_issue": None,
        "resolve_user": None,
    }
    value.update((name, RULES[name](given)) for name, given in options.items())
    issuer, client_id, secret, ttl = (value.pop(k, None) for k in _CREDENTIAL_OPTIONS)
    return Settings(credentials=Credentials(issuer, client_id, secret, ttl, environ), **value)
