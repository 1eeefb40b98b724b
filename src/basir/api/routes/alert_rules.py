"""`/api/v1/alerts/rules`: the user alert rules (YAML or JSON), listed, put and deleted."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel
from starlette.responses import Response

from basir.api.deps import Caller, Reader, allow, json_response
from basir.api.problems import problem_responses
from basir.api.routes.workflows import JSON_TYPES, YAML_TYPES
from basir.errors import BasirError
from basir.i18n import _
from basir.monitoring.rule_runner import RuleRunner, rule_not_found
from basir.monitoring.rule_spec import MAX_RULE_FILE_BYTES, NAME_PATTERN, parse_yaml, validate_rule
from basir.security.auth import Permission

router = APIRouter(prefix="/api/v1", tags=["alerts"], responses=problem_responses(401, 403))

Admin = Annotated[Caller, Depends(allow(Permission.ADMIN))]
RuleName = Annotated[str, Path(pattern=NAME_PATTERN, max_length=63)]

_RULE_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/yaml": {"schema": {"type": "string", "description": "one alert rule"}},
            "application/json": {"schema": {"type": "object", "description": "one alert rule"}},
        },
    }
}


class RuleView(BaseModel):
    """A rule as written, plus where it comes from (`file` or `api`)."""

    name: str
    source: str
    rule: dict[str, Any]


class RuleList(BaseModel):
    """Every rule in force: the rules file's, then the API's, each by name."""

    items: list[RuleView]


def _runner(caller: Caller) -> RuleRunner:
    runner = caller.ctx.alerts.rule_runner
    assert runner is not None  # create_app always gives the alerting its rules
    return runner


def rule_view(runner: RuleRunner, name: str) -> dict[str, Any]:
    """The public shape of one rule."""
    rule = next(r for r in runner.rules() if r.name == name)
    return {"name": name, "source": runner.source_of(name), "rule": rule.to_doc()}


async def _body(request: Request) -> object:
    """The request's one rule as plain data, from YAML or JSON."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    raw = await request.body()
    if len(raw) > MAX_RULE_FILE_BYTES:
        raise BasirError(
            "request.too_large", _("at most {n} bytes", n=MAX_RULE_FILE_BYTES), kind="limit"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise BasirError("request.malformed", _("the body is not UTF-8 text")) from error
    if content_type in YAML_TYPES:
        return parse_yaml(text, "body")
    if content_type in JSON_TYPES or content_type.endswith("+json"):
        try:
            return json.loads(text)
        except ValueError as error:
            raise BasirError("request.malformed", _("the body is not valid JSON")) from error
    raise BasirError(
        "request.unsupported_media_type",
        _("send the rule as application/yaml or application/json"),
        details=[{"field": "header.content-type", "message": _("unsupported media type")}],
    )


@router.get("/alerts/rules", response_model=RuleList, summary="Alert rules in force")
async def list_rules(caller: Reader) -> Response:
    """The rules file's rules, then the API's, each by name."""
    runner = _runner(caller)
    return json_response({"items": [rule_view(runner, r.name) for r in runner.rules()]})


@router.get(
    "/alerts/rules/{name}",
    response_model=RuleView,
    responses=problem_responses(404, 422),
    summary="One alert rule",
)
async def get_rule(name: RuleName, caller: Reader) -> Response:
    """The rule named `name`."""
    runner = _runner(caller)
    if all(r.name != name for r in runner.rules()):
        raise rule_not_found(name)
    return json_response(rule_view(runner, name))


@router.post(
    "/alerts/rules",
    status_code=201,
    response_model=RuleView,
    openapi_extra=_RULE_BODY,
    responses={
        200: {"model": RuleView, "description": "replaced a rule of the same name"},
        **problem_responses(400, 409, 413, 415, 422),
    },
    summary="Create (201) or replace (200) an alert rule, in YAML or JSON",
)
async def put_rule(request: Request, caller: Admin) -> Response:
    """Validate one rule and store it; it is evaluated from the next pass on."""
    rule = validate_rule(await _body(request))
    runner = _runner(caller)
    created = await runner.put(rule)
    return json_response(rule_view(runner, rule.name), 201 if created else 200)


@router.delete(
    "/alerts/rules/{name}",
    status_code=204,
    responses=problem_responses(404, 409, 422),
    summary="Delete an alert rule (its firing alerts resolve)",
)
async def delete_rule(name: RuleName, caller: Admin) -> Response:
    """Delete an API rule; rules of the rules file are changed in the file."""
    await _runner(caller).delete(name)
    return Response(status_code=204)
