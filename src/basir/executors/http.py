"""The `http:` executor: one request, its status checked, the response as outputs.

One `httpx.AsyncClient` serves every task (connection pooling), created on first use and
closed by `aclose()`.  Redirects are not followed (unless the executor is built with
`follow_redirects=True`), so a 30x is the task's result, not silently chased.  The body is
read up to `MAX_BODY_BYTES` (and the outputs cap); the rest is dropped, not buffered.  JSON
bodies appear twice in the outputs: as text (`body`) and parsed (`json`).
"""

from __future__ import annotations

import contextlib
import json
import time
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from basir.executors.base import JsonDict, TaskContext, TaskFailure
from basir.executors.logs import append_text, attempt_header
from basir.i18n.deferred import lazy
from basir.spec.models import HttpCall

if TYPE_CHECKING:
    import httpx

DEFAULT_TIMEOUT_S = 30.0
MAX_BODY_BYTES = 1024 * 1024
MAX_RESPONSE_HEADERS = 64
MAX_HEADER_VALUE_CHARS = 4096
DETAIL_BODY_CHARS = 2000
JSON_CONTENT_TYPES = ("application/json", "+json")


class HttpExecutor:
    """Runs HttpCall bodies (`{"method", "url", "headers", "json", "body", "expect", ...}`)."""

    kind = "http"

    def __init__(
        self,
        *,
        default_timeout_s: float = DEFAULT_TIMEOUT_S,
        max_body_bytes: int = MAX_BODY_BYTES,
        follow_redirects: bool = False,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.default_timeout_s = default_timeout_s
        self.max_body_bytes = max_body_bytes
        self.follow_redirects = follow_redirects
        self._transport = transport
        self._client: httpx.AsyncClient | None = None

    async def execute(self, body: JsonDict, ctx: TaskContext) -> JsonDict:
        """Send the request once; return status, headers and body, or raise `TaskFailure`."""
        import httpx  # on first use: most runs never send a request, and httpx is slow to import

        call = _parse(body)
        timeout = call.timeout if call.timeout is not None else self.default_timeout_s
        started = time.monotonic()
        try:
            outputs = await self._send(call, timeout, ctx)
        except httpx.TimeoutException:
            message = lazy(
                "HTTP request to {url} timed out after {seconds}s", url=call.url, seconds=timeout
            )
            _log(ctx, f"{call.method} {call.url} -> {message}")
            raise TaskFailure(message) from None
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            error = str(exc) or type(exc).__name__
            message = lazy("HTTP request to {url} failed: {error}", url=call.url, error=error)
            _log(ctx, f"{call.method} {call.url} -> {message}")
            raise TaskFailure(message) from None
        status = outputs["status"]
        elapsed_ms = round((time.monotonic() - started) * 1000)
        _log(ctx, f"{call.method} {call.url} -> {status} ({elapsed_ms} ms)")
        if not _expected(status, call.expect):
            raise TaskFailure(
                lazy("HTTP {status} from {url}", status=status, url=call.url),
                outputs=outputs,
                detail=outputs["body"][:DETAIL_BODY_CHARS] or None,
            )
        return outputs

    async def _send(self, call: HttpCall, timeout: float, ctx: TaskContext) -> JsonDict:
        import httpx

        request_args: dict[str, Any] = {"headers": call.headers}
        if call.json_body is not None:
            request_args["json"] = call.json_body
        elif call.body is not None:
            request_args["content"] = call.body
        client = self._get_client()
        request = client.build_request(
            call.method, call.url, timeout=httpx.Timeout(timeout), **request_args
        )
        limit = min(self.max_body_bytes, ctx.outputs_cap_bytes)
        response = await client.send(request, stream=True)
        try:
            raw = await _read_limited(response, limit)
        finally:
            await response.aclose()
        return _outputs(response, raw, limit)

    def _get_client(self) -> httpx.AsyncClient:
        if self._client is None:
            import httpx

            self._client = httpx.AsyncClient(
                follow_redirects=self.follow_redirects, transport=self._transport
            )
        return self._client

    async def aclose(self) -> None:
        """Close the shared client and its connections."""
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()


def _log(ctx: TaskContext, line: str) -> None:
    with contextlib.suppress(OSError):
        append_text(ctx.log_path, line, header=attempt_header(ctx))


def _parse(body: JsonDict) -> HttpCall:
    """Validate the rendered body (it may be wrapped as `{"http": {...}}`)."""
    wrapped = body.get("http")
    fields = wrapped if isinstance(wrapped, dict) else body
    try:
        return HttpCall.model_validate(fields)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'http'}: {error['msg']}"
            for error in exc.errors()
        )
        raise TaskFailure(lazy("invalid http task: {problems}", problems=problems)) from None


async def _read_limited(response: httpx.Response, limit: int) -> bytes:
    """The response body up to `limit + 1` bytes (the extra byte tells it was cut)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            break
    return b"".join(chunks)[: limit + 1]


def _outputs(response: httpx.Response, raw: bytes, limit: int) -> JsonDict:
    truncated = len(raw) > limit
    text = raw[:limit].decode(response.encoding or "utf-8", errors="replace")
    headers: dict[str, str] = {}
    for name, value in response.headers.items():
        if len(headers) >= MAX_RESPONSE_HEADERS:
            break
        headers.setdefault(name.lower(), value[:MAX_HEADER_VALUE_CHARS])
    outputs: JsonDict = {"status": response.status_code, "headers": headers, "body": text}
    if truncated:
        outputs["truncated"] = True
    content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if not truncated and text and content_type.endswith(JSON_CONTENT_TYPES):
        # A server that mislabels its body still gets its text through.
        with contextlib.suppress(ValueError):
            outputs["json"] = json.loads(text)
    return outputs


def _expected(status: int, expect: int | list[int] | None) -> bool:
    if expect is None:
        return 200 <= status < 300
    if isinstance(expect, int):
        return status == expect
    return status in expect
