"""Django REST framework: :class:`RolloutTokenAPIView`, the token for the user DRF authenticated."""

from __future__ import annotations

import functools
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, cast

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, HttpResponseBase
from rest_framework.exceptions import APIException
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.schemas.inspectors import ViewInspector
from rest_framework.schemas.openapi import AutoSchema
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from ..decision import Answer, TokenDecision, TokenRequest, add_cors
from .django import answer_response, request_body, token_request, user_id_of
from .django.conf import checked_at_url_load, default_decision

if TYPE_CHECKING:
    from rest_framework.permissions import _PermissionClass

__all__ = ["PROBLEM_SCHEMA", "TOKEN_SCHEMA", "RolloutTokenAPIView", "RolloutTokenSchema"]

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
#: The OpenAPI schema of the package's problem answers (``application/problem+json``).
PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
    },
}


_DESCRIPTION = (
    "A fresh Rollout token for the authenticated user, to give Rollout's front-end components. "
    "Fetch a new one before `expires_at`."
)
_DRF_ERROR: dict[str, Any] = {"type": "object", "properties": {"detail": {"type": "string"}}}
#: Each error status, what it means, and whether DRF answers it too (its ``{"detail"}`` JSON).
_ERRORS = (
    ("401", "Not authenticated.", True),
    ("403", "Not allowed, or a cross-site request.", True),
    ("503", "Rollout tokens are not available right now (no credentials).", False),
)


def _answers() -> Iterator[tuple[str, str, dict[str, Any], str]]:
    """Each answer's status, media type, schema and description."""
    yield "200", "application/json", TOKEN_SCHEMA, "A fresh Rollout token."
    for status, description, drf in _ERRORS:
        yield status, "application/problem+json", PROBLEM_SCHEMA, description
        if drf:
            yield status, "application/json", _DRF_ERROR, description


class _DRFOperation:
    """The operation for DRF's own generator (``rest_framework.schemas.openapi.AutoSchema``)."""

    operation_id_base: str | None

    def get_operation_id(self, path: str, method: str) -> str:
        """``GET /api/rollout-token`` as ``getApiRolloutToken``: one operationId per route."""
        words = re.findall(r"[A-Za-z0-9]+", path)
        name = self.operation_id_base or "".join(w[:1].upper() + w[1:] for w in words)
        return method.lower() + name

    def get_description(self, path: str, method: str) -> str:
        return _DESCRIPTION

    def get_request_body(self, path: str, method: str) -> dict[str, Any]:
        return {}

    def get_responses(self, path: str, method: str) -> dict[str, Any]:
        responses: dict[str, Any] = {}
        for status, media_type, schema, description in _answers():
            response = responses.setdefault(status, {"description": description, "content": {}})
            response["content"][media_type] = {"schema": schema}
        return responses


class _SpectacularOperation:
    """The operation for drf-spectacular (``drf_spectacular.openapi.AutoSchema``)."""

    def get_description(self) -> str:
        return _DESCRIPTION

    def get_request_serializer(self) -> Any:
        return None

    def get_response_serializers(self) -> Any:
        from drf_spectacular.utils import OpenApiResponse

        return {
            (status, media_type): OpenApiResponse(schema, description)
            for status, media_type, schema, description in _answers()
        }


@functools.cache
def _schema_class(descriptor: type, base: type[Any]) -> type[Any]:
    """The inspector class for ``DEFAULT_SCHEMA_CLASS`` ``base``: ours over it, or ``base``."""
    spectacular = sys.modules.get("drf_spectacular.openapi")  # loaded by DEFAULT_SCHEMA_CLASS
    if spectacular is not None and issubclass(base, spectacular.AutoSchema):
        mixin: type = _SpectacularOperation
    elif issubclass(base, AutoSchema):
        mixin = _DRFOperation
    else:
        return base  # CoreAPI, or another generator: the project's own inspector

    def __init__(self: Any, **kwargs: Any) -> None:
        base.__init__(self, **kwargs)

    # The descriptor's class first: a subclass of it (drf-spectacular's @extend_schema on a view
    # subclass makes one) overrides our operation as it would the base's.
    return type(descriptor.__name__, (descriptor, mixin, base), {"__init__": __init__})


class RolloutTokenSchema(ViewInspector):
    """The schema of :class:`RolloutTokenAPIView`: the token answer and its errors, in the
    flavour of the project's ``DEFAULT_SCHEMA_CLASS`` (DRF's ``AutoSchema``, drf-spectacular's, or
    a subclass of either), as DRF's default ``schema`` picks its class."""

    #: As both generators' ``AutoSchema`` (drf-spectacular's ``@extend_schema`` reads it).
    method_mapping = AutoSchema.method_mapping

    def __init__(self, **kwargs: Any) -> None:
        super().__init__()
        self._kwargs = kwargs

    def __get__(self, instance: Any, owner: Any) -> Any:
        result = super().__get__(instance, owner)
        if instance is None or result is not self:
            return result  # the class's attribute, or an inspector set on this view
        base: type = api_settings.DEFAULT_SCHEMA_CLASS  # type: ignore[assignment]
        cls = _schema_class(cast("type", type(self)), base)
        inspector = cls(**self._kwargs) if issubclass(base, AutoSchema) else cls()
        inspector.view = instance
        return inspector


class _CoreResponse(HttpResponse):
    """A response that is the package's answer: DRF adds none of its headers to it."""


class RolloutTokenAPIView(APIView):
    """Serve a Rollout token for ``request.user`` as DRF authenticated it (see the module)."""

    # As djangorestframework-stubs annotate it: a mixin of the project's may set ``A & B``.
    permission_classes: Sequence[_PermissionClass] = (IsAuthenticated,)
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

    def get(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponse:
        """The package's answer to every method, not DRF's: a token for ``ROLLOUT_TOKEN_METHODS``,
        the CORS preflight (not DRF's metadata), else 405 with ``Allow``."""
        answer = self._early or self.decision.handle(
            self._token_request, lambda: user_id_of(request.user)
        )
        return answer_response(answer, _CoreResponse)

    options = http_method_not_allowed = get  # type: ignore[assignment]

    def finalize_response(  # type: ignore[override]
        self, request: Request, response: HttpResponseBase, *args: Any, **kwargs: Any
    ) -> HttpResponseBase:
        if isinstance(response, _CoreResponse):
            return response  # exactly the package's headers: no Allow, no Vary: Accept
        response = super().finalize_response(request, response, *args, **kwargs)  # type: ignore[arg-type]
        found = getattr(self, "_token_request", None)  # DRF's answer: readable by an allowed origin
        if found is not None:
            add_cors(response.headers, found.cors)
        return response
