"""Storing dashboards and deciding who sees and changes them (a thin shell over the kv store).

Rules: a private dashboard is its owner's alone; a shared one is seen by every reader and
belongs to a namespace.  Sharing (creating, importing or editing a shared dashboard, or
making one shared) needs the `operate` permission; a private dashboard is changed only by
its owner, a shared one by any operator or admin.  What a caller may not see answers 404,
as if it did not exist.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from basir.boards.model import Board, board_document, check_board, check_import
from basir.errors import BasirError, NotFoundError
from basir.i18n import _, ngettext
from basir.security.auth import Permission, permissions_of
from basir.security.tokens import Principal
from basir.store.base import Store

KIND = "dashboard"
MAX_PRIVATE_PER_USER = 100
MAX_DASHBOARDS = 5000


def invalid(problems: list[dict[str, str]]) -> BasirError:
    """422 `dashboard.invalid` with each problem at its field."""
    detail = ngettext(
        "the dashboard has {count} problem", "the dashboard has {count} problems", len(problems)
    )
    return BasirError("dashboard.invalid", detail, details=problems)


def not_found(board_id: str) -> NotFoundError:
    """404 for a dashboard that does not exist or that the caller may not see."""
    return NotFoundError("dashboard.not_found", _("no dashboard {id}", id=board_id))


def may_operate(principal: Principal) -> bool:
    """Whether the caller may share dashboards and change shared ones."""
    return Permission.OPERATE in permissions_of(principal)


def visible(document: dict[str, Any], principal: Principal) -> bool:
    """A shared dashboard is seen by every reader, a private one by its owner only."""
    return document.get("visibility") == "shared" or document.get("owner") == principal.user


def editable(document: dict[str, Any], principal: Principal) -> bool:
    """The owner changes a private dashboard; operators and admins change shared ones."""
    if document.get("visibility") == "shared":
        return may_operate(principal)
    return document.get("owner") == principal.user


async def known_metrics(store: Store) -> frozenset[str]:
    """The metric names a panel may show: those the history holds points of."""
    return frozenset(await store.metrics_names())


async def list_boards(
    store: Store, principal: Principal, namespace: str | None = None
) -> list[dict[str, Any]]:
    """The dashboards the caller may see, by name; `namespace` keeps the shared ones there."""
    found = []
    for _key, document in await store.kv_list(KIND, limit=MAX_DASHBOARDS):
        if not visible(document, principal):
            continue
        if namespace is not None and document.get("namespace") != namespace:
            continue
        found.append(document)
    return sorted(found, key=lambda d: (str(d.get("name", "")).casefold(), str(d["id"])))


async def get_board(store: Store, principal: Principal, board_id: str) -> dict[str, Any]:
    """One dashboard the caller may see, else 404."""
    document = await store.kv_get(KIND, board_id)
    if document is None or not visible(document, principal):
        raise not_found(board_id)
    return document


def _share_check(board: Board, principal: Principal) -> None:
    if board.visibility == "shared" and not may_operate(principal):
        raise BasirError(
            "dashboard.share_forbidden",
            _("only operators and admins may share dashboards"),
            kind="forbidden",
        )


async def _room_for(store: Store, principal: Principal) -> None:
    everything = await store.kv_list(KIND, limit=MAX_DASHBOARDS + 1)
    own = sum(
        1
        for _key, d in everything
        if d.get("owner") == principal.user and d.get("visibility") == "private"
    )
    if len(everything) >= MAX_DASHBOARDS or own >= MAX_PRIVATE_PER_USER:
        raise BasirError(
            "dashboard.limit",
            _(
                "at most {n} private dashboards per user and {total} in all",
                n=MAX_PRIVATE_PER_USER,
                total=MAX_DASHBOARDS,
            ),
            kind="limit",
        )


async def _save(
    store: Store, principal: Principal, board: Board, existing: dict[str, Any] | None
) -> dict[str, Any]:
    now = time.time()
    document = {
        "id": existing["id"] if existing else "d" + secrets.token_hex(8),
        "owner": existing["owner"] if existing else principal.user,
        **board_document(board),
        "created_at": existing["created_at"] if existing else now,
        "updated_at": now,
        "updated_by": principal.user,
    }
    await store.kv_put(KIND, document["id"], document)
    return document


async def create_board(store: Store, principal: Principal, raw: Any) -> dict[str, Any]:
    """Validate and store a new dashboard owned by the caller."""
    board, problems = check_board(raw, await known_metrics(store))
    if board is None:
        raise invalid(problems)
    _share_check(board, principal)
    await _room_for(store, principal)
    return await _save(store, principal, board, None)


async def import_board(store: Store, principal: Principal, raw: Any) -> dict[str, Any]:
    """Store an exported dashboard as a new private one of the caller."""
    board, problems = check_import(raw, await known_metrics(store))
    if board is None:
        raise invalid(problems)
    await _room_for(store, principal)
    return await _save(store, principal, board, None)


async def update_board(
    store: Store, principal: Principal, board_id: str, raw: Any
) -> dict[str, Any]:
    """Replace a dashboard the caller may change (its id, owner and creation time stay)."""
    existing = await get_board(store, principal, board_id)
    if not editable(existing, principal):
        raise _edit_forbidden()
    board, problems = check_board(raw, await known_metrics(store))
    if board is None:
        raise invalid(problems)
    _share_check(board, principal)
    if board.visibility == "private" and existing.get("owner") != principal.user:
        raise _edit_forbidden()
    return await _save(store, principal, board, existing)


async def delete_board(store: Store, principal: Principal, board_id: str) -> None:
    """Remove a dashboard the caller may change."""
    existing = await get_board(store, principal, board_id)
    if not editable(existing, principal):
        raise _edit_forbidden()
    await store.kv_delete(KIND, board_id)


def _edit_forbidden() -> BasirError:
    return BasirError(
        "dashboard.edit_forbidden",
        _(
            "you may not change this dashboard: private ones by their owner, shared ones by "
            "operators"
        ),
        kind="forbidden",
    )
