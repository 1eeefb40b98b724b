"""`/openapi.json` documents every route under its full path, errors as problem+json."""

from __future__ import annotations

import httpx
from fastapi.routing import APIRoute

from basir.api.routes import (
    alert_rules,
    alerts,
    audit,
    dashboards,
    decisions,
    events,
    export,
    health,
    log_search,
    monitoring,
    queues,
    report_schedules,
    resource_policies,
    resources,
    runs,
    schedules,
    tasks,
    workflows,
)

EXPECTED = {
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("POST", "/api/v1/workflows"),
    ("GET", "/api/v1/workflows"),
    ("GET", "/api/v1/workflows/{name}"),
    ("GET", "/api/v1/workflows/{name}/versions"),
    ("GET", "/api/v1/workflows/{name}/versions/{version}"),
    ("POST", "/api/v1/workflows/{name}/runs"),
    ("GET", "/api/v1/runs"),
    ("GET", "/api/v1/runs/{run_id}"),
    ("PATCH", "/api/v1/runs/{run_id}"),
    ("POST", "/api/v1/runs/{run_id}/pause"),
    ("POST", "/api/v1/runs/{run_id}/resume"),
    ("POST", "/api/v1/runs/{run_id}/cancel"),
    ("POST", "/api/v1/runs/{run_id}/retry"),
    ("POST", "/api/v1/runs/{run_id}/tasks/{task_id}/pause"),
    ("POST", "/api/v1/runs/{run_id}/tasks/{task_id}/resume"),
    ("GET", "/api/v1/runs/{run_id}/tasks/{task_id}/logs"),
    ("GET", "/api/v1/runs/{run_id}/tasks/{task_id}/logs/stream"),
    ("GET", "/api/v1/events"),
    ("GET", "/api/v1/events/history"),
    ("POST", "/api/v1/decisions"),
    ("GET", "/api/v1/decisions/{decision_id}"),
    ("GET", "/api/v1/metrics"),
    ("GET", "/api/v1/metrics/query"),
    ("GET", "/api/v1/reports/performance"),
    ("GET", "/api/v1/reports/schedules"),
    ("POST", "/api/v1/reports/schedules"),
    ("DELETE", "/api/v1/reports/schedules/{name}"),
    ("GET", "/api/v1/health"),
    ("GET", "/api/v1/export/{what}"),
    ("GET", "/api/v1/logs/search"),
    ("GET", "/api/v1/notifications/routes"),
    ("POST", "/api/v1/notifications/routes"),
    ("GET", "/api/v1/alerts"),
    ("POST", "/api/v1/alerts/{alert_id}/ack"),
    ("GET", "/api/v1/alerts/silences"),
    ("GET", "/api/v1/alerts/rules"),
    ("POST", "/api/v1/alerts/rules"),
    ("GET", "/api/v1/alerts/rules/{name}"),
    ("DELETE", "/api/v1/alerts/rules/{name}"),
    ("POST", "/api/v1/alerts/silences"),
    ("GET", "/api/v1/audit"),
    ("GET", "/api/v1/audit/verify"),
    ("GET", "/api/v1/schedules"),
    ("GET", "/api/v1/schedules/{name}/next"),
    ("POST", "/api/v1/schedules/{name}/pause"),
    ("POST", "/api/v1/schedules/{name}/resume"),
    ("POST", "/api/v1/schedules/{name}/backfill"),
    ("GET", "/api/v1/scheduler/analytics"),
    ("GET", "/api/v1/queues"),
    ("PUT", "/api/v1/queues/{name}"),
    ("GET", "/api/v1/resources"),
    ("PUT", "/api/v1/resources/pools/{name}"),
    ("GET", "/api/v1/resources/analytics"),
    ("GET", "/api/v1/resources/recommendations"),
    ("GET", "/api/v1/resources/forecast"),
    ("POST", "/api/v1/resources/reservations"),
    ("GET", "/api/v1/resources/reservations"),
    ("DELETE", "/api/v1/resources/reservations/{reservation_id}"),
    ("GET", "/api/v1/resources/quotas"),
    ("GET", "/api/v1/resources/quotas/{namespace}"),
    ("PUT", "/api/v1/resources/quotas/{namespace}"),
    ("GET", "/api/v1/dashboards"),
    ("POST", "/api/v1/dashboards"),
    ("POST", "/api/v1/dashboards/import"),
    ("GET", "/api/v1/dashboards/{board_id}"),
    ("PUT", "/api/v1/dashboards/{board_id}"),
    ("DELETE", "/api/v1/dashboards/{board_id}"),
    ("GET", "/api/v1/dashboards/{board_id}/export"),
}


async def test_every_route_is_documented_under_its_full_path(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    documented = {(method.upper(), path) for path, ops in schema["paths"].items() for method in ops}
    assert documented == EXPECTED
    routed = {
        (method, route.path)
        for module in (
            alert_rules,
            alerts,
            dashboards,
            audit,
            decisions,
            events,
            export,
            health,
            log_search,
            monitoring,
            report_schedules,
            queues,
            resource_policies,
            resources,
            runs,
            schedules,
            tasks,
            workflows,
        )
        for route in module.router.routes
        if isinstance(route, APIRoute)
        for method in route.methods
    }
    assert routed == EXPECTED


async def test_api_operations_require_bearer_and_document_problems(
    client: httpx.AsyncClient,
) -> None:
    schema = (await client.get("/openapi.json")).json()
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    problem = schema["components"]["schemas"]["Problem"]
    assert set(problem["required"]) >= {"type", "title", "status", "detail", "code", "instance"}
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            for status, response in responses.items():
                if status.startswith(("4", "5")):
                    assert list(response["content"]) == ["application/problem+json"], (path, status)
            if path.startswith("/api/v1"):
                assert operation["security"] == [{"HTTPBearer": []}]
                assert {"401", "403"} <= set(responses), path
            if method in ("post", "patch"):
                assert {"400", "413"} <= set(responses), path
    assert "HTTPValidationError" not in schema["components"]["schemas"]


async def test_workflow_body_is_yaml_or_json(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    body = schema["paths"]["/api/v1/workflows"]["post"]["requestBody"]
    assert set(body["content"]) == {"application/yaml", "application/json"}


async def test_dashboard_bodies_are_documented(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    body = schema["paths"]["/api/v1/dashboards"]["post"]["requestBody"]
    fields = body["content"]["application/json"]["schema"]["properties"]
    assert {"name", "visibility", "namespace", "panels"} <= set(fields)
    imported = schema["paths"]["/api/v1/dashboards/import"]["post"]["requestBody"]
    assert "format" in imported["content"]["application/json"]["schema"]["properties"]
