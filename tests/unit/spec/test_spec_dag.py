"""Pure DAG helpers over {id: needs}."""

from __future__ import annotations

import pytest

from basir.spec.dag import (
    CycleError,
    Upstream,
    ancestors,
    dependants,
    descendants,
    find_cycle,
    find_cycles,
    strongly_connected,
    topological_order,
)


def test_topological_order_keeps_graph_order_for_ties() -> None:
    graph = {"build": ["analyze", "test"], "analyze": ["get"], "test": ["get"], "get": []}
    assert topological_order(graph) == ["get", "analyze", "test", "build"]


def test_unknown_needs_are_ignored() -> None:
    assert topological_order({"a": ["ghost"], "b": ["a"]}) == ["a", "b"]


def test_cycle_error_names_the_cycle() -> None:
    with pytest.raises(CycleError) as caught:
        topological_order({"a": ["b"], "b": ["c"], "c": ["a"], "d": []})
    assert caught.value.cycle == ["a", "b", "c", "a"]
    assert str(caught.value) == "a → b → c → a"


def test_find_cycles_one_per_component() -> None:
    graph = {"a": ["b"], "b": ["a"], "c": ["c"], "d": ["e"], "e": ["f", "d"], "f": []}
    assert find_cycles(graph) == [["a", "b", "a"], ["c", "c"], ["d", "e", "d"]]
    assert find_cycle({"x": [], "y": ["x"]}) is None
    assert find_cycle(graph) == ["a", "b", "a"]


def test_shortest_cycle_inside_a_component() -> None:
    graph = {"a": ["b"], "b": ["c", "a"], "c": ["a"]}
    assert find_cycle(graph) == ["a", "b", "a"]


def test_long_chains_need_no_recursion() -> None:
    size = 10_000
    chain = {f"t{i}": [f"t{i - 1}"] if i else [] for i in range(size)}
    assert topological_order(chain)[-1] == f"t{size - 1}"
    assert len(strongly_connected(chain)) == size
    chain["t0"] = [f"t{size - 1}"]
    cycle = find_cycle(chain)
    assert cycle is not None and len(cycle) == size + 1
    assert len(ancestors(chain, "t5")) == size


def test_ancestors_descendants_dependants() -> None:
    graph = {"a": [], "b": ["a"], "c": ["b"], "d": ["a"]}
    assert ancestors(graph, "c") == {"a", "b"}
    assert descendants(graph, "a") == {"b", "c", "d"}
    assert dependants(graph) == {"a": ["b", "d"], "b": ["c"], "c": [], "d": []}


def test_upstream_index() -> None:
    graph = {"a": [], "b": ["a"], "c": ["b"], "d": []}
    upstream = Upstream(graph)
    assert upstream.includes("c", "a")
    assert not upstream.includes("a", "c")
    assert not upstream.includes("c", "d")
    assert not upstream.includes("c", "c")
    assert not upstream.includes("c", "ghost")
