"""Django REST framework: :class:`RolloutTokenAPIView`, the token for the user DRF authenticated.

::

    # urls.py
    from rollout_middleware.contrib.drf import RolloutTokenAPIView

    urlpatterns = [..., path("rollout-token", RolloutTokenAPIView.as_view())]

DRF authenticates only inside its own views, so a token, a JWT (simplejwt) or an API key in the
``Authorization`` header is seen here and nowhere else. The view is an ``APIView``:

- ``authentication_classes`` and ``throttle_classes`` are the project's
  (``REST_FRAMEWORK["DEFAULT_AUTHENTICATION_CLASSES"]``, ...), or per view by subclassing or
  ``as_view(authentication_classes=[...])``; ``SessionAuthentication`` applies DRF's CSRF rule to
  unsafe methods (``ROLLOUT_TOKEN_METHODS = ("POST",)``).
- ``permission_classes`` is ``[IsAuthenticated]``, whatever the project's default: an anonymous
  request gets DRF's own 401 (with the first authentication class's ``WWW-Authenticate``) or 403.
  Give ``AllowAny`` to have the package's own 401 problem JSON instead.
- The answers are the package's (:mod:`rollout_middleware.decision`), byte for byte: the token
  JSON, ``Cache-Control: no-store`` and the other headers, the cross-site 403, 405 with ``Allow``,
  the CORS preflight. The cross-site, method and body-size checks run before DRF authenticates, as
  they run before the resolver in the middleware.
- The ``ROLLOUT_*`` settings are the Django integration's (:mod:`rollout_middleware.contrib.django`);
  ``ROLLOUT_TOKEN_PATH`` is unused (the URLconf places the view). With the app in
  ``INSTALLED_APPS`` they are checked by ``manage.py check``; without it, when the URLconf loads
  (``as_view()``).
- ``manage.py generateschema`` lists it with its answer: ``token`` (string), ``expires_at`` and
  ``expires_in`` (integers).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, HttpResponseBase
from rest_framework.exceptions import APIException
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.schemas.openapi import AutoSchema
from rest_framework.views import APIView

from ..decision import Answer, TokenDecision
from .django import UserLookup, answer_response, precheck_request, user_id_of
from .django.conf import check_at_url_load, default_decision

__all__ = ["TOKEN_SCHEMA", "RolloutTokenAPIView", "RolloutTokenSchema"]

#: The OpenAPI schema of the 200 answer.
TOKEN_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "token": {"type": "string", "description": "The Rollout token (an HS512 JWT)."},
        "expires_at": {"type": "integer", "description": "When it expires, in POSIX seconds."},
        "expires_in": {"type": "integer", "description": "Seconds until it expires."},
    },
    "required": ["token", "expires_at", "expires_in"],
}
_PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
    },
}


class RolloutTokenSchema(AutoSchema):
    """The OpenAPI operation of :class:`RolloutTokenAPIView`: the token answer and its errors."""

    def get_operation_id(self, path: str, method: str) -> str:
        return "getRolloutToken" if method == "GET" else f"{method.lower()}RolloutToken"

    def get_request_body(self, path: str, method: str) -> dict[str, Any]:
        return {}

    def get_responses(self, path: str, method: str) -> dict[str, Any]:
        problem = {"application/problem+json": {"schema": _PROBLEM_SCHEMA}}
        return {
            "200": {
                "description": "A fresh Rollout token for the authenticated user.",
                "content": {"application/json": {"schema": TOKEN_SCHEMA}},
            },
            "401": {"description": "Not authenticated.", "content": problem},
            "403": {"description": "Not allowed, or a cross-site request.", "content": problem},
        }


class _CoreResponse(HttpResponse):
    """A response that is the package's answer: DRF adds none of its headers to it."""


class RolloutTokenAPIView(APIView):
    """Serve a Rollout token for ``request.user`` as DRF authenticated it (see the module)."""

    permission_classes: Sequence[type[BasePermission]] = (IsAuthenticated,)
    schema = RolloutTokenSchema()

    #: The answer decided before DRF's checks run (cross-site, method, body size, preflight), a
    #: failed authentication, or the user lookup that finishes the request: set per request, on the
    #: per-request view instance, by :meth:`initial`.
    _step: Answer | UserLookup

    # The stubs type DRF's handlers as returning DRF's Response; DRF itself takes any
    # HttpResponseBase (finalize_response asserts only that), which these return.
    @classmethod
    def as_view(cls, **initkwargs: Any) -> Callable[..., HttpResponseBase]:  # type: ignore[override]
        """The view function. Without the app in ``INSTALLED_APPS`` the ``ROLLOUT_*`` settings are
        checked now, as the URLconf loads; with it, by the system checks."""
        check_at_url_load()
        return super().as_view(**initkwargs)

    @property
    def decision(self) -> TokenDecision:
        return default_decision()

    @property
    def allowed_methods(self) -> list[str]:
        """The methods that serve a token (``ROLLOUT_TOKEN_METHODS``), for DRF and its schema."""
        return sorted(self.decision.settings.methods)

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        self._step = step = precheck_request(self.decision, request._request)
        if isinstance(step, Answer):
            return
        try:
            super().initial(request, *args, **kwargs)
        except (APIException, Http404, PermissionDenied):
            raise  # DRF's own answers: 401, 403, 429, ...
        except Exception:  # an authentication class that failed: logged, 500, as a resolver
            self._step = step.failed()

    def _token(self, request: Request) -> HttpResponse:
        step = self._step
        if isinstance(step, Answer):
            return answer_response(step, _CoreResponse)
        try:
            user_id = user_id_of(request.user)
        except Exception:
            return answer_response(step.failed(), _CoreResponse)
        return answer_response(step.respond(user_id), _CoreResponse)

    def get(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponse:
        return self._token(request)

    def options(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponse:  # type: ignore[override]
        """The CORS preflight, or 405: the package's answer, not DRF's metadata."""
        return self._token(request)

    def http_method_not_allowed(  # type: ignore[override]
        self, request: Request, *args: Any, **kwargs: Any
    ) -> HttpResponse:
        """Every other method: the package decides (a token for ``ROLLOUT_TOKEN_METHODS``, else
        405 with ``Allow``)."""
        return self._token(request)

    def finalize_response(  # type: ignore[override]
        self, request: Request, response: HttpResponseBase, *args: Any, **kwargs: Any
    ) -> HttpResponseBase:
        if isinstance(response, _CoreResponse):
            return response  # exactly the package's headers: no Allow, no Vary: Accept
        return super().finalize_response(request, response, *args, **kwargs)  # type: ignore[arg-type]
