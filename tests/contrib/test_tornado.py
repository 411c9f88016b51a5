"""rollout_middleware.contrib.tornado: Tornado's secure cookies decide the user, under its HTTPServer."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import tornado.web

from rollout_middleware import ConfigurationError
from rollout_middleware.contrib.tornado import rollout_token_handler

from ..loop_servers import tornado_server
from ..support import CLIENT_ID, SECRET, verify_token

CREDENTIALS = {"client_id": CLIENT_ID, "client_secret": SECRET}
USERS = {"ada": {"id": 7, "name": "Ada"}, "grace": {"id": 8, "name": "Grace"}}


class BaseHandler(tornado.web.RequestHandler):
    """The app's own auth: a user name in a signed cookie."""

    def get_current_user(self) -> str | None:
        user = self.get_signed_cookie("user")
        return None if user is None else user.decode()


class LoginHandler(BaseHandler):
    def post(self, user: str) -> None:
        self.set_signed_cookie("user", user)


class AsyncAuthHandler(BaseHandler):
    """Async auth, Tornado's way: ``prepare`` loads the user object and sets ``current_user``."""

    async def prepare(self) -> None:
        await asyncio.sleep(0)  # the database
        name = BaseHandler.get_current_user(self)
        self.current_user = USERS.get(name or "")


class LoginRequiredHandler(BaseHandler):
    def prepare(self) -> None:
        if self.current_user is None:
            self.redirect("/login-page")


@contextlib.contextmanager
def serve(handler: type[tornado.web.RequestHandler], **settings: Any) -> Iterator[httpx.Client]:
    def make_app() -> tornado.web.Application:
        routes = [(r"/login/(\w+)", LoginHandler), (r"/rollout-token", handler)]
        return tornado.web.Application(routes, cookie_secret="c" * 32, **settings)

    with tornado_server(make_app) as url, httpx.Client(base_url=url) as client:
        yield client


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    with serve(rollout_token_handler(BaseHandler, **CREDENTIALS)) as client:
        yield client


@pytest.mark.server
def test_the_signed_cookie_decides_the_user(client: httpx.Client) -> None:
    client.cookies.clear()
    assert client.get("/rollout-token").status_code == 401
    client.post("/login/ada", content=b"")
    response = client.get("/rollout-token")
    assert response.status_code == 200
    assert verify_token(response.json()["token"])["sub"] == "ada"
    # Tornado's defaults removed: the core's Content-Type, no Etag.
    assert response.headers["content-type"] == "application/json"
    assert "etag" not in response.headers
    client.cookies.clear()  # the signed cookie goes: only the forged one is sent
    client.cookies.set("user", "ada")  # forged: not signed
    assert client.get("/rollout-token").status_code == 401


@pytest.mark.server
def test_no_304_for_a_repeated_request(client: httpx.Client) -> None:
    client.cookies.clear()
    client.post("/login/grace", content=b"")
    response = client.get("/rollout-token", headers={"if-none-match": "*"})
    assert response.status_code == 200


@pytest.mark.server
def test_head_has_the_get_headers_and_no_body(client: httpx.Client) -> None:
    client.cookies.clear()
    client.post("/login/grace", content=b"")
    got, head = client.get("/rollout-token"), client.head("/rollout-token")
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == got.headers["content-length"]


@pytest.mark.server
def test_every_method_is_the_decisions(client: httpx.Client) -> None:
    response = client.request("PROPFIND", "/rollout-token")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD"
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.server
@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
def test_async_auth_in_prepare_and_a_user_id_mapping(is_async: bool) -> None:
    async def async_id(handler: tornado.web.RequestHandler) -> Any:
        return None if handler.current_user is None else handler.current_user["id"]

    def sync_id(handler: tornado.web.RequestHandler) -> Any:
        return None if handler.current_user is None else handler.current_user["id"]

    handler = rollout_token_handler(
        AsyncAuthHandler, user_id=async_id if is_async else sync_id, **CREDENTIALS
    )
    with serve(handler) as client:
        assert client.get("/rollout-token").status_code == 401
        client.post("/login/ada", content=b"")
        response = client.get("/rollout-token")
    assert verify_token(response.json()["token"])["sub"] == "7"


@pytest.mark.server
def test_a_prepare_that_answers_ends_the_request() -> None:
    with serve(rollout_token_handler(LoginRequiredHandler, **CREDENTIALS)) as client:
        response = client.get("/rollout-token")
        assert response.status_code == 302
        assert response.headers["location"] == "/login-page"
        client.post("/login/ada", content=b"")
        assert client.get("/rollout-token").status_code == 200


@pytest.mark.server
def test_an_http_error_is_tornados_to_render() -> None:
    class Forbidding(BaseHandler):
        def get_current_user(self) -> str:
            raise tornado.web.HTTPError(403)

    with serve(rollout_token_handler(Forbidding, **CREDENTIALS)) as client:
        response = client.get("/rollout-token")
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("text/html")  # Tornado's error page


@pytest.mark.server
def test_the_apps_xsrf_check_applies_to_post() -> None:
    handler = rollout_token_handler(BaseHandler, methods=("POST",), **CREDENTIALS)
    with serve(handler, xsrf_cookies=True) as client:
        client.cookies.set("_xsrf", "token-value")
        # Tornado's XSRF check runs before the handler, as for the app's login route.
        refused = client.post("/rollout-token", content=b"")
        assert refused.status_code == 403
        assert refused.headers["content-type"].startswith("text/html")  # Tornado's, not ours
        xsrf = {"x-xsrftoken": "token-value"}
        assert client.post("/login/ada", headers=xsrf, content=b"").status_code == 200
        response = client.post("/rollout-token", headers=xsrf, content=b"")
    assert response.status_code == 200
    assert verify_token(response.json()["token"])["sub"] == "ada"


@pytest.mark.server
def test_xsrf_cookies_leave_get_alone() -> None:
    with serve(rollout_token_handler(BaseHandler, **CREDENTIALS), xsrf_cookies=True) as client:
        client.cookies.set("_xsrf", "v")
        assert client.post("/login/ada", headers={"x-xsrftoken": "v"}).status_code == 200
        response = client.get("/rollout-token")
    assert response.status_code == 200
    assert verify_token(response.json()["token"])["sub"] == "ada"


@pytest.mark.server
def test_early_answers_come_before_prepare_and_current_user() -> None:
    calls: list[str] = []

    class Recording(BaseHandler):
        def prepare(self) -> None:
            calls.append("prepare")

        def get_current_user(self) -> str:
            calls.append("get_current_user")
            return "ada"

    with serve(rollout_token_handler(Recording, **CREDENTIALS)) as client:
        cross_site = client.get("/rollout-token", headers={"sec-fetch-site": "cross-site"})
        not_allowed = client.delete("/rollout-token")
        assert calls == []
        assert client.get("/rollout-token").status_code == 200
    assert (cross_site.status_code, not_allowed.status_code) == (403, 405)
    assert calls == ["prepare", "get_current_user"]


def test_the_class_is_a_subclass_of_the_apps_base() -> None:
    handler = rollout_token_handler(BaseHandler, **CREDENTIALS)
    assert issubclass(handler, BaseHandler)
    assert handler.__name__ == "RolloutTokenBaseHandler"


@pytest.mark.parametrize(
    "user_id",
    ["id", lambda: None, lambda handler, extra: None],
    ids=["str", "no-argument", "two-arguments"],
)
def test_a_wrong_user_id_is_refused_when_the_class_is_built(user_id: Any) -> None:
    with pytest.raises(ConfigurationError, match="user_id"):
        rollout_token_handler(BaseHandler, user_id=user_id, **CREDENTIALS)


def test_options_are_checked_when_the_class_is_built(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ROLLOUT_CLIENT_SECRET", raising=False)
    with pytest.raises(ConfigurationError, match="base"):
        rollout_token_handler(object, **CREDENTIALS)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"rollout_token_handler\(\) got an unexpected keyword"):
        rollout_token_handler(BaseHandler, resolver_timeout=1, **CREDENTIALS)  # type: ignore[call-arg]
    with pytest.raises(ConfigurationError, match="allowed origin"):
        rollout_token_handler(BaseHandler, allowed_origins=["*"], **CREDENTIALS)
    with pytest.raises(ConfigurationError, match="client secret must be a str") as error:
        rollout_token_handler(BaseHandler, client_id=CLIENT_ID, client_secret=12)
    assert SECRET not in str(error.value)
    rollout_token_handler(BaseHandler, client_id=CLIENT_ID)  # the secret: at the first request


def test_without_the_extra_the_import_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tornado.web", None)
    monkeypatch.delitem(sys.modules, "rollout_middleware.contrib.tornado")
    with pytest.raises(ImportError, match=r"rollout-middleware\[tornado\]"):
        importlib.import_module("rollout_middleware.contrib.tornado")


def test_tornados_own_error_pages_keep_the_cors_headers_and_the_apps_vary() -> None:
    """An ``HTTPError`` from the user lookup, and the XSRF check that runs before ``prepare``,
    are answered by Tornado's error page; a page of an allowed origin can read both, and the
    ``Vary`` of the app's ``set_default_headers`` is kept."""
    origin = "https://app.example.com"

    class Base(tornado.web.RequestHandler):
        def set_default_headers(self) -> None:
            self.set_header("Vary", "Accept-Encoding")

        def get_current_user(self) -> Any:
            raise tornado.web.HTTPError(401)

    handler = rollout_token_handler(
        Base,
        allowed_origins=(origin,),
        methods=("GET", "POST"),
        client_id=CLIENT_ID,
        client_secret=SECRET,
    )

    def make_app() -> tornado.web.Application:
        return tornado.web.Application([(r"/rollout-token", handler)], xsrf_cookies=True)

    with tornado_server(make_app) as url, httpx.Client(base_url=url) as client:
        for method in ("GET", "POST"):  # 401 from the lookup; 403 from the XSRF check
            refused = client.request(method, "/rollout-token", headers={"Origin": origin})
            assert refused.status_code == (401 if method == "GET" else 403)
            assert refused.headers["Access-Control-Allow-Origin"] == origin
            assert refused.headers["Vary"] == "Accept-Encoding, Origin"
        other = client.get("/rollout-token", headers={"Origin": "https://evil.example"})
        assert other.status_code == 401
        assert "Access-Control-Allow-Origin" not in other.headers
        assert other.headers["Vary"] == "Accept-Encoding"
