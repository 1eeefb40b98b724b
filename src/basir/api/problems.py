"""RFC 9457 problem+json for every error the API returns, with stable codes, localised.

Every failure path — a `BasirError` from a service, a FastAPI validation error, a routing
404/405, a lost store race, an unexpected exception — ends in `problem_response`, so clients
see one shape: `{type, title, status, detail, code, instance, errors: [{field, message}]}`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from basir.errors import BasirError
from basir.i18n import _, negotiate, ngettext, use_locale
from basir.spec.pydantic_messages import error_message
from basir.store.base import ConflictError as StoreConflictError

PROBLEM_MEDIA_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:basir:problem:"
log = logging.getLogger("basir.api")

STATUS_BY_KIND = {
    "invalid": 422,
    "not_found": 404,
    "conflict": 409,
    "forbidden": 403,
    "unauthorized": 401,
    "limit": 413,
}
# Codes whose status is more specific than their kind's.
STATUS_BY_CODE = {
    "request.unsupported_media_type": 415,
    "request.malformed": 400,
    "request.invalid_cursor": 400,
    "quota.exceeded": 429,
}
CODE_BY_STATUS = {
    400: "request.malformed",
    401: "auth.unauthorized",
    403: "auth.forbidden",
    404: "route.not_found",
    405: "method.not_allowed",
    406: "request.not_acceptable",
    409: "state.conflict",
    413: "request.too_large",
    415: "request.unsupported_media_type",
    422: "request.invalid",
    500: "internal.error",
    503: "service.unavailable",
}


class ProblemItem(BaseModel):
    """One problem with one field of the request."""

    field: str = Field(description="where: body.params.branch, query.limit, tasks[2].needs …")
    message: str
    code: str | None = Field(None, description="a finer code, e.g. spec.unknown_need")
    line: int | None = None
    col: int | None = None


class Problem(BaseModel):
    """An RFC 9457 problem document."""

    type: str
    title: str
    status: int
    detail: str
    code: str = Field(description="stable machine-readable code, e.g. run.not_found")
    instance: str
    errors: list[ProblemItem] = Field(default_factory=list)


def title_for(status: int) -> str:
    """A short localised title for an HTTP status."""
    titles = {
        400: _("Bad request"),
        401: _("Authentication required"),
        403: _("Forbidden"),
        404: _("Not found"),
        405: _("Method not allowed"),
        409: _("Conflict"),
        413: _("Request too large"),
        415: _("Unsupported media type"),
        422: _("Invalid input"),
        500: _("Internal error"),
        503: _("Service unavailable"),
    }
    return titles.get(status, _("Error"))


def problem_body(
    status: int,
    code: str,
    detail: str,
    instance: str,
    errors: Sequence[dict[str, Any]] = (),
) -> bytes:
    """The serialised problem document."""
    document = {
        "type": TYPE_PREFIX + code,
        "title": title_for(status),
        "status": status,
        "detail": detail,
        "code": code,
        "instance": instance,
        "errors": [_clean_item(item) for item in errors],
    }
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _clean_item(item: dict[str, Any]) -> dict[str, Any]:
    clean: dict[str, Any] = {
        "field": str(item.get("field") or ""),
        "message": str(item.get("message") or ""),
    }
    for key in ("line", "col"):
        if isinstance(item.get(key), int):
            clean[key] = item[key]
    if isinstance(item.get("code"), str):
        clean["code"] = item["code"]
    return clean


def problem_response(
    status: int,
    code: str,
    detail: str,
    instance: str,
    errors: Sequence[dict[str, Any]] = (),
    headers: dict[str, str] | None = None,
) -> Response:
    """A problem+json response."""
    body = problem_body(status, code, detail, instance, errors)
    return Response(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def _instance(request: Request) -> str:
    return request.url.path


async def basir_error_handler(request: Request, exc: Exception) -> Response:
    """A service's `BasirError` → its kind's status and its own code and message."""
    assert isinstance(exc, BasirError)
    status = STATUS_BY_CODE.get(exc.code) or STATUS_BY_KIND.get(exc.kind, 400)
    headers = {"WWW-Authenticate": 'Bearer realm="basir"'} if status == 401 else None
    return problem_response(
        status, exc.code, exc.message, _instance(request), exc.details, headers=headers
    )


def field_path(loc: Sequence[Any]) -> str:
    """`("body", "tasks", 2, "needs")` → `body.tasks[2].needs`."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


def validation_items(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """Pydantic errors → `[{field, message}]`, localised."""
    return [
        {"field": field_path(error.get("loc", ())), "message": error_message(error)}
        for error in errors
    ]


async def validation_error_handler(request: Request, exc: Exception) -> Response:
    """FastAPI's request validation → 422 `request.invalid` with a field path per problem."""
    assert isinstance(exc, RequestValidationError)
    items = validation_items(exc.errors())
    detail = ngettext(
        "the request has {count} invalid field",
        "the request has {count} invalid fields",
        len(items),
    )
    return problem_response(422, "request.invalid", detail, _instance(request), items)


async def http_error_handler(request: Request, exc: Exception) -> Response:
    """Routing 404/405 and other Starlette HTTP errors → problem+json."""
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    code = CODE_BY_STATUS.get(status, f"http.{status}")
    details = {
        404: _("there is nothing at {path}", path=request.url.path),
        405: _("{method} is not allowed on {path}", method=request.method, path=request.url.path),
        400: _("the request could not be read"),
    }
    detail = details.get(status) or title_for(status)
    headers = dict(exc.headers or {})
    return problem_response(status, code, detail, _instance(request), headers=headers or None)


async def store_conflict_handler(request: Request, exc: Exception) -> Response:
    """A guarded store write lost a race: the caller may retry."""
    return problem_response(
        409,
        "state.conflict",
        _("the target changed while your request was applied; try again"),
        _instance(request),
    )


async def internal_error_handler(request: Request, exc: Exception) -> Response:
    """Anything unexpected → 500 with no internals leaked (the exception is logged).

    Starlette runs this handler outermost, after the locale middleware has exited, so the
    locale is negotiated again here.
    """
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    with use_locale(negotiate(request.headers.get("accept-language"))):
        return problem_response(
            500,
            "internal.error",
            _("an internal error occurred; it has been logged"),
            _instance(request),
        )


def install(app: FastAPI) -> None:
    """Register every problem+json handler on an app."""
    app.add_exception_handler(BasirError, basir_error_handler)
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    app.add_exception_handler(StarletteHTTPException, http_error_handler)
    app.add_exception_handler(StoreConflictError, store_conflict_handler)
    app.add_exception_handler(Exception, internal_error_handler)


def problem_schemas() -> dict[str, Any]:
    """JSON schemas of `Problem` and `ProblemItem` for the OpenAPI components."""
    schema = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    definitions: dict[str, Any] = schema.pop("$defs", {})
    return {"Problem": schema, **definitions}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries documenting problem+json for the given statuses."""
    return {
        status: {
            "description": CODE_BY_STATUS.get(status, "error"),
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in statuses
    }
