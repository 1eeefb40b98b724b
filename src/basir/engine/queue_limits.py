"""Queue limits changed at run time: kept in the store (kv `task_queue`) on top of `BASIR_QUEUES`.

`PUT /api/v1/queues/{name}` sets a queue's limit — or adds a queue — without a restart; the
limit holds across restarts because every engine (a server, a `basir run`) and every apply
reads the overrides the same way (`configured_queues`).  Raising a limit offers the tasks
waiting for that queue again at once; lowering it takes nothing back from running tasks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from basir.config import POOL_NAME, QueueLimit, parse_queue_limit
from basir.errors import BasirError
from basir.i18n import _
from basir.store.base import KeyValueStore

if TYPE_CHECKING:
    from basir.engine.admission import Admission

QUEUE_KIND = "task_queue"  # store kv: queue limits set through the API, by queue name


def checked_limit(name: str, value: object) -> QueueLimit:
    """A queue name and its limit as written in `BASIR_QUEUES` (`2`, `2@10/s`, `@60/m`).

    Anything else is `queues.invalid_limit`, naming what was given.
    """
    limit: QueueLimit | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if isinstance(value, str) and POOL_NAME.match(name):
        try:
            limit = parse_queue_limit(value)
        except ValueError:
            limit = None
    if limit is None or (limit.slots is None and limit.rate is None):
        message = _(
            "{value} is not a limit for queue {queue}: give slots[@count/unit], e.g. 2, 4@10/s"
            " or @60/m (unit s, m or h)",
            value=value,
            queue=name,
        )
        raise BasirError("queues.invalid_limit", message)
    return limit


async def configured_queues(
    store: KeyValueStore, configured: Mapping[str, QueueLimit]
) -> dict[str, QueueLimit]:
    """The queues of `BASIR_QUEUES` with the limits kept in the store on top (or added)."""
    queues = dict(configured)
    for name, override in await store.kv_list(QUEUE_KIND):
        try:
            queues[name] = parse_queue_limit(str(override.get("limit", "")))
        except ValueError:  # written by this module, so valid; never let one stop an engine
            continue
    return queues


async def load_overrides(store: KeyValueStore, admission: Admission) -> None:
    """Apply the limits kept in the store to an engine that is starting."""
    for name, limit in (await configured_queues(store, {})).items():
        admission.set_queue(name, limit)


async def set_queue_limit(
    store: KeyValueStore, admission: Admission, name: str, value: object
) -> dict[str, Any]:
    """Set (or add) a queue's limit now and keep it; returns the queue as `GET /queues` shows."""
    limit = checked_limit(name, value)
    await store.kv_put(QUEUE_KIND, name, {"limit": limit.describe()})
    admission.set_queue(name, limit)
    return next(q for q in admission.throttle.snapshot()["queues"] if q["name"] == name)
