"""Django REST framework: :class:`RolloutTokenAPIView`, the token for the user DRF authenticated.

The core's early answers (403, 405, 413, the preflight) come before DRF authenticates; then DRF's
authentication, permissions (``IsAuthenticated`` by default) and throttles; then the core's answer.
See the DRF docs page.
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

from ..decision import Answer, TokenDecision, TokenRequest
from .django import answer_response, request_body, token_request, user_id_of
from .django.conf import checked_at_url_load, default_decision

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

    #: Per request, on the per-request view instance: the core's view of it, and the answer
    #: decided before DRF's checks run (or ``None``). Set by :meth:`initial`.
    _token_request: TokenRequest
    _early: Answer | None

    # The stubs type DRF's handlers as returning DRF's Response; DRF itself takes any
    # HttpResponseBase (finalize_response asserts only that), which these return.
    @classmethod
    def as_view(cls, **initkwargs: Any) -> Callable[..., HttpResponseBase]:  # type: ignore[override]
        """The view function; a wrong ``ROLLOUT_*`` setting raises now, unless the app's system
        checks report it."""
        checked_at_url_load()
        return super().as_view(**initkwargs)

    @property
    def decision(self) -> TokenDecision:
        return default_decision()

    @property
    def allowed_methods(self) -> list[str]:
        """The methods that serve a token (``ROLLOUT_TOKEN_METHODS``), for DRF and its schema."""
        return sorted(self.decision.settings.methods)

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        decision = self.decision
        self._token_request = found = token_request(decision, request._request)
        self._early = decision.precheck(found) or decision.check_body(
            found, request_body(request._request, decision.settings.max_body_size)
        )
        if self._early is not None:
            return
        try:
            super().initial(request, *args, **kwargs)
        except (APIException, Http404, PermissionDenied):
            raise  # DRF's own answers: 401, 403, 429, ...
        except Exception:  # an authentication class that failed: logged, 500, as a resolver
            self._early = decision.failed(found)

    def _token(self, request: Request) -> HttpResponse:
        answer = self._early
        if answer is None:
            try:
                user_id = user_id_of(request.user)
            except Exception:
                answer = self.decision.failed(self._token_request)
            else:
                answer = self.decision.respond(self._token_request, user_id)
        return answer_response(answer, _CoreResponse)

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
