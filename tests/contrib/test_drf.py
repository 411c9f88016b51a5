"""Django REST framework: ``RolloutTokenAPIView`` with TokenAuthentication, simplejwt's
JWTAuthentication and SessionAuthentication (and its CSRF rule), DRF's 401, throttles (the schema:
test_drf_schema.py)."""

from __future__ import annotations

import json

import pytest

from tests.django_project.testing import ensure_django, make_user, new_password
from tests.support import verify_token

URL = "/drf/rollout-token"


@pytest.fixture(scope="module", autouse=True)
def _django() -> None:
    ensure_django()


def test_token_authentication() -> None:
    from django.test import Client
    from rest_framework.authtoken.models import Token

    user = make_user(password=new_password())
    key = Token.objects.create(user=user).key
    response = Client().get(URL, headers={"Authorization": f"Token {key}"})
    assert response.status_code == 200, response.content
    assert response["Cache-Control"] == "no-store"
    assert verify_token(response.json()["token"])["sub"] == str(user.pk)
    # DRF adds neither Allow nor Vary: Accept to the package's answer (the project's
    # SessionMiddleware may add Vary: Cookie, as to any response after a session read).
    assert "Allow" not in response
    assert "Accept" not in response.get("Vary", "")


def test_simplejwt_authentication() -> None:
    from django.test import Client
    from rest_framework_simplejwt.tokens import AccessToken

    user = make_user(password=new_password())
    access = str(AccessToken.for_user(user))
    response = Client().get(URL, headers={"Authorization": f"Bearer {access}"})
    assert response.status_code == 200, response.content
    assert verify_token(response.json()["token"])["sub"] == str(user.pk)
    refused = Client().get(URL, headers={"Authorization": "Bearer not-a-jwt"})
    # DRF's rule: the first authentication class (SessionAuthentication) has no
    # WWW-Authenticate, so a failed authentication is a 403, with simplejwt's own detail.
    assert refused.status_code == 403
    assert refused.json()["code"] == "token_not_valid"


def test_session_authentication_and_drf_csrf_rule() -> None:
    from django.test import Client, override_settings

    user = make_user(password=new_password())
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.get(URL).status_code == 200
    with override_settings(ROLLOUT_TOKEN_METHODS=("POST",)):
        refused = client.post(URL)
        assert refused.status_code == 403
        assert "CSRF" in refused.json()["detail"]
        client.get("/accounts/login/")  # sets the csrftoken cookie
        token = client.cookies["csrftoken"].value
        accepted = client.post(URL, headers={"X-CSRFToken": token})
    assert accepted.status_code == 200, accepted.content
    assert verify_token(accepted.json()["token"])["sub"] == str(user.pk)


def test_anonymous_gets_drf_own_401_with_www_authenticate() -> None:
    from django.test import Client

    response = Client().get(URL)
    # SessionAuthentication comes first and has no WWW-Authenticate: DRF answers 403.
    assert response.status_code == 403
    assert response["Content-Type"] == "application/json"
    assert "credentials were not provided" in response.json()["detail"]


@pytest.mark.parametrize("how", ["as_view", "subclass"])
def test_per_view_authentication_gets_401_with_www_authenticate(how: str) -> None:
    """``authentication_classes`` per view, by ``as_view(...)`` or by subclassing."""
    from django.test import RequestFactory
    from rest_framework.authentication import TokenAuthentication

    from rollout_middleware.contrib.drf import RolloutTokenAPIView

    class TokenOnly(RolloutTokenAPIView):
        authentication_classes = (TokenAuthentication,)

    if how == "as_view":
        view = RolloutTokenAPIView.as_view(authentication_classes=[TokenAuthentication])
    else:
        view = TokenOnly.as_view()
    response = view(RequestFactory().get("/rollout-token"))
    response.render()
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


def test_the_cross_site_403_is_the_package_answer_before_authentication() -> None:
    from django.test import Client
    from rest_framework.authtoken.models import Token

    user = make_user(password=new_password())
    key = Token.objects.create(user=user).key
    response = Client().get(
        URL, headers={"Authorization": f"Token {key}", "Sec-Fetch-Site": "cross-site"}
    )
    assert response.status_code == 403
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["detail"] == "Cross-site requests for a Rollout token are refused."


def test_throttle_classes_per_view() -> None:
    from django.test import Client
    from rest_framework.authtoken.models import Token

    user = make_user(password=new_password())
    headers = {"Authorization": f"Token {Token.objects.create(user=user).key}"}
    statuses = [
        Client().get("/drf/throttled/rollout-token", headers=headers).status_code for _ in range(3)
    ]
    assert statuses == [200, 200, 429]  # DEFAULT_THROTTLE_RATES["user"] = "2/day"


def test_a_project_that_authenticates_in_a_mixin_subclasses_the_view_with_it() -> None:
    """docs/drf.md: with ``DEFAULT_AUTHENTICATION_CLASSES`` empty (Django-Styleguide-Example), the
    plain view authenticates nobody; a subclass with the project's mixin serves its users."""
    from django.test import RequestFactory
    from rest_framework.authentication import TokenAuthentication
    from rest_framework.authtoken.models import Token

    from rollout_middleware.contrib.drf import RolloutTokenAPIView

    class ApiAuthMixin:
        authentication_classes = [TokenAuthentication]

    class RolloutTokenApi(ApiAuthMixin, RolloutTokenAPIView):
        pass

    user = make_user(password=new_password())
    key = Token.objects.create(user=user).key

    def request() -> object:
        return RequestFactory().get("/api/rollout-token", headers={"Authorization": f"Token {key}"})

    assert RolloutTokenAPIView.as_view(authentication_classes=[])(request()).status_code == 403
    served = RolloutTokenApi.as_view()(request())
    assert served.status_code == 200, served.content
    assert verify_token(json.loads(served.content)["token"])["sub"] == str(user.pk)
