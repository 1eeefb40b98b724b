"""Validating a dashboard document: pure functions, every problem with a field and a code.

A dashboard is `{name, visibility, namespace, panels: [{title, metric, chart, window, step,
by}]}`.  `check_board` reads untrusted JSON (an API body, an imported file, a posted form)
and returns either a clean `Board` or the list of problems, each located at its field
(`body.panels[1].metric`) with a stable code (`dashboard.unknown_metric`), so the API
answers 422 and the page shows each message beside its field; nothing is stored then.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from basir.i18n import _
from basir.monitoring.history_query import MIN_STEP_S
from basir.spec.units import parse_duration

CHART_TYPES = ("line", "area", "bar", "stat")
VISIBILITIES = ("private", "shared")
WINDOWS = ("15m", "1h", "6h", "24h", "7d", "30d")
MIN_WINDOW_S = 15 * 60.0
MAX_WINDOW_S = 30 * 86400.0
MAX_PANELS = 24
MAX_NAME_CHARS = 80
MAX_TITLE_CHARS = 80
MAX_POINTS_PER_PANEL = 1500
DEFAULT_POINTS = 240
EXPORT_FORMAT = "basir-dashboard/1"
TITLE_LANGUAGES = ("en", "ar")
NAMESPACE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
METRIC = re.compile(r"^basir_[a-z0-9_]{1,120}$")
LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]{0,63}$")
_STEP = re.compile(r"^(\d{1,7})(s|m|h|d)?$")
_STEP_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
BOARD_KEYS = frozenset({"name", "visibility", "namespace", "panels"})
PANEL_KEYS = frozenset({"title", "metric", "chart", "window", "step", "by"})


@dataclass(frozen=True, slots=True)
class Panel:
    """One chart: a metric of the history over a window, drawn as line, area, bar or stat."""

    metric: str
    chart: str
    window: str
    title: dict[str, str] = field(default_factory=dict)
    step: str | None = None
    by: str | None = None

    def document(self) -> dict[str, Any]:
        """The panel as stored and exported."""
        return {
            "title": dict(self.title),
            "metric": self.metric,
            "chart": self.chart,
            "window": self.window,
            "step": self.step,
            "by": self.by,
        }


@dataclass(frozen=True, slots=True)
class Board:
    """A validated dashboard (without owner and id, which the service adds)."""

    name: str
    visibility: str
    namespace: str | None
    panels: tuple[Panel, ...]


Problems = list[dict[str, str]]


def problem(path: str, code: str, message: str) -> dict[str, str]:
    """One problem item of a problem+json answer."""
    return {"field": path, "code": code, "message": message}


def window_seconds(text: str) -> float:
    """The seconds of a panel's window (`1h`, `7d`); ValueError outside 15m..30d."""
    seconds = parse_duration(text)
    if not MIN_WINDOW_S <= seconds <= MAX_WINDOW_S:
        raise ValueError(text)
    return seconds


def step_seconds(text: str | None, window_s: float) -> int:
    """The step of a panel in seconds: given (`60s`, `5m`, `1h`), else about 240 points."""
    if text is None:
        return max(MIN_STEP_S, -(-int(window_s) // DEFAULT_POINTS))
    match = _STEP.match(text)
    if match is None:
        raise ValueError(text)
    return int(match.group(1)) * _STEP_UNITS[match.group(2) or "s"]


def _text(value: Any, path: str, limit: int, problems: Problems, *, required: bool) -> str:
    if not isinstance(value, str) or (required and not value.strip()):
        problems.append(
            problem(
                path,
                "dashboard.bad_text",
                _("give a text of 1 to {n} characters", n=limit)
                if required
                else _("give a text of at most {n} characters", n=limit),
            )
        )
        return ""
    text = value.strip()
    if len(text) > limit:
        problems.append(problem(path, "dashboard.too_long", _("at most {n} characters", n=limit)))
    return text


def _unknown_keys(raw: Mapping[str, Any], allowed: frozenset[str], path: str) -> Problems:
    return [
        problem(
            f"{path}.{key}" if path else str(key),
            "dashboard.unknown_field",
            _("'{key}' is not a field of a dashboard", key=str(key)),
        )
        for key in sorted(map(str, raw))
        if key not in allowed
    ]


def _title(value: Any, path: str, problems: Problems) -> dict[str, str]:
    """A title: one text (shown in every language) or `{en, ar}`."""
    if value is None or value == "":
        return {}
    if isinstance(value, str):
        text = _text(value, path, MAX_TITLE_CHARS, problems, required=False)
        return {"en": text} if text else {}
    if not isinstance(value, Mapping):
        problems.append(
            problem(path, "dashboard.bad_title", _("a title is a text or {en: …, ar: …}"))
        )
        return {}
    titles: dict[str, str] = {}
    for key, text in value.items():
        if key not in TITLE_LANGUAGES:
            problems.append(
                problem(
                    f"{path}.{key}",
                    "dashboard.bad_title",
                    _("titles are given in en and ar only"),
                )
            )
            continue
        checked = _text(text, f"{path}.{key}", MAX_TITLE_CHARS, problems, required=False)
        if checked:
            titles[str(key)] = checked
    return titles


def check_panel(
    raw: Any, path: str, known_metrics: Collection[str]
) -> tuple[Panel | None, Problems]:
    """A panel, or the problems of `raw` (located under `path`)."""
    if not isinstance(raw, Mapping):
        return None, [problem(path, "dashboard.bad_panel", _("a panel is an object"))]
    problems = _unknown_keys(raw, PANEL_KEYS, path)
    title = _title(raw.get("title"), f"{path}.title", problems)
    metric = raw.get("metric")
    if not isinstance(metric, str) or not METRIC.match(metric):
        problems.append(
            problem(f"{path}.metric", "dashboard.bad_metric", _("choose a metric of the history"))
        )
    elif metric not in known_metrics:
        problems.append(
            problem(
                f"{path}.metric",
                "dashboard.unknown_metric",
                _("the history has no metric named {name}", name=metric),
            )
        )
    chart = raw.get("chart", "line")
    if chart not in CHART_TYPES:
        problems.append(
            problem(
                f"{path}.chart",
                "dashboard.unknown_chart",
                _("the chart type is one of: {choices}", choices=", ".join(CHART_TYPES)),
            )
        )
    window = raw.get("window", "1h")
    window_s = 0.0
    try:
        window_s = window_seconds(window) if isinstance(window, str) else -1.0
    except ValueError:
        window_s = -1.0
    if window_s < 0:
        problems.append(
            problem(
                f"{path}.window",
                "dashboard.bad_window",
                _("the window is a duration from 15m to 30d, such as 1h or 7d"),
            )
        )
    step = raw.get("step")
    if step == "":
        step = None
    if step is not None:
        _step(step, window_s, f"{path}.step", problems)
    by = raw.get("by")
    if by == "":
        by = None
    if by is not None and (not isinstance(by, str) or not LABEL.match(by)):
        problems.append(
            problem(
                f"{path}.by",
                "dashboard.bad_label",
                _("a label name: letters, digits and _, not starting with a digit"),
            )
        )
    if problems:
        return None, problems
    assert isinstance(metric, str) and isinstance(chart, str) and isinstance(window, str)
    return Panel(metric, chart, window, title, step, by), []


def _step(step: Any, window_s: float, path: str, problems: Problems) -> None:
    try:
        seconds = step_seconds(step if isinstance(step, str) else "-", window_s)
    except ValueError:
        problems.append(problem(path, "dashboard.bad_step", _("not a step such as 60s, 5m or 1h")))
        return
    if seconds < MIN_STEP_S:
        problems.append(
            problem(
                path,
                "dashboard.bad_step",
                _("the step must be at least {n} seconds", n=MIN_STEP_S),
            )
        )
    elif window_s > 0 and window_s / seconds > MAX_POINTS_PER_PANEL:
        problems.append(
            problem(
                path,
                "dashboard.too_many_points",
                _("at most {n} points per panel: use a larger step", n=MAX_POINTS_PER_PANEL),
            )
        )
    elif window_s > 0 and seconds > window_s:
        problems.append(
            problem(path, "dashboard.bad_step", _("the step must not exceed the window"))
        )


def check_board(
    raw: Any, known_metrics: Collection[str], prefix: str = "body"
) -> tuple[Board | None, Problems]:
    """A dashboard, or every problem of `raw` (none stored then).

    Limits: a name of 1 to 80 characters; at most 24 panels; each panel a known metric, a
    chart type of `CHART_TYPES`, a window of 15m..30d, at most 1,500 points; a shared
    dashboard names its namespace.
    """
    if not isinstance(raw, Mapping):
        return None, [problem(prefix, "dashboard.bad_document", _("a dashboard is an object"))]
    problems = _unknown_keys(raw, BOARD_KEYS, prefix)
    name = _text(raw.get("name"), f"{prefix}.name", MAX_NAME_CHARS, problems, required=True)
    visibility = raw.get("visibility", "private")
    if visibility not in VISIBILITIES:
        problems.append(
            problem(
                f"{prefix}.visibility",
                "dashboard.bad_visibility",
                _("visibility is private or shared"),
            )
        )
    namespace = raw.get("namespace")
    if namespace == "":
        namespace = None
    if visibility == "shared" and namespace is None:
        namespace = "default"
    if visibility == "private" and namespace is not None:
        problems.append(
            problem(
                f"{prefix}.namespace",
                "dashboard.bad_namespace",
                _("only a shared dashboard has a namespace"),
            )
        )
    elif namespace is not None and (
        not isinstance(namespace, str) or not NAMESPACE.match(namespace)
    ):
        problems.append(
            problem(
                f"{prefix}.namespace",
                "dashboard.bad_namespace",
                _("a namespace: lower-case letters, digits and -, at most 63"),
            )
        )
    panels: list[Panel] = []
    raw_panels = raw.get("panels", [])
    if not isinstance(raw_panels, list):
        problems.append(problem(f"{prefix}.panels", "dashboard.bad_panels", _("panels is a list")))
    elif len(raw_panels) > MAX_PANELS:
        problems.append(
            problem(
                f"{prefix}.panels",
                "dashboard.too_many_panels",
                _("at most {n} panels", n=MAX_PANELS),
            )
        )
    else:
        for i, item in enumerate(raw_panels):
            panel, found = check_panel(item, f"{prefix}.panels[{i}]", known_metrics)
            problems.extend(found)
            if panel is not None:
                panels.append(panel)
    if problems:
        return None, problems
    assert isinstance(visibility, str)
    return Board(name, visibility, namespace, tuple(panels)), []


def check_import(raw: Any, known_metrics: Collection[str]) -> tuple[Board | None, Problems]:
    """An exported dashboard (`{format, name, panels}`), imported as a private one."""
    if not isinstance(raw, Mapping):
        return None, [problem("body", "dashboard.bad_document", _("a dashboard is an object"))]
    if raw.get("format") != EXPORT_FORMAT:
        return None, [
            problem(
                "body.format",
                "dashboard.bad_format",
                _("not a Basir dashboard export (format {format})", format=EXPORT_FORMAT),
            )
        ]
    document = {key: value for key, value in raw.items() if key != "format"}
    unknown = _unknown_keys(document, frozenset({"name", "panels"}), "body")
    if unknown:
        return None, unknown
    return check_board(document, known_metrics)


def export_document(board: Mapping[str, Any]) -> dict[str, Any]:
    """What `export` answers: the format marker, the name and the panels (no owner, no id)."""
    return {"format": EXPORT_FORMAT, "name": board["name"], "panels": list(board["panels"])}


def board_document(board: Board) -> dict[str, Any]:
    """The stored fields of a validated board."""
    return {
        "name": board.name,
        "visibility": board.visibility,
        "namespace": board.namespace,
        "panels": [p.document() for p in board.panels],
    }
