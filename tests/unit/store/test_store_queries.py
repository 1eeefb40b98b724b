"""The named statements of `store.queries`, as SQLite sees them."""

from __future__ import annotations

from basir.store import queries
from basir.store.queries import compile_sqlite


def test_guarded_update_is_one_statement_with_the_guard() -> None:
    sql = compile_sqlite(queries.guarded_update("task", ("attempts", "status"), 2)).text
    assert sql.startswith("UPDATE tasks SET")
    assert "status=:v_status" in sql.replace(" ", "")
    assert "tasks.status IN (:s0, :s1)" in sql
    unguarded = compile_sqlite(queries.guarded_update("run", ("status",), None)).text
    assert "IN" not in unguarded and "runs.id = :k_id" in unguarded


def test_statements_are_built_and_compiled_once() -> None:
    assert queries.guarded_update("task", ("status",), 1) is queries.guarded_update(
        "task", ("status",), 1
    )
    stmt = queries.list_runs(True, False, True)
    assert compile_sqlite(stmt) is compile_sqlite(stmt)


def test_literals_get_their_values() -> None:
    sql = compile_sqlite(queries.next_task_seq())
    assert sorted(sql.fixed.values()) == [0, 1]
    assert sql.params({"k_run_id": "r"})["k_run_id"] == "r"
    plain = compile_sqlite(queries.insert_event())
    args = {"time": 1.0}
    assert plain.fixed == {} and plain.params(args) is args


def test_status_params() -> None:
    assert queries.status_params(None) == {}
    assert queries.status_params(("a", "b")) == {"s0": "a", "s1": "b"}
