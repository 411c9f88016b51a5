"""A stand-in for Rollout's API, for integration tests and demos.

:class:`RolloutAPIStandIn` is a small ASGI app (built on Starlette) that checks Bearer tokens the way
Rollout's API does, and answers the calls Rollout's front-end client (``@rollout/link-react``) makes,
from an in-memory store per user. Mount it where the client's ``apiBaseUrl`` points::

    from starlette.routing import Mount
    from rollout_middleware.testing import RolloutAPIStandIn

    stand_in = RolloutAPIStandIn(client_id, client_secret)
    stand_in.add_credential("user-1", "follow-up-boss", label="Ada's Follow Up Boss")
    routes = [..., Mount("/rollout-api", app=stand_in)]

A token is accepted only if it is a JWT signed with HS512 and the client secret, its ``iss`` is the
client id, it has ``sub``, ``iat`` and ``exp``, ``exp`` is in the future and ``iat`` is not. PyJWT checks
the format, algorithm, signature, issuer and presence of the claims; ``exp`` and ``iat`` are compared
with the stand-in's ``clock`` (PyJWT has no clock to inject), so a test can move time. Anything else is
answered ``401 {"errors": [{"message": ...}]}``, Rollout's error shape, and recorded with a
:class:`Rejection` reason.

Routes, relative to the mount point:

- ``GET /credentials[?includeProfile=true]``: the token's user's credentials, a JSON array of
  ``{id, createdAt, appKey}``, plus ``label``, ``avatar`` and ``data`` with ``includeProfile=true``;
- ``POST /credentials``: connects an ``apiToken`` connector from ``{appKey, userInputs}``;
- ``DELETE /credentials?credentialId=...``: deletes one (``204``);
- ``GET /connectors``: the connector catalogue, keyed by app key;
- ``GET /connectors/{appKey}/icon``: an SVG icon. Like Rollout's, it needs no token: the client
  loads it with a plain ``<img src>``;
- ``POST /oauth/authorize-url``: ``501``, OAuth is not simulated;
- the CRM's ``GET``/``POST /people``, ``GET``/``POST /webhooks`` and ``GET``/``DELETE
  /webhooks/{id}``, per credential named by ``X-Rollout-Credential-Id``. Lists are paged as Rollout
  pages them (``limit``, ``offset``, ``next``; ``_metadata``); errors take the CRM's shape,
  ``{"errorMessage": ...}``.

Every request is recorded in :attr:`RolloutAPIStandIn.requests` (token, subject, status, reason), and
:meth:`RolloutAPIStandIn.force_401` makes the next requests with a valid token answer 401, as if the
token had expired: Rollout's client then fetches a new token and retries.
:meth:`RolloutAPIStandIn.force_status` makes them answer another status (429, 409, 5xx).

With ``expose_controls=True`` the same controls are reachable over HTTP, for tests that drive the
stand-in inside another process (a real server, a browser): ``GET /_stand-in/requests``,
``DELETE /_stand-in/requests``, ``POST /_stand-in/force-401?n=1`` and
``POST /_stand-in/force-status?status=429&n=1[&retry_after=2]``. Never expose them in production.
"""

from ._stand_in import (
    DATA_NOT_READY_MESSAGE,
    DEFAULT_CONNECTORS,
    Rejection,
    RolloutAPIStandIn,
    SeenRequest,
)

__all__ = [
    "DATA_NOT_READY_MESSAGE",
    "DEFAULT_CONNECTORS",
    "Rejection",
    "RolloutAPIStandIn",
    "SeenRequest",
]
