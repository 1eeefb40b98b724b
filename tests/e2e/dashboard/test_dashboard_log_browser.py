"""The run page's log panel follows a running task's log over SSE, in English and Arabic."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from pathlib import Path

import httpx
from api_e2e import Server, wait_status
from dashboard_e2e import VIEWER, VIEWER_TOKEN, login
from playwright.sync_api import Browser, BrowserContext, Page, Request, expect

from basir.dashboard.logs import LOG_TAIL_BYTES

SCREENSHOTS = Path("/tmp/dashlog")
LATE_LINES = 60
# 5,000 early lines (about 200 KB: more than the panel shows), then a line every 0.1 s.
TALK = f"""\
name: dash-talk
tasks:
  - id: talk
    run: >-
      seq -f 'early %06g ..................................' 1 5000;
      for i in $(seq 1 {LATE_LINES}); do echo "late $i"; sleep 0.1; done; echo finished
"""


def _start(client: httpx.Client) -> str:
    applied = client.post(
        "/api/v1/workflows", content=TALK, headers={"Content-Type": "application/yaml"}
    )
    assert applied.is_success, applied.text
    run_id: str = client.post("/api/v1/workflows/dash-talk/runs", json={}).json()["run_id"]
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:  # the early lines are written, the late ones coming
        log = client.get(f"/api/v1/runs/{run_id}/tasks/talk/logs", params={"tail": 1})
        if log.is_success and "late" in log.text:
            return run_id
        time.sleep(0.05)
    raise AssertionError(f"task talk of run {run_id} never began its late lines")


def _box_in_panel(page: Page) -> tuple[float, float, float]:
    """The log's top, width and height, measured from the panel's title."""
    # Measured in one go: the page above the panel may change between two measurements.
    box: list[float] = page.evaluate(
        """() => {
          const title = document.getElementById("log-title").getBoundingClientRect();
          const pre = document.querySelector("#task-log pre").getBoundingClientRect();
          return [pre.top - title.top, pre.width, pre.height];
        }"""
    )
    return (box[0], box[1], box[2])


def _follow(page: Page, run_id: str, lang: str) -> None:
    """Open the task's log on the run page and watch it grow to the end, unpolled."""
    fragments: list[Request] = []
    streams: list[Request] = []

    def seen(request: Request) -> None:
        if request.url.endswith(f"/runs/{run_id}/tasks/talk/log"):
            fragments.append(request)
        elif "/tasks/talk/log/stream" in request.url:
            streams.append(request)

    page.on("request", seen)
    page.goto(f"/runs/{run_id}")
    page.evaluate("window.basirNoReload = true")
    with page.expect_response(lambda r: r.url.endswith("/tasks/talk/log")) as answer:
        page.click('#tasks tr[data-task=talk] a[href$="/log"]')
    # The first answer is the bounded tail, not the whole 200 KB log.
    assert len(answer.value.body()) < LOG_TAIL_BYTES + 4096
    pre = page.locator("#task-log pre")
    expect(pre).to_contain_text("late 1\n")
    first_text = pre.inner_text()
    first_box = _box_in_panel(page)
    assert f"late {LATE_LINES}\n" not in first_text, "the task ended before the page opened"
    assert "early 000001 " not in first_text  # only the end of the long log is shown
    expect(page.locator("#task-log .log-cut")).to_be_visible()

    expect(pre).to_contain_text("finished", timeout=20_000)
    text = pre.inner_text()
    late = [line for line in text.splitlines() if line.startswith("late ")]
    # Every line once, in order: the stream began right after the tail.
    assert late == [f"late {n}" for n in range(1, LATE_LINES + 1)]
    # The rest of the run page may change as the run ends; inside the panel nothing moved.
    assert _box_in_panel(page) == first_box
    ended = "The task has ended." if lang == "en" else "انتهت المهمة."
    expect(page.locator("#task-log .log-follow")).to_have_text(ended)
    assert len(fragments) == 1, "the log fragment was fetched again (polling)"
    assert len(streams) == 1
    assert page.evaluate("window.basirNoReload") is True, "the page reloaded itself"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"log-follow-{lang}.png"), full_page=True)


def test_a_running_tasks_log_grows_live_without_polling(
    context: BrowserContext, client: httpx.Client
) -> None:
    run_id = _start(client)
    page = context.new_page()
    login(page)
    _follow(page, run_id, "en")
    wait_status(client, run_id, {"succeeded"})


def test_the_arabic_page_follows_the_log_too(
    browser: Browser, dash_server: Server, client: httpx.Client
) -> None:
    run_id = _start(client)
    arabic = browser.new_context(
        base_url=dash_server.url, locale="ar", viewport={"width": 1280, "height": 860}
    )
    arabic.set_default_timeout(15_000)
    try:
        page = arabic.new_page()
        login(page, VIEWER, VIEWER_TOKEN)
        expect(page.locator("html")).to_have_attribute("dir", "rtl")
        _follow(page, run_id, "ar")
        # The log itself stays left-to-right inside the right-to-left page.
        assert page.locator("#task-log pre").get_attribute("dir") == "ltr"
    finally:
        arabic.close()


class CuttingProxy:
    """A TCP relay in front of the server whose open connections the test can cut at once, as
    a network drop would (the browser's offline mode leaves loopback connections alone)."""

    def __init__(self, target_port: int) -> None:
        self.target = ("127.0.0.1", target_port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.open: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                near, _address = self.listener.accept()
            except OSError:
                return
            far = socket.create_connection(self.target)
            with self.lock:
                self.open += [near, far]
            for source, sink in ((near, far), (far, near)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for end in (source, sink):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        """Drop every connection open now (new ones go through)."""
        with self.lock:
            dropped, self.open = self.open, []
        for end in dropped:
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
            end.close()

    def close(self) -> None:
        self.listener.close()
        self.cut()


def test_the_panel_resumes_after_the_stream_drops(
    browser: Browser, dash_server: Server, client: httpx.Client
) -> None:
    run_id = _start(client)
    proxy = CuttingProxy(int(dash_server.url.rsplit(":", 1)[1].rstrip("/")))
    made = browser.new_context(base_url=f"http://127.0.0.1:{proxy.port}", locale="en-US")
    made.set_default_timeout(15_000)
    try:
        page = made.new_page()
        login(page)
        asked: list[Request] = []
        page.on("request", lambda r: asked.append(r) if "/talk/log/stream" in r.url else None)
        page.goto(f"/runs/{run_id}")
        page.click('#tasks tr[data-task=talk] a[href$="/log"]')
        pre = page.locator("#task-log pre")
        expect(pre).to_contain_text("late 1\n")
        shown = max(int(line[5:]) for line in pre.inner_text().splitlines() if "late" in line)
        expect(pre).to_contain_text(f"late {shown + 2}\n")  # the stream has delivered
        assert shown + 2 < LATE_LINES, "the task ended before the stream could be cut"
        proxy.cut()  # the connection drops while the task keeps writing
        expect(pre).to_contain_text("finished", timeout=20_000)
        late = [line for line in pre.inner_text().splitlines() if line.startswith("late ")]
        assert late == [f"late {n}" for n in range(1, LATE_LINES + 1)]  # none lost or repeated
        # The browser asked again by itself, from the last line it had.
        resumed = [r.all_headers().get("last-event-id") for r in asked]
        assert len(resumed) >= 2 and resumed[0] is None and resumed[-1] is not None, resumed
    finally:
        made.close()
        proxy.close()


LATER = """\
name: dash-talk-later
tasks:
  - id: first
    run: sleep 4
  - id: talk
    needs: [first]
    run: for i in $(seq 1 20); do echo "line $i"; sleep 0.1; done
"""


def test_a_log_opened_before_its_task_starts_follows_it_once_it_runs(
    context: BrowserContext, client: httpx.Client
) -> None:
    applied = client.post(
        "/api/v1/workflows", content=LATER, headers={"Content-Type": "application/yaml"}
    )
    assert applied.is_success, applied.text
    run_id = client.post("/api/v1/workflows/dash-talk-later/runs", json={}).json()["run_id"]
    page = context.new_page()
    login(page)
    streams: list[Request] = []
    page.on("request", lambda r: streams.append(r) if "/talk/log/stream" in r.url else None)
    page.goto(f"/runs/{run_id}")
    page.click('#tasks tr[data-task=talk] a[href$="/log"]')
    expect(page.locator("#task-log .empty")).to_be_visible()  # not started: nothing yet
    assert streams == []
    pre = page.locator("#task-log pre")
    expect(pre).to_contain_text("line 20", timeout=20_000)  # the panel turned live by itself
    lines = [line for line in pre.inner_text().splitlines() if line.startswith("line ")]
    assert lines == [f"line {n}" for n in range(1, 21)]  # the attempt's header aside
    expect(page.locator("#task-log .log-follow")).to_have_text("The task has ended.")
    assert len(streams) == 1
