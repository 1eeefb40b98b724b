"""Building the user alert rules' runner from the settings: the rules file and the metrics."""

from __future__ import annotations

from pathlib import Path

from basir.config import Settings
from basir.errors import BasirError
from basir.events.bus import EventBus
from basir.i18n import _
from basir.monitoring.alert_manager import AlertManager
from basir.monitoring.history import Sample, collect
from basir.monitoring.metrics import Metrics
from basir.monitoring.rule_runner import RuleRunner
from basir.monitoring.rule_spec import MAX_RULE_FILE_BYTES, AlertRuleSpec, load_rules_file
from basir.store.base import Store


def read_rules_file(path: Path) -> list[AlertRuleSpec]:
    """The rules of `path`; `alert_rule.invalid` naming the file when it cannot be used."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_RULE_FILE_BYTES + 1)
        text = raw.decode("utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise BasirError(
            "alert_rule.invalid",
            _("this alert rule is not valid"),
            details=[
                {
                    "field": str(path),
                    "message": _("cannot read the rules file: {error}", error=error),
                }
            ],
        ) from error
    return load_rules_file(text, str(path))


def make_rule_runner(
    store: Store, bus: EventBus, manager: AlertManager, metrics: Metrics, settings: Settings
) -> RuleRunner:
    """A runner of the rules file's rules (if set) and the stored ones, on live metrics."""
    path = settings.alert_rules_file
    file_rules = read_rules_file(path) if path is not None else []

    async def samples() -> list[Sample]:
        await metrics.refresh()
        return collect(metrics.registry)

    return RuleRunner(
        store,
        bus,
        manager,
        samples=samples,
        file_rules=file_rules,
        interval_s=settings.alert_eval_interval_s,
    )
