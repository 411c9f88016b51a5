"""FastAPI: :func:`rollout_token_router`, the token route for the user a FastAPI dependency names."""

from __future__ import annotations

import inspect
import typing
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator, Sequence
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any, ClassVar
from uuid import UUID

from fastapi import APIRouter, BackgroundTasks, Depends, Request, Response, params
from fastapi.datastructures import Default
from fastapi.routing import APIRoute
from fastapi.security import SecurityScopes
from fastapi.security.base import SecurityBase
from fastapi.utils import generate_unique_id
from pydantic import BaseModel, Field
from pydantic.fields import FieldInfo
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, HTTPConnection

from .. import _config
from .._config import DEFAULT_PATH, AnswerOptions, check_path
from .._sync import is_async_callable
from ..decision import Answer, TokenDecision, add_cors
from ..errors import ConfigurationError
from ._callables import callable_name, check_user_id_return

if TYPE_CHECKING:
    from starlette.types import Scope
    from typing_extensions import Unpack

__all__ = [
    "HTTPErrorDetail",
    "RolloutToken",
    "RolloutTokenProblem",
    "UserId",
    "UserIdDependency",
    "rollout_token_router",
]

_OWNER = "rollout_token_router"

#: What a ``user_id`` dependency gives: the user's id, or ``None`` for nobody.
UserId = str | int | UUID | None
#: A ``user_id`` dependency: a function or callable object, sync or async, or a generator with one
#: ``yield``, that gives a :data:`UserId`. Type checkers refuse one that returns the ``User``.
UserIdDependency = Callable[
    ..., UserId | Awaitable[UserId] | Iterator[UserId] | AsyncIterator[UserId]
]

#: Options of the ASGI middleware that have no meaning here, and why.
_NOT_TAKEN = {
    "resolve_user": "the user comes from user_id, a FastAPI dependency (the first argument)",
    "resolver_timeout": (
        "the user dependency runs under FastAPI, which cannot abandon it; bound what it waits on "
        "(a database timeout) instead"
    ),
    "thread_sensitive": "FastAPI runs sync dependencies in its own thread pool",
}

#: Methods that go into the OpenAPI schema when they serve tokens.
_DOCUMENTED_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})
#: HTTP's methods (RFC 9110, and PATCH): the route answers each of them, those that serve no token
#: with the decision's 405 or preflight. Another method gets FastAPI's own 405.
_HTTP_METHODS = _DOCUMENTED_METHODS | {"HEAD", "OPTIONS", "TRACE", "CONNECT"}

#: Parameter types FastAPI fills from the request itself, never from the client's query or body.
_INJECTED = (HTTPConnection, Response, BackgroundTasks, SecurityScopes)


class RolloutToken(BaseModel):
    """The token answer (``200``), as the front end's fetch function reads it."""

    token: str = Field(
        description="The Rollout auth token for the logged-in user: an HS512 JWT, fresh on every "
        "request."
    )
    expires_at: int = Field(description="When the token expires, in seconds since the Unix epoch.")
    expires_in: int = Field(description="Seconds from now until the token expires.")


class RolloutTokenProblem(BaseModel):
    """An RFC 9457 problem (``application/problem+json``): every error the token route answers
    itself. It never says more than the status does."""

    type: str = Field(examples=["about:blank"])
    title: str
    status: int
    detail: str


class HTTPErrorDetail(BaseModel):
    """FastAPI's rendering of an ``HTTPException`` (``application/json``): what the app's own
    dependencies answer, such as ``OAuth2PasswordBearer``'s ``401``."""

    detail: Any


#: The errors the token route answers itself, as problem JSON.
_ERRORS = {
    401: (
        "Nobody is logged in: problem JSON when the user dependency returned None; the app's "
        'rendering ({"detail": ...}) when a dependency raised an HTTPException.'
    ),
    403: (
        "Problem JSON for a cross-site request from an origin not in allowed_origins, refused "
        'before the user dependency runs; {"detail": ...} when a dependency refused the user.'
    ),
    405: "A method that serves no token on this path, with Allow.",
    413: "A request body larger than max_body_size.",
    500: "The user dependency failed, or returned something that is not a user id (logged).",
    503: "The Rollout credentials are not set on this server (logged).",
}


def _responses() -> dict[int | str, dict[str, Any]]:
    """The token route's answers, each under the media type it is sent with."""
    problem = {"schema": {"$ref": "#/components/schemas/RolloutTokenProblem"}}
    responses: dict[int | str, dict[str, Any]] = {
        200: {"model": RolloutToken, "description": "A fresh token, minted for this request."}
    }
    for status, description in _ERRORS.items():
        content = {"application/problem+json": dict(problem)}
        responses[status] = {"description": description, "content": content}
        if status in (401, 403):  # the app's dependencies answer these too (an HTTPException)
            responses[status]["model"] = HTTPErrorDetail
    return responses


_REQUEST_KEY = "rollout_middleware.request"


class _TokenRoute(APIRoute):
    """A FastAPI route whose handler asks the decision for an early answer first."""

    decision: ClassVar[TokenDecision]

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        solve_and_run = super().get_route_handler()
        decision = self.decision

        async def rollout_token_route(request: Request) -> Response:
            client = request.client
            token_request = decision.request(
                request.method,
                request.headers.items(),
                path=request.scope["path"],
                client=client.host if client else None,
                content_length=request.headers.get("content-length"),
            )
            chunks: list[bytes] = []

            async def kept() -> AsyncIterator[bytes]:
                async for chunk in request.stream():
                    chunks.append(chunk)
                    yield chunk

            try:  # the body, at most max_body_size bytes, kept for the dependencies
                answer = decision.precheck(token_request) or await decision.check_body_async(
                    token_request, kept()
                )
            except ClientDisconnect:  # gone while sending the body: nobody reads this
                return Response(status_code=400)
            if answer is not None:
                return _response(answer)
            request._body = b"".join(chunks)  # where Request.body() keeps it
            request.scope[_REQUEST_KEY] = token_request
            try:
                return await solve_and_run(request)
            except Exception as exc:
                handler = _app_handler(request.scope, exc)
                if handler is None and not isinstance(exc, HTTPException):
                    return _response(decision.failed(token_request))
                if handler is None or not token_request.cors:
                    raise  # the app renders it, as for any other route
                # The app's own answer, with the CORS headers of an allowed origin.
                if is_async_callable(handler):
                    response: Response = await handler(request, exc)
                else:
                    response = await run_in_threadpool(handler, request, exc)
                add_cors(response.headers, token_request.cors)
                return response

        return rollout_token_route


def _app_handler(scope: Scope, exc: Exception) -> Callable[..., Any] | None:
    """The app's exception handler for ``exc``, found as Starlette finds it, or ``None``."""
    handlers: dict[Any, Callable[..., Any]]
    handlers, status_handlers = scope.get("starlette.exception_handlers", ({}, {}))
    if isinstance(exc, HTTPException) and exc.status_code in status_handlers:
        return status_handlers[exc.status_code]  # type: ignore[no-any-return]
    return next((handlers[cls] for cls in type(exc).__mro__ if cls in handlers), None)


def _response(answer: Answer) -> Response:
    """The decision's answer as a Starlette response, headers as they are (no added type)."""
    response = Response(answer.body, status_code=answer.status)
    response.raw_headers = list(answer.raw_headers)
    return response


_MARKERS = (params.Depends, FieldInfo)  # Depends/Security, and Header(), Cookie(), Query(), ...
_UNRESOLVED = object()


def _resolve(annotation: Any, globalns: dict[str, Any]) -> Any:
    """A string annotation evaluated as FastAPI evaluates it: in the dependency's module globals."""
    if not isinstance(annotation, str):
        return annotation
    try:
        return eval(annotation, dict(globalns))  # noqa: S307 - the app's own annotation
    except Exception:
        return _UNRESOLVED


def _declared(parameter: inspect.Parameter, globalns: dict[str, Any]) -> bool:
    """Whether FastAPI fills ``parameter`` from something the app declared, not the query/body."""
    if isinstance(parameter.default, _MARKERS):
        return True
    annotation = _resolve(parameter.annotation, globalns)
    if typing.get_origin(annotation) is Annotated:
        if any(isinstance(meta, _MARKERS) for meta in annotation.__metadata__):
            return True
        annotation = typing.get_args(annotation)[0]
    return isinstance(annotation, type) and issubclass(annotation, _INJECTED)


def _check_parameters(call: Callable[..., Any]) -> None:
    """Refuse a dependency FastAPI would feed from the query string or the body."""
    try:
        signature = inspect.signature(call, eval_str=True)
    except (TypeError, ValueError):  # no signature to read: FastAPI will judge it
        return
    except Exception:  # FastAPI then resolves each annotation on its own
        signature = inspect.signature(call)
    globalns = getattr(inspect.unwrap(call), "__globals__", {})
    for parameter in signature.parameters.values():
        if _declared(parameter, globalns):
            continue
        if parameter.name in ("scope", "environ"):
            hint = (
                " This looks like a resolve_user for RolloutTokenMiddleware; "
                "rollout_token_router takes a FastAPI dependency instead."
            )
        elif parameter.name == "request":
            hint = " Annotate it: request: Request."
        elif _resolve(parameter.annotation, globalns) is _UNRESOLVED:
            hint = (
                f" Its annotation {parameter.annotation!r} names something FastAPI cannot find "
                "in the module's globals, where it resolves string annotations (from __future__ "
                "import annotations): define the dependency, and what it names, at module level."
            )
        else:
            hint = ""
        raise ConfigurationError(
            f"user_id {callable_name(call)}: FastAPI would fill its parameter {parameter.name!r} "
            "from the query string or the request body, which the client chooses. A user id "
            "dependency takes what proves who the user is: Depends(...) or Security(...), "
            f"Header(), Cookie(), or request: Request.{hint}"
        )


def _user_dependency(user_id: object) -> params.Depends:
    """``user_id`` checked, as the ``Depends`` the token endpoint declares."""
    # Depends(...) or Security(..., scopes=[...]) as given; a bare dependency goes in Depends().
    declared = user_id if isinstance(user_id, params.Depends) else None
    call = user_id if declared is None else declared.dependency
    if declared is not None and call is None:
        raise ConfigurationError(
            "user_id: Depends() without a dependency has nothing to call; give "
            "Depends(current_user_id)"
        )
    if isinstance(call, SecurityBase):
        raise ConfigurationError(
            f"user_id {callable_name(type(call))} is a security scheme: it gives the credentials "
            "the client sent, not the user they prove. Give a dependency that checks them and "
            "returns the user id, such as current_user_id(user = Depends(get_current_user))."
        )
    if not callable(call):
        raise ConfigurationError(
            "user_id must be a FastAPI dependency (a function or a callable object) that returns "
            f"the user id or None, got {type(call).__name__}"
        )
    _check_parameters(call)
    check_user_id_return(call)
    return declared if declared is not None else Depends(call)


def rollout_token_router(
    user_id: UserIdDependency | params.Depends,
    *,
    path: str = DEFAULT_PATH,
    tags: list[str | Enum] | None = None,
    dependencies: Sequence[params.Depends] | None = None,
    responses: dict[int | str, dict[str, Any]] | None = None,
    deprecated: bool | None = None,
    include_in_schema: bool = True,
    generate_unique_id_function: Callable[[APIRoute], str] | None = None,
    **options: Unpack[AnswerOptions],
) -> APIRouter:
    """An ``APIRouter`` serving Rollout tokens at ``path`` for the user ``user_id`` names."""
    for name in options:
        if name in _NOT_TAKEN:
            raise TypeError(
                f"{_OWNER}() got an unexpected keyword argument {name!r}: {_NOT_TAKEN[name]}"
            )
    settings = _config.build(_OWNER, options)
    path = check_path(path)
    dependency = _user_dependency(user_id)
    token_decision = TokenDecision(settings)

    router = APIRouter(
        route_class=type("RolloutTokenRoute", (_TokenRoute,), {"decision": token_decision}),
        tags=tags,
        dependencies=dependencies,
        responses=responses,
        deprecated=deprecated,
        include_in_schema=include_in_schema,
        generate_unique_id_function=generate_unique_id_function or Default(generate_unique_id),
    )

    # FastAPI reads this signature, resolved in this module's globals.
    async def rollout_token(request: Request, user_id: Any = dependency) -> Response:
        return _response(await token_decision.respond_async(request.scope[_REQUEST_KEY], user_id))

    documented = sorted(settings.methods & _DOCUMENTED_METHODS)
    hidden = sorted((settings.methods | _HTTP_METHODS) - set(documented))
    try:
        if documented:
            router.add_api_route(
                path,
                rollout_token,
                methods=documented,
                name="rollout_token",
                # The problem's schema, once, in components; no content of its own (Response
                # has no media type): each answer's content is in responses.
                response_model=RolloutTokenProblem,
                response_class=Response,
                responses=_responses(),
                summary="Get a Rollout token",
                description=(
                    "A fresh Rollout auth token for the logged-in user, for Rollout's front-end "
                    "components. Every answer says `Cache-Control: no-store`."
                ),
            )
        router.add_api_route(
            path, rollout_token, methods=hidden, name="rollout_token", include_in_schema=False
        )
    except Exception as exc:  # FastAPI's own verdict on the dependency's parameters
        raise ConfigurationError(
            f"user_id {callable_name(dependency.dependency)}: FastAPI cannot use it as a "
            f"dependency: {exc}"
        ) from exc
    return router
