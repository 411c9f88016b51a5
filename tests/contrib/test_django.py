"""Django: the token for Django's logged-in user, in a real project, four ways.

Each behaviour runs against the ASGI wrapper, the WSGI wrapper and ``token_view`` under both
(see :mod:`tests.django_project.testing`). Users log in through the project's login form with
Django's test client; tokens are checked with :func:`tests.support.verify_token`.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.django_project.testing import (
    MIDDLEWARE_WAYS,
    WAYS,
    build_app,
    ensure_django,
    get_token,
    login_cookies,
    make_user,
    new_password,
    send,
    token_path,
)
from tests.support import verify_token


@pytest.fixture(scope="module", autouse=True)
def _django() -> None:
    ensure_django()


@pytest.fixture(params=WAYS)
def way(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=MIDDLEWARE_WAYS)
def shell(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _logged_in(**user_options: Any) -> tuple[Any, dict[str, str]]:
    password = new_password()
    user = make_user(password=password, **user_options)
    return user, login_cookies(user.get_username(), password)


def _assert_401(response: Any) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 401
    assert "token" not in response.json()


# --- The logged-in user gets a token ------------------------------------------------------------


def test_logged_in_user_gets_a_token_for_their_pk(way: str) -> None:
    user, cookies = _logged_in()
    response = get_token(way, cookies)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    claims = verify_token(body["token"])
    assert claims["sub"] == str(user.pk)
    assert body["expires_at"] == claims["exp"]
    assert body["expires_in"] == 900


def test_each_request_mints_a_new_token(shell: str) -> None:
    user, cookies = _logged_in()
    app = build_app(shell)
    first = get_token(shell, cookies, app=app).json()
    second = get_token(shell, cookies, app=app).json()
    assert (
        verify_token(first["token"])["sub"] == verify_token(second["token"])["sub"] == str(user.pk)
    )


# --- Everyone else gets 401 ---------------------------------------------------------------------


def test_anonymous_gets_401(way: str) -> None:
    _assert_401(get_token(way))


def test_user_made_inactive_after_login_gets_401(way: str) -> None:
    user, cookies = _logged_in()
    user.is_active = False
    user.save(update_fields=["is_active"])
    _assert_401(get_token(way, cookies))


def test_inactive_user_from_a_backend_that_allows_them_gets_401(way: str) -> None:
    """``AllowAllUsersModelBackend`` returns inactive users: the integration still refuses them."""
    from django.test import override_settings

    backend = "django.contrib.auth.backends.AllowAllUsersModelBackend"
    with override_settings(AUTHENTICATION_BACKENDS=[backend]):
        user, cookies = _logged_in()
        assert verify_token(get_token(way, cookies).json()["token"])["sub"] == str(user.pk)
        user.is_active = False
        user.save(update_fields=["is_active"])
        _assert_401(get_token(way, cookies))


def test_password_changed_after_login_gets_401(way: str) -> None:
    user, cookies = _logged_in()
    assert get_token(way, cookies).status_code == 200
    user.set_password(new_password())
    user.save()
    _assert_401(get_token(way, cookies))


def test_deleted_user_gets_401(way: str) -> None:
    user, cookies = _logged_in()
    user.delete()
    _assert_401(get_token(way, cookies))


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda key: key[:-1] + ("a" if key[-1] != "a" else "b"), id="changed"),
        pytest.param(lambda key: uuid.uuid4().hex, id="unknown"),
        pytest.param(lambda key: "short", id="malformed"),
        pytest.param(lambda key: "", id="empty"),
    ],
)
def test_tampered_or_unknown_session_cookie_gets_401(way: str, tamper: Any) -> None:
    _, cookies = _logged_in()
    assert get_token(way, cookies).status_code == 200
    forged = {name: tamper(value) for name, value in cookies.items()}
    _assert_401(get_token(way, forged))


def test_session_of_a_backend_no_longer_configured_gets_401(way: str) -> None:
    from django.test import override_settings

    _, cookies = _logged_in()
    with override_settings(
        AUTHENTICATION_BACKENDS=["django.contrib.auth.backends.RemoteUserBackend"]
    ):
        _assert_401(get_token(way, cookies))


# --- Django's own settings are honoured ---------------------------------------------------------


def test_signed_cookie_session_engine(way: str) -> None:
    """The session is read with the configured ``SESSION_ENGINE``, here without the database."""
    from django.test import override_settings

    with override_settings(SESSION_ENGINE="django.contrib.sessions.backends.signed_cookies"):
        user, cookies = _logged_in()
        assert verify_token(get_token(way, cookies).json()["token"])["sub"] == str(user.pk)
        forged = {name: value[:-2] + "xx" for name, value in cookies.items()}
        _assert_401(get_token(way, forged))


def test_custom_session_cookie_name(way: str) -> None:
    from django.test import override_settings

    with override_settings(SESSION_COOKIE_NAME="appsession"):
        user, cookies = _logged_in()
        assert list(cookies) == ["appsession"]
        assert verify_token(get_token(way, cookies).json()["token"])["sub"] == str(user.pk)
        _assert_401(get_token(way, {"sessionid": cookies["appsession"]}))


def test_secret_key_rotation_keeps_the_user_logged_in(way: str) -> None:
    """A session signed with a key now in ``SECRET_KEY_FALLBACKS`` still identifies the user,
    and the token request leaves the session usable for the rest of the site."""
    from django.conf import settings
    from django.test import override_settings

    user, cookies = _logged_in()
    with override_settings(
        SECRET_KEY="rotated-" + settings.SECRET_KEY, SECRET_KEY_FALLBACKS=[settings.SECRET_KEY]
    ):
        response = get_token(way, cookies)
        assert verify_token(response.json()["token"])["sub"] == str(user.pk)
        if way.startswith("view"):
            # Django's own AuthenticationMiddleware rotated the session key, and says so.
            cookies = {**cookies, **dict(response.cookies)}
        else:
            # The wrappers cannot set a cookie: they leave the session as it was.
            assert "set-cookie" not in response.headers
        page = send("wsgi", "GET", "/hello/", cookies=cookies)
        assert page.text == f"hello {user.get_username()}"


# --- The view answers exactly as the middleware does --------------------------------------------

_ROLLOUT_HEADERS = ("content-type", "cache-control", "pragma", "x-content-type-options", "allow")


@pytest.mark.parametrize(
    ("method", "headers", "logged_in", "status"),
    [
        ("GET", {}, True, 200),
        ("HEAD", {}, True, 200),
        ("GET", {}, False, 401),
        ("HEAD", {}, False, 401),
        ("OPTIONS", {}, True, 405),
        ("GET", {"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}, True, 403),
    ],
)
def test_view_answers_like_the_middleware(
    shell: str, method: str, headers: dict[str, str], logged_in: bool, status: int
) -> None:
    cookies = _logged_in()[1] if logged_in else {}
    middleware = send(shell, method, token_path(shell), cookies=cookies, headers=headers)
    view = send("view-" + shell, method, "/view/rollout-token", cookies=cookies, headers=headers)
    assert middleware.status_code == view.status_code == status
    for name in _ROLLOUT_HEADERS:
        assert middleware.headers.get(name) == view.headers.get(name), name
    if status == 200 and method == "GET":
        assert middleware.json().keys() == view.json().keys()
        assert (
            verify_token(middleware.json()["token"])["sub"]
            == verify_token(view.json()["token"])["sub"]
        )
    else:
        assert middleware.content == view.content
        assert middleware.headers["content-length"] == view.headers["content-length"]


def test_view_works_with_any_authentication_that_sets_request_user() -> None:
    """``token_view`` reads ``request.user`` only: here ``RemoteUserMiddleware`` sets it."""
    from django.conf import settings
    from django.test import override_settings

    user = make_user(password=new_password())
    middleware = [
        *settings.MIDDLEWARE,
        "django.contrib.auth.middleware.RemoteUserMiddleware",
    ]
    backends = ["django.contrib.auth.backends.RemoteUserBackend"]
    with override_settings(MIDDLEWARE=middleware, AUTHENTICATION_BACKENDS=backends):
        from django.test import Client

        response = Client().get("/view/rollout-token", REMOTE_USER=user.get_username())
        assert response.status_code == 200
        assert verify_token(response.json()["token"])["sub"] == str(user.pk)
        assert Client().get("/view/rollout-token").status_code == 401


def test_view_settings_follow_override_settings() -> None:
    from django.test import Client, override_settings

    _, cookies = _logged_in()
    with override_settings(ROLLOUT_TOKEN_TTL=60):
        client = Client()
        client.cookies.load(cookies)
        verify_token(client.get("/view/rollout-token").json()["token"], ttl=60)
    client = Client()
    client.cookies.load(cookies)
    verify_token(client.get("/view/rollout-token").json()["token"], ttl=900)


def test_view_on_issue_hook_gets_the_request(caplog: pytest.LogCaptureFixture) -> None:
    from django.test import RequestFactory

    from rollout_middleware.contrib.django import RolloutTokenView

    seen: list[tuple[str, int, dict[str, Any]]] = []

    async def on_issue(subject: str, expires_at: int, info: Any) -> None:
        seen.append((subject, expires_at, dict(info)))

    user = make_user(password=new_password())
    request = RequestFactory().get("/somewhere/token", REMOTE_ADDR="10.0.0.7")
    request.user = user
    body = json.loads(RolloutTokenView(on_issue=on_issue)(request).content)
    assert seen == [
        (
            str(user.pk),
            body["expires_at"],
            {"method": "GET", "path": "/somewhere/token", "client": "10.0.0.7"},
        )
    ]

    def failing_hook(subject: str, expires_at: int, info: Any) -> None:
        raise RuntimeError("audit store down")

    with caplog.at_level(logging.ERROR, logger="rollout_middleware"):
        response = RolloutTokenView(on_issue=failing_hook)(request)
    assert response.status_code == 200
    assert "on_issue hook raised" in caplog.text


def test_view_without_request_user_answers_500(caplog: pytest.LogCaptureFixture) -> None:
    from django.test import RequestFactory

    from rollout_middleware.contrib.django import RolloutTokenView

    request = RequestFactory().get("/token")  # no AuthenticationMiddleware: no request.user
    with caplog.at_level(logging.ERROR, logger="rollout_middleware"):
        response = RolloutTokenView()(request)
    assert response.status_code == 500
    assert response["Content-Type"] == "application/problem+json"
    assert "resolver raised" in caplog.text


def test_view_refuses_a_body_over_the_limit() -> None:
    from django.test import RequestFactory, override_settings

    from rollout_middleware.contrib.django import RolloutTokenView

    with override_settings(ROLLOUT_TOKEN_METHODS=("POST",)):
        request = RequestFactory().post("/token", data=b"x" * 20, content_type="text/plain")
        request.user = make_user(password=new_password())
        assert RolloutTokenView(max_body_size=10)(request).status_code == 413
        assert RolloutTokenView(max_body_size=20)(request).status_code == 200


# --- CSRF with a POST configuration -------------------------------------------------------------


def test_post_view_keeps_django_csrf_protection() -> None:
    """With ``ROLLOUT_TOKEN_METHODS = ("POST",)`` the view needs Django's CSRF token."""
    from django.conf import settings
    from django.test import Client, override_settings

    user, cookies = _logged_in()
    with override_settings(ROLLOUT_TOKEN_METHODS=("POST",)):
        client = Client(enforce_csrf_checks=True)
        client.cookies.load(cookies)
        refused = client.post("/view/rollout-token")
        assert refused.status_code == 403
        assert refused["Content-Type"].startswith("text/html")  # Django's CSRF failure page
        client.get("/accounts/login/")  # sets the CSRF cookie, as any page with a form does
        csrf = client.cookies[settings.CSRF_COOKIE_NAME].value
        accepted = client.post("/view/rollout-token", headers={"X-CSRFToken": csrf})
        assert accepted.status_code == 200
        assert verify_token(accepted.json()["token"])["sub"] == str(user.pk)
        assert client.get("/view/rollout-token").status_code == 405


def test_post_middleware_refuses_cross_site_requests(shell: str) -> None:
    """The wrappers run before Django's CSRF middleware: ``Sec-Fetch-Site`` guards them."""
    from django.test import override_settings

    user, cookies = _logged_in()
    with override_settings(ROLLOUT_TOKEN_METHODS=("POST",)):
        app = build_app(shell)
        ok = send(shell, "POST", "/rollout-token", cookies=cookies, app=app)
        assert verify_token(ok.json()["token"])["sub"] == str(user.pk)
        cross = {"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}
        assert (
            send(
                shell, "POST", "/rollout-token", cookies=cookies, headers=cross, app=app
            ).status_code
            == 403
        )
        assert send(shell, "GET", "/rollout-token", cookies=cookies, app=app).status_code == 405


# --- The rest of the Django app is untouched ----------------------------------------------------


@pytest.fixture
def staff() -> Iterator[dict[str, str]]:
    password = new_password()
    user = make_user(password=password, is_staff=True)
    yield login_cookies(user.get_username(), password)
    user.delete()


# WhiteNoise serves files with a sync iterator, which Django's ASGI handler warns about.
_WHITENOISE_ASGI = pytest.mark.filterwarnings(
    "ignore:StreamingHttpResponse must consume synchronous iterators"
)


@_WHITENOISE_ASGI
@pytest.mark.parametrize(
    "path",
    [
        "/hello/",
        "/accounts/login/",
        "/admin/login/",
        "/static/app.txt",
        "/missing/",
        "/rollout-token/",
    ],
)
def test_other_paths_answer_as_without_the_wrapper(shell: str, path: str) -> None:
    wrapped = send(shell, "GET", path)
    plain = send("view-" + shell, "GET", path)
    assert wrapped.status_code == plain.status_code
    assert wrapped.headers.get("content-type") == plain.headers.get("content-type")
    if "login" not in path:  # a login form carries a fresh CSRF token each time
        assert wrapped.content == plain.content


@_WHITENOISE_ASGI
def test_static_file_is_served_by_whitenoise(shell: str) -> None:
    response = send(shell, "GET", "/static/app.txt")
    assert response.status_code == 200
    assert response.text == "static file served by whitenoise\n"


def test_admin_works_for_staff(shell: str, staff: dict[str, str]) -> None:
    response = send(shell, "GET", "/admin/", cookies=staff)
    assert response.status_code == 200
    assert "Site administration" in response.text
    assert send(shell, "GET", "/admin/").status_code == 302


def test_csrf_still_guards_other_views(shell: str) -> None:
    from django.conf import settings

    app = build_app(shell)
    assert send(shell, "POST", "/echo/", data={"value": "x"}, app=app).status_code == 403
    login_page = send(shell, "GET", "/accounts/login/", app=app)
    csrf = login_page.cookies[settings.CSRF_COOKIE_NAME]
    accepted = send(
        shell,
        "POST",
        "/echo/",
        data={"value": "x", "csrfmiddlewaretoken": csrf},
        cookies={settings.CSRF_COOKIE_NAME: csrf},
        app=app,
    )
    assert accepted.status_code == 200
    assert accepted.text == "posted x"


def test_logged_in_pages_see_the_same_user(shell: str) -> None:
    user, cookies = _logged_in()
    app = build_app(shell)
    assert send(shell, "GET", "/hello/", cookies=cookies, app=app).text == (
        f"hello {user.get_username()}"
    )
    assert get_token(shell, cookies, app=app).status_code == 200
    assert send(shell, "GET", "/hello/", cookies=cookies, app=app).text == (
        f"hello {user.get_username()}"
    )
