"""The stand-in itself: token checks, records, controls and the credentials API."""

from __future__ import annotations

import copy
import datetime
import enum
import html
import http
import math
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import jwt
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from ._crm import CRM, CRM_PATHS

__all__ = [
    "DATA_NOT_READY_MESSAGE",
    "DEFAULT_CONNECTORS",
    "Rejection",
    "RolloutAPIStandIn",
    "SeenRequest",
]

_REQUIRED_CLAIMS = ["iss", "sub", "iat", "exp"]
_NOTE_KEY = "rollout_middleware.stand_in"
_CONTROL_PREFIX = "/_stand-in/"
_CREDENTIAL_ID_HEADER = "X-Rollout-Credential-Id"
#: The CRM's answer to a request while a credential's data is still syncing.
DATA_NOT_READY_MESSAGE = "Data for this credential is not ready yet. Please try again."
_FORCED_MESSAGES = {409: DATA_NOT_READY_MESSAGE, 429: "Rate limit exceeded. Please slow down."}


class Rejection(str, enum.Enum):
    """Why the stand-in answered 401. The value is the machine-readable reason."""

    MISSING = "missing"
    MALFORMED = "malformed"
    ALGORITHM = "algorithm"
    SIGNATURE = "signature"
    ISSUER = "issuer"
    MISSING_CLAIM = "missing_claim"
    INVALID_CLAIM = "invalid_claim"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    FORCED = "forced"


_MESSAGES = {
    Rejection.MISSING: "Missing token: send 'Authorization: Bearer <token>'",
    Rejection.MALFORMED: "Invalid token: not a well-formed JWT",
    Rejection.ALGORITHM: "Invalid token: the algorithm must be HS512",
    Rejection.SIGNATURE: "Invalid token: signature verification failed",
    Rejection.ISSUER: "Invalid token: 'iss' is not this client id",
    Rejection.MISSING_CLAIM: "Invalid token: a required claim (iss, sub, iat, exp) is missing",
    Rejection.INVALID_CLAIM: "Invalid token: a claim has the wrong type",
    Rejection.EXPIRED: "Invalid token: the token has expired",
    Rejection.NOT_YET_VALID: "Invalid token: 'iat' is in the future",
    Rejection.FORCED: "Invalid token: the token has expired (simulated)",
}


def _entities(category: str, *names: str) -> dict[str, dict[str, dict[str, bool]]]:
    crud = {"list": True, "create": True, "update": True, "delete": True}
    return {category: {name: dict(crud) for name in names}}


def _api_token_plan(*inputs: tuple[str, str]) -> dict[str, Any]:
    return {
        "type": "apiToken",
        "userInputsSchema": [
            {"key": key, "type": "textfield", "label": label} for key, label in inputs
        ],
    }


_OAUTH2_PLAN: dict[str, Any] = {"type": "oauth2", "userInputsSchema": []}

#: The connector catalogue served by ``GET /connectors`` unless another one is given.
DEFAULT_CONNECTORS: Mapping[str, Mapping[str, Any]] = {
    "follow-up-boss": {
        "name": "Follow Up Boss",
        "entities": _entities("crm", "people", "notes", "tasks"),
        "authByPlan": {"default": _api_token_plan(("apiKey", "API key"))},
    },
    "lofty": {
        "name": "Lofty",
        "entities": _entities("crm", "people", "notes"),
        "authByPlan": {"default": _api_token_plan(("apiKey", "API key"))},
    },
    "hubspot": {
        "name": "HubSpot",
        "entities": _entities("crm", "people", "notes", "tasks"),
        "authByPlan": {"default": _OAUTH2_PLAN},
    },
    "dotloop": {
        "name": "dotloop",
        "entities": _entities("tms", "transactions", "documents"),
        "authByPlan": {"default": _OAUTH2_PLAN},
    },
    "skyslope": {
        "name": "SkySlope",
        "entities": _entities("tms", "transactions"),
        "authByPlan": {
            "default": _api_token_plan(("accessKey", "Access key"), ("accessSecret", "Secret"))
        },
    },
    "gmail": {
        "name": "Gmail",
        "entities": _entities("email", "emailMessages", "emailThreads"),
        "authByPlan": {"default": _OAUTH2_PLAN},
    },
}

_ICON_COLOURS = ("#4f46e5", "#0891b2", "#059669", "#d97706", "#dc2626", "#7c3aed", "#db2777")


def _icon_svg(app_key: str, name: str) -> str:
    initials = "".join(word[0] for word in name.split()[:2]).upper() or "?"
    colour = _ICON_COLOURS[sum(app_key.encode()) % len(_ICON_COLOURS)]
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64" viewBox="0 0 64 64">'
        f'<rect width="64" height="64" rx="14" fill="{colour}"/>'
        '<text x="32" y="41" font-family="Helvetica, Arial, sans-serif" font-size="24" '
        f'font-weight="700" fill="#fff" text-anchor="middle">{html.escape(initials)}</text></svg>'
    )


@dataclass(frozen=True)
class SeenRequest:
    """One request the stand-in answered."""

    method: str
    path: str
    query: str
    status: int
    token: str | None = field(default=None, repr=False)
    subject: str | None = None
    reason: Rejection | None = None
    headers: Headers = field(default_factory=Headers, repr=False, compare=False)

    def as_json(self) -> dict[str, Any]:
        """This record as JSON-ready values (headers left out)."""
        data = asdict(self)
        del data["headers"]
        data["reason"] = None if self.reason is None else self.reason.value
        data["rollout_user_agent"] = self.headers.get("x-rollout-user-agent")
        data["credential_id"] = self.headers.get(_CREDENTIAL_ID_HEADER)
        return data


class _Unauthorized(Exception):
    def __init__(self, reason: Rejection) -> None:
        super().__init__(reason.value)
        self.reason = reason


def _errors(status: int, message: str) -> JSONResponse:
    """An error in the credentials API's shape."""
    return JSONResponse({"errors": [{"message": message}]}, status_code=status)


def _error(request: Request, status: int, message: str) -> JSONResponse:
    """An error in the shape of the API ``request`` went to: the CRM's, or the credentials API's."""
    if request[_NOTE_KEY].get("crm"):
        return JSONResponse({"errorMessage": message}, status_code=status)
    return _errors(status, message)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


class RolloutAPIStandIn:
    """Rollout's API for one client id and secret, in memory. See the module docstring."""

    def __init__(
        self,
        client_id: str,
        client_secret: str | bytes,
        *,
        clock: Callable[[], float] = time.time,
        connectors: Mapping[str, Mapping[str, Any]] = DEFAULT_CONNECTORS,
        expose_controls: bool = False,
    ) -> None:
        if not client_id or not client_secret:
            raise ValueError("the stand-in needs a non-empty client id and client secret")
        self.client_id = client_id
        self._secret = client_secret
        self._clock = clock
        self._connectors = copy.deepcopy(dict(connectors))
        self._lock = threading.Lock()
        self._credentials: dict[str, list[dict[str, Any]]] = {}
        self._forced = 0
        self._forced_status: tuple[int, int, str | None] = (0, 0, None)  # status, n, Retry-After
        self._crm = CRM(self._credential_of, clock)
        #: Every request answered, oldest first.
        self.requests: list[SeenRequest] = []
        routes = [
            Route("/credentials", self._credentials_route, methods=["GET", "POST", "DELETE"]),
            Route("/connectors", self._list_connectors, methods=["GET"]),
            Route("/connectors/{app_key}/icon", self._icon, methods=["GET"]),
            Route("/oauth/authorize-url", self._oauth, methods=["POST"]),
            *self._crm.routes(),
        ]
        if expose_controls:
            routes += [
                Route(
                    _CONTROL_PREFIX + "requests", self._control_requests, methods=["GET", "DELETE"]
                ),
                Route(_CONTROL_PREFIX + "force-401", self._control_force_401, methods=["POST"]),
                Route(
                    _CONTROL_PREFIX + "force-status", self._control_force_status, methods=["POST"]
                ),
            ]
        self._app = Starlette(
            routes=routes,
            exception_handlers={
                _Unauthorized: self._unauthorized,
                HTTPException: self._http_error,
            },
        )

    def __repr__(self) -> str:
        return f"RolloutAPIStandIn(client_id={self.client_id!r})"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        note: dict[str, Any] = {}
        scope = {**scope, _NOTE_KEY: note}
        status = 500
        root_path = scope.get("root_path", "")
        path = scope["path"]
        if root_path and path.startswith(root_path):
            path = path[len(root_path) :]
        note["crm"] = any(path == p or path.startswith(p + "/") for p in CRM_PATHS)
        recorded = path.startswith(_CONTROL_PREFIX)  # the controls are never recorded

        async def send_noting_status(message: Message) -> None:
            nonlocal status, recorded
            if message["type"] == "http.response.start":
                status = message["status"]
            elif not recorded and not message.get("more_body", False):
                # Recorded before the client can see the answer, so a client that reads the
                # records right after it (another connection) always finds this request there.
                recorded = True
                self._record(scope, note, path, status)
            await send(message)

        try:
            await self._app(scope, receive, send_noting_status)
        finally:
            if not recorded:  # the app raised before it answered
                self._record(scope, note, path, status)

    def _record(self, scope: Scope, note: dict[str, Any], path: str, status: int) -> None:
        record = SeenRequest(
            method=scope["method"],
            path=path,
            query=scope.get("query_string", b"").decode("latin-1"),
            status=status,
            token=note.get("token"),
            subject=note.get("subject"),
            reason=note.get("reason"),
            headers=Headers(scope=scope),
        )
        with self._lock:
            self.requests.append(record)

    # -- controls -------------------------------------------------------------------------------

    def force_401(self, n: int = 1) -> None:
        """Answer the next ``n`` requests that carry a valid token with 401, as if it had expired."""
        if n < 0:
            raise ValueError("n must not be negative")
        with self._lock:
            self._forced = n

    @property
    def pending_forced_401(self) -> int:
        """How many forced 401s are still to be answered."""
        return self._forced

    def force_status(self, status: int, n: int = 1, *, retry_after: str | None = None) -> None:
        """Answer the next ``n`` requests that carry a valid token with ``status`` (not 401)."""
        if not 400 <= status <= 599 or status == 401:
            raise ValueError("status must be from 400 to 599, but not 401 (use force_401)")
        if n < 0:
            raise ValueError("n must not be negative")
        with self._lock:
            self._forced_status = (status, n, retry_after)

    @property
    def pending_forced_status(self) -> int:
        """How many forced statuses are still to be answered."""
        return self._forced_status[1]

    def clear_requests(self) -> None:
        """Forget the recorded requests."""
        with self._lock:
            self.requests.clear()

    def tokens_seen(self, subject: str | None = None) -> list[str]:
        """The distinct tokens sent so far (for ``subject`` only, if given), in first-seen order."""
        seen: dict[str, None] = {}
        for record in list(self.requests):
            if record.token and (subject is None or record.subject == subject):
                seen.setdefault(record.token, None)
        return list(seen)

    def add_credential(
        self,
        subject: str,
        app_key: str,
        *,
        label: str | None = None,
        avatar: str | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Give user ``subject`` a connected credential for connector ``app_key``; return it."""
        if app_key not in self._connectors:
            raise ValueError(f"unknown connector {app_key!r}")
        credential: dict[str, Any] = {
            "id": str(uuid.uuid4()),
            "createdAt": datetime.datetime.fromtimestamp(self._clock(), datetime.timezone.utc)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "appKey": app_key,
            "label": label if label is not None else self._connectors[app_key]["name"],
            "data": dict(data or {}),
        }
        if avatar is not None:
            credential["avatar"] = avatar
        with self._lock:
            self._credentials.setdefault(subject, []).append(credential)
        return copy.deepcopy(credential)

    def credentials_for(self, subject: str) -> list[dict[str, Any]]:
        """A copy of user ``subject``'s credentials."""
        with self._lock:
            return copy.deepcopy(self._credentials.get(subject, []))

    def people_for(self, credential_id: str) -> list[dict[str, Any]]:
        """A copy of the CRM people of credential ``credential_id``, oldest first."""
        return self._crm.people(credential_id)

    def webhooks_for(self, credential_id: str) -> list[dict[str, Any]]:
        """A copy of the CRM webhook subscriptions of credential ``credential_id``."""
        return self._crm.webhooks(credential_id)

    # -- token check ----------------------------------------------------------------------------

    def _authenticate(self, request: Request) -> str:
        """Return the ``sub`` of the request's valid token, or raise :class:`_Unauthorized`."""
        note: dict[str, Any] = request[_NOTE_KEY]
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise _Unauthorized(Rejection.MISSING)
        note["token"] = token
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=["HS512"],
                issuer=self.client_id,
                options={"require": _REQUIRED_CLAIMS, "verify_exp": False, "verify_iat": False},
            )
        except jwt.InvalidAlgorithmError:
            raise _Unauthorized(Rejection.ALGORITHM) from None
        except jwt.InvalidSignatureError:
            raise _Unauthorized(Rejection.SIGNATURE) from None
        except jwt.DecodeError:
            raise _Unauthorized(Rejection.MALFORMED) from None
        except jwt.MissingRequiredClaimError:
            raise _Unauthorized(Rejection.MISSING_CLAIM) from None
        except jwt.InvalidIssuerError:
            raise _Unauthorized(Rejection.ISSUER) from None
        except jwt.InvalidTokenError:
            raise _Unauthorized(Rejection.INVALID_CLAIM) from None
        if claims["sub"] == "":
            raise _Unauthorized(Rejection.MISSING_CLAIM)
        if not isinstance(claims["sub"], str):  # PyJWT 2.10+ checks this too
            raise _Unauthorized(Rejection.INVALID_CLAIM)
        if not _is_number(claims["exp"]) or not _is_number(claims["iat"]):
            raise _Unauthorized(Rejection.INVALID_CLAIM)
        now = self._clock()
        if claims["exp"] <= now:
            raise _Unauthorized(Rejection.EXPIRED)
        if claims["iat"] > now:
            raise _Unauthorized(Rejection.NOT_YET_VALID)
        with self._lock:
            forced = self._forced > 0
            if forced:
                self._forced -= 1
        if forced:
            raise _Unauthorized(Rejection.FORCED)
        subject: str = claims["sub"]
        note["subject"] = subject
        with self._lock:
            status, n, retry_after = self._forced_status
            if n > 0:
                self._forced_status = (status, n - 1, retry_after)
        if n > 0:
            message = _FORCED_MESSAGES.get(status, http.HTTPStatus(status).phrase)
            headers = None if retry_after is None else {"Retry-After": retry_after}
            raise HTTPException(status, message, headers=headers)
        return subject

    def _credential_of(self, request: Request) -> str:
        """Authenticate; return the id in ``X-Rollout-Credential-Id`` if it is the user's."""
        subject = self._authenticate(request)
        credential_id = request.headers.get(_CREDENTIAL_ID_HEADER, "").strip()
        if not credential_id:
            raise HTTPException(400, f"Missing header: {_CREDENTIAL_ID_HEADER}")
        if all(c["id"] != credential_id for c in self.credentials_for(subject)):
            raise HTTPException(404, "Credential not found")
        return credential_id

    async def _unauthorized(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, _Unauthorized)
        request[_NOTE_KEY]["reason"] = exc.reason
        response = _error(request, 401, _MESSAGES[exc.reason])
        response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
        return response

    async def _http_error(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        response = _error(request, exc.status_code, exc.detail)
        response.headers.update(exc.headers or {})
        return response

    # -- routes ---------------------------------------------------------------------------------

    async def _credentials_route(self, request: Request) -> Response:
        if request.method == "POST":
            return await self._create_credential(request)
        if request.method == "DELETE":
            return await self._delete_credential(request)
        return await self._list_credentials(request)

    async def _list_credentials(self, request: Request) -> Response:
        subject = self._authenticate(request)
        credentials = self.credentials_for(subject)
        if request.query_params.get("includeProfile", "").lower() != "true":
            credentials = [
                {key: c[key] for key in ("id", "createdAt", "appKey")} for c in credentials
            ]
        return JSONResponse(credentials)

    async def _create_credential(self, request: Request) -> Response:
        subject = self._authenticate(request)
        try:
            body = await request.json()
        except ValueError:
            return _errors(400, "The body must be JSON")
        app_key = body.get("appKey") if isinstance(body, dict) else None
        connector = self._connectors.get(app_key) if isinstance(app_key, str) else None
        if connector is None or not isinstance(app_key, str):
            return _errors(400, f"Unknown connector: {app_key!r}")
        plan_name = body.get("plan") or next(iter(connector["authByPlan"]))
        plan = connector["authByPlan"].get(plan_name)
        if plan is None or plan["type"] != "apiToken":
            return _errors(400, f"{connector['name']} connects with OAuth, not simulated here")
        inputs = body.get("userInputs")
        keys = [item["key"] for item in plan["userInputsSchema"]]
        if not isinstance(inputs, dict) or any(
            not isinstance(inputs.get(key), str) or not inputs[key].strip() for key in keys
        ):
            return _errors(400, "Please fill in: " + ", ".join(keys))
        credential = self.add_credential(
            subject, app_key, label=f"{connector['name']} key ending {inputs[keys[0]].strip()[-4:]}"
        )
        return JSONResponse(credential)

    async def _delete_credential(self, request: Request) -> Response:
        subject = self._authenticate(request)
        credential_id = request.query_params.get("credentialId")
        if not credential_id:
            return _errors(400, "Missing query parameter: credentialId")
        with self._lock:
            owned = self._credentials.get(subject, [])
            kept = [c for c in owned if c["id"] != credential_id]
            if len(kept) == len(owned):
                return _errors(404, "Credential not found")
            self._credentials[subject] = kept
        return Response(status_code=204)

    async def _list_connectors(self, request: Request) -> Response:
        self._authenticate(request)
        return JSONResponse(self._connectors)

    async def _icon(self, request: Request) -> Response:
        app_key = request.path_params["app_key"]
        connector = self._connectors.get(app_key)
        if connector is None:
            return _errors(404, "Connector not found")
        return Response(
            _icon_svg(app_key, connector["name"]),
            media_type="image/svg+xml",
            headers={"Cache-Control": "public, max-age=3600"},
        )

    async def _oauth(self, request: Request) -> Response:
        self._authenticate(request)
        return _errors(501, "OAuth is not simulated by the Rollout API stand-in")

    async def _control_requests(self, request: Request) -> Response:
        if request.method == "DELETE":
            self.clear_requests()
            return Response(status_code=204)
        return JSONResponse([record.as_json() for record in list(self.requests)])

    async def _control_force_401(self, request: Request) -> Response:
        try:
            n = int(request.query_params.get("n", "1"))
            self.force_401(n)
        except ValueError:
            return _errors(400, "n must be a whole number, 0 or more")
        return JSONResponse({"pending": n})

    async def _control_force_status(self, request: Request) -> Response:
        query = request.query_params
        try:
            n = int(query.get("n", "1"))
            self.force_status(int(query.get("status", "")), n, retry_after=query.get("retry_after"))
        except ValueError as exc:
            return _errors(400, f"status and n: {exc}")
        return JSONResponse({"pending": n})
