"""User alert rules in YAML or JSON: the schema, its limits, and the errors people read.

A rule watches either a metric (`metric`: the sum of the `basir_*` series matching `match`,
per group of `group_by` labels) or an event type (`event`: how many such events, matching
`match`, in the last `window`), compares the value with `threshold` (`op`), and fires when
the comparison has held for `for`.  It carries a `severity`, free `labels`, and its message
in English and Arabic, where `{rule}`, `{value}`, `{threshold}` and the `group_by` labels
are filled in.  Rules come from a file (`BASIR_ALERT_RULES_FILE`, read-only) and from the
API (`POST /api/v1/alerts/rules`, stored).  Everything here is pure: parse, validate, render.
"""

from __future__ import annotations

import math
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, ValidationError, field_validator

from basir.errors import BasirError
from basir.i18n import _
from basir.monitoring.alert_rules import (
    ALERTING_STALLED,
    DEADLINE_MISSED,
    HEALTH,
    NOTIFICATION_FAILING,
    RUN_FAILED,
    RUN_OVERDUE,
    STORE_SLOW,
    TASK_OVERDUE,
    WORKER_LOST,
)
from basir.spec.pydantic_messages import pydantic_message
from basir.spec.units import parse_duration
from basir.spec.yaml_source import load_yaml

MAX_RULES = 200
MAX_RULE_FILE_BYTES = 256 * 1024
MAX_FOR_S = 7 * 86400.0
MAX_WINDOW_S = 86400.0
DEFAULT_WINDOW = "5m"
MAX_MESSAGE_CHARS = 500
NAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,62}$"
LABEL_PATTERN = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]{0,62}$")
EVENT_FIELDS = ("workflow", "run_id", "task_id")
BUILT_IN = (
    RUN_FAILED,
    DEADLINE_MISSED,
    NOTIFICATION_FAILING,
    HEALTH,
    ALERTING_STALLED,
    RUN_OVERDUE,
    STORE_SLOW,
    TASK_OVERDUE,
    WORKER_LOST,
)
OPS = {
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
}
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_FIXED_PLACEHOLDERS = ("rule", "value", "threshold")

Op = Literal[">", ">=", "<", "<=", "==", "!="]
Severity = Literal["info", "warning", "error", "critical"]


class RuleMessage(BaseModel):
    """What the alert says, in both languages (placeholders `{value}` etc. filled in)."""

    model_config = ConfigDict(extra="forbid")

    en: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS)
    ar: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS)


class AlertRuleSpec(BaseModel):
    """One alert rule (see the module docstring; docs/reference/alerts.md for users)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    name: str = Field(pattern=NAME_PATTERN)
    metric: str | None = Field(None, pattern=r"^basir_[a-z0-9_]{1,100}$")
    event: str | None = Field(None, pattern=r"^[a-z][a-z0-9_]{0,40}\.[a-z][a-z0-9_.]{0,40}$")
    match: dict[str, str] = Field(default_factory=dict, max_length=8)
    group_by: list[str] = Field(default_factory=list, max_length=4)
    op: Op = ">"
    threshold: StrictFloat
    window: str | None = None
    for_: str = Field("0s", alias="for")
    severity: Severity = "warning"
    labels: dict[str, str] = Field(default_factory=dict, max_length=8)
    message: RuleMessage

    @field_validator("match", "labels")
    @classmethod
    def _label_map(cls, value: dict[str, str]) -> dict[str, str]:
        for key, item in value.items():
            if not LABEL_PATTERN.match(key):
                raise ValueError(_("{name} is not a label name ([a-zA-Z_][a-zA-Z0-9_]*)", name=key))
            if len(item) > 200:
                raise ValueError(_("a label value has at most 200 characters"))
        return value

    @field_validator("group_by")
    @classmethod
    def _group_by(cls, value: list[str]) -> list[str]:
        for key in value:
            if not LABEL_PATTERN.match(key):
                raise ValueError(_("{name} is not a label name ([a-zA-Z_][a-zA-Z0-9_]*)", name=key))
        if len(set(value)) != len(value):
            raise ValueError(_("a label is named twice"))
        return value

    @field_validator("threshold")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError(_("the threshold must be a finite number"))
        return value

    @property
    def for_s(self) -> float:
        """How long the condition must hold before the alert fires, in seconds."""
        return parse_duration(self.for_)

    @property
    def window_s(self) -> float:
        """The counting window of an event rule, in seconds."""
        return parse_duration(self.window or DEFAULT_WINDOW)

    def holds(self, value: float) -> bool:
        """Whether `value` meets the rule's condition."""
        return bool(OPS[self.op](value, self.threshold))

    def to_doc(self) -> dict[str, Any]:
        """The stored (and listed) form: what was written, `for` under its own name."""
        return self.model_dump(by_alias=True, exclude_none=True)


def rule_invalid(details: list[dict[str, Any]]) -> BasirError:
    """`alert_rule.invalid`: the rule (or rules file) is refused, with where and why."""
    return BasirError("alert_rule.invalid", _("this alert rule is not valid"), details=details)


def _source_problems(rule: AlertRuleSpec) -> list[tuple[str, str]]:
    """One source (metric or event), reserved names, and the fields of event rules."""
    problems: list[tuple[str, str]] = []
    if (rule.metric is None) == (rule.event is None):
        problems.append(("metric", _("give exactly one of metric and event")))
    if rule.name.split(".")[0] in BUILT_IN:  # its alert ids would be a built-in rule's
        problems.append(("name", _("{name} is the name of a built-in rule", name=rule.name)))
    if rule.metric is not None and rule.window is not None:
        problems.append(("window", _("window counts events: it applies to event rules only")))
    if rule.event is not None:
        names = ", ".join(EVENT_FIELDS)
        for key in sorted(set(rule.match) - set(EVENT_FIELDS)):
            problems.append((f"match.{key}", _("an event is matched on: {names}", names=names)))
        if set(rule.group_by) - set(EVENT_FIELDS):
            problems.append(("group_by", _("events are grouped by: {names}", names=names)))
    return problems


def _duration_problems(rule: AlertRuleSpec) -> list[tuple[str, str]]:
    """`for` within 0..7d, `window` within (0, 1d]."""
    problems: list[tuple[str, str]] = []
    for field, text, top in (("for", rule.for_, MAX_FOR_S), ("window", rule.window, MAX_WINDOW_S)):
        if text is None:
            continue
        try:
            seconds = parse_duration(text)
        except ValueError as error:
            problems.append((field, str(error)))
            continue
        if seconds < 0 or seconds > top or (field == "window" and seconds <= 0):
            limit = f"{top:g}s"
            problems.append(
                (field, _("out of range: more than 0 and at most {limit}", limit=limit))
            )
    return problems


def _placeholder_problems(rule: AlertRuleSpec) -> list[tuple[str, str]]:
    """Every `{name}` in the messages is one the alert can fill in."""
    allowed = {*_FIXED_PLACEHOLDERS, *rule.group_by}
    known = ", ".join(sorted(allowed))
    return [
        (
            f"message.{lang}",
            _("unknown placeholder {{{name}}}; known: {names}", name=name, names=known),
        )
        for lang in ("en", "ar")
        for name in _PLACEHOLDER.findall(getattr(rule.message, lang))
        if name not in allowed
    ]


def _check_semantics(rule: AlertRuleSpec, where: str) -> list[dict[str, Any]]:
    """What pydantic cannot say alone: one source, durations, placeholders, reserved names."""
    found = [*_source_problems(rule), *_duration_problems(rule), *_placeholder_problems(rule)]
    return [{"field": f"{where}{field}", "message": message} for field, message in found]


def validate_rule(data: object, where: str = "body.") -> AlertRuleSpec:
    """One rule from plain data (a parsed YAML or JSON object); `alert_rule.invalid` if not."""
    if not isinstance(data, dict):
        raise rule_invalid([{"field": where.rstrip("."), "message": _("a rule is a mapping")}])
    try:
        rule = AlertRuleSpec.model_validate(data)
    except ValidationError as error:
        raise rule_invalid(
            [
                {
                    "field": where + ".".join(str(p) for p in e["loc"]),
                    "message": pydantic_message(e, show_input=True) or e["msg"],
                }
                for e in error.errors(include_url=False)
            ]
        ) from error
    problems = _check_semantics(rule, where)
    if problems:
        raise rule_invalid(problems)
    return rule


def parse_yaml(text: str, where: str) -> object:
    """Plain data from YAML 1.2 text; `alert_rule.invalid` naming `where` when it is not YAML."""
    if len(text.encode()) > MAX_RULE_FILE_BYTES:
        raise rule_invalid(
            [{"field": where, "message": _("at most {n} bytes", n=MAX_RULE_FILE_BYTES)}]
        )
    data, _locations, issues = load_yaml(text, max_depth=10, max_nodes=50_000)
    if issues:
        raise rule_invalid(
            [{"field": where, "message": issue.format(where)} for issue in issues[:5]]
        )
    return data


def load_rules_file(text: str, source: str) -> list[AlertRuleSpec]:
    """The rules of a rules file: `{rules: [rule, ...]}` in YAML (or JSON), names unique."""
    data = parse_yaml(text, source)
    if not isinstance(data, dict) or set(data) != {"rules"} or not isinstance(data["rules"], list):
        raise rule_invalid([{"field": source, "message": _("a rules file is {rules: [...]}")}])
    if len(data["rules"]) > MAX_RULES:
        raise rule_invalid(
            [{"field": f"{source}:rules", "message": _("at most {n} rules", n=MAX_RULES)}]
        )
    rules = [validate_rule(item, f"{source}:rules.{i}.") for i, item in enumerate(data["rules"])]
    seen: set[str] = set()
    for i, rule in enumerate(rules):
        if rule.name in seen:
            raise rule_invalid(
                [{"field": f"{source}:rules.{i}.name", "message": _("a rule name is used twice")}]
            )
        seen.add(rule.name)
    return rules


def render(template: str, values: dict[str, object]) -> str:
    """`template` with each known `{name}` replaced (no format spec, no attribute access)."""
    return _PLACEHOLDER.sub(lambda m: str(values.get(m.group(1), m.group(0))), template)


def format_value(value: float) -> str:
    """A value as people read it: whole numbers without `.0`, others to 3 significant digits."""
    return str(int(value)) if float(value).is_integer() else f"{value:.3g}"
