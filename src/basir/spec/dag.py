"""Pure DAG helpers over `{task_id: needs}`, shared by validation and the engine.

A graph maps each node to the nodes it needs (its upstream).  Needs that name no node of the
graph are ignored here (validation reports them), so every function accepts half-valid input.
Everything is iterative: a 10,000-task chain never meets Python's recursion limit.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Iterable, Mapping, Sequence

Graph = Mapping[str, Sequence[str]]


class CycleError(ValueError):
    """The graph has a cycle; `cycle` names it, closed: `[a, b, c, a]` (a needs b needs c …)."""

    def __init__(self, cycle: list[str]) -> None:
        super().__init__(" → ".join(cycle))
        self.cycle = cycle


def _edges(graph: Graph, node: str) -> Iterable[str]:
    return (need for need in dict.fromkeys(graph.get(node, ())) if need in graph)


def dependants(graph: Graph) -> dict[str, list[str]]:
    """The reverse graph: for each node, the nodes that need it (its downstream), in order."""
    reverse: dict[str, list[str]] = {node: [] for node in graph}
    for node in graph:
        for need in _edges(graph, node):
            reverse[need].append(node)
    return reverse


def topological_order(graph: Graph) -> list[str]:
    """Every node after all it needs; ties keep the graph's order.  CycleError on a cycle."""
    position = {node: index for index, node in enumerate(graph)}
    waiting = {node: sum(1 for _need in _edges(graph, node)) for node in graph}
    reverse = dependants(graph)
    ready = [position[node] for node, count in waiting.items() if count == 0]
    heapq.heapify(ready)
    order: list[str] = []
    nodes = list(graph)
    while ready:
        node = nodes[heapq.heappop(ready)]
        order.append(node)
        for downstream in reverse[node]:
            waiting[downstream] -= 1
            if waiting[downstream] == 0:
                heapq.heappush(ready, position[downstream])
    if len(order) != len(graph):
        cycle = find_cycle(graph)
        raise CycleError(cycle or [])
    return order


def strongly_connected(graph: Graph) -> list[list[str]]:
    """Tarjan's strongly connected components (iterative), each in graph order."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    for root in graph:
        if root in index:
            continue
        work: list[tuple[str, Iterable[str]]] = [(root, iter(list(_edges(graph, root))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, edges = work[-1]
            advanced = False
            for need in edges:
                if need not in index:
                    index[need] = low[need] = len(index)
                    stack.append(need)
                    on_stack.add(need)
                    work.append((need, iter(list(_edges(graph, need)))))
                    advanced = True
                    break
                if need in on_stack:
                    low[node] = min(low[node], index[need])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(component)
    position = {node: i for i, node in enumerate(graph)}
    return [sorted(component, key=position.__getitem__) for component in components]


def _cycle_through(graph: Graph, start: str, members: set[str]) -> list[str]:
    """The shortest cycle from `start` back to itself, staying inside `members`."""
    previous: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for need in _edges(graph, node):
            if need == start:
                path = [start]
                while node != start:
                    path.append(node)
                    node = previous[node]
                path.append(start)
                return [path[0], *reversed(path[1:-1]), start]
            if need in members and need not in previous:
                previous[need] = node
                queue.append(need)
    return [start, start]


def find_cycles(graph: Graph) -> list[list[str]]:
    """One closed cycle per cyclic component, e.g. `[["a", "b", "a"]]`; [] for a DAG.

    A self-need (`a` needs `a`) is reported as `["a", "a"]`.
    """
    cycles: list[list[str]] = []
    for component in strongly_connected(graph):
        start = component[0]
        if len(component) > 1 or start in graph.get(start, ()):
            cycles.append(_cycle_through(graph, start, set(component)))
    position = {node: i for i, node in enumerate(graph)}
    return sorted(cycles, key=lambda cycle: position[cycle[0]])


def find_cycle(graph: Graph) -> list[str] | None:
    """The first cycle (closed: `[a, b, a]`), or None when the graph is a DAG."""
    cycles = find_cycles(graph)
    return cycles[0] if cycles else None


def ancestors(graph: Graph, node: str) -> set[str]:
    """Everything `node` needs, directly or transitively (not `node` itself unless cyclic)."""
    seen: set[str] = set()
    queue = deque(_edges(graph, node))
    while queue:
        need = queue.popleft()
        if need not in seen:
            seen.add(need)
            queue.extend(_edges(graph, need))
    return seen


def descendants(graph: Graph, node: str) -> set[str]:
    """Everything that needs `node`, directly or transitively."""
    return ancestors(dependants(graph), node)


class Upstream:
    """Answers "is B upstream of A?" for many pairs: one bit set per node, built once.

    Bitsets keep a 10,000-task chain at ~12 MB instead of 50 million set entries.
    The graph must be acyclic (check with `find_cycles` first); cyclic parts are skipped.
    """

    def __init__(self, graph: Graph) -> None:
        self._bit = {node: 1 << i for i, node in enumerate(graph)}
        self._mask: dict[str, int] = {}
        try:
            order = topological_order(graph)
        except CycleError:
            order = []
        for node in order:
            mask = 0
            for need in _edges(graph, node):
                mask |= self._bit[need] | self._mask[need]
            self._mask[node] = mask

    def includes(self, node: str, other: str) -> bool:
        """True when `node` needs `other`, directly or transitively."""
        bit = self._bit.get(other)
        return bit is not None and bool(self._mask.get(node, 0) & bit)
