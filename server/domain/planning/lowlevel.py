"""Low-level codes and BOM cycles: the order in which MRP nets products.

A product's low-level code is the deepest level at which it appears in any bill of materials
(finished goods that are nobody's component are level 0). Netting level by level in this order
means every parent is planned before any of its components, so a component used at several
levels receives all its dependent requirements before it is netted, and is netted once.

A BOM with a cycle has no such order; ``find_cycle`` names one cycle so that the importer can
refuse the file with a message a planner can act on. Pure functions of the BOM, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from server.domain.planning.model import BomLine
from shared.errors import InvalidInput

__all__ = ["BomCycle", "find_cycle", "low_level_codes"]


class BomCycle(InvalidInput):
    """The BOM makes a product (indirectly) a component of itself."""

    code = "bom_cycle"

    def __init__(self, path: list[str]) -> None:
        super().__init__("BOM cycle: " + " -> ".join(path))
        self.path = path


def _children(bom: Mapping[str, Iterable[BomLine]]) -> dict[str, list[str]]:
    """Parent -> its distinct components, in BOM line order (for a deterministic walk)."""
    out: dict[str, list[str]] = {}
    for parent, lines in bom.items():
        seen: dict[str, None] = {}
        for line in lines:
            seen[line.component] = None
        out[parent] = list(seen)
    return out


def find_cycle(bom: Mapping[str, Iterable[BomLine]]) -> list[str] | None:
    """One cycle of the BOM as a path that starts and ends on the same sku (``["A", "B", "A"]``;
    a product listed as its own component gives ``["A", "A"]``), or ``None`` if there is none.

    Depth-first from each parent in sorted order, components in line order, so the same BOM
    always names the same cycle. Iterative, so a deep BOM cannot overflow the stack.
    """
    children = _children(bom)
    state: dict[str, int] = {}  # 1 = on the current path, 2 = finished
    for root in sorted(children):
        if root in state:
            continue
        path = [root]
        iters = [iter(children.get(root, ()))]
        state[root] = 1
        while iters:
            nxt = next(iters[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                iters.pop()
                continue
            seen = state.get(nxt)
            if seen == 1:
                return [*path[path.index(nxt):], nxt]
            if seen is None:
                state[nxt] = 1
                path.append(nxt)
                iters.append(iter(children.get(nxt, ())))
    return None


def low_level_codes(bom: Mapping[str, Iterable[BomLine]],
                    skus: Iterable[str] = ()) -> dict[str, int]:
    """Sku -> low-level code for every sku in ``skus`` and every parent or component in ``bom``.

    Kahn's topological order over parent -> component edges, each component taking the
    largest ``parent level + 1``: linear in the number of BOM lines. Raises ``BomCycle``.
    """
    children = _children(bom)
    indegree: dict[str, int] = dict.fromkeys(skus, 0)
    for parent, comps in children.items():
        indegree.setdefault(parent, 0)
        for c in comps:
            indegree[c] = indegree.get(c, 0) + 1
    level = dict.fromkeys(indegree, 0)
    ready = [s for s, n in indegree.items() if n == 0]
    done = 0
    while ready:
        sku = ready.pop()
        done += 1
        below = level[sku] + 1
        for c in children.get(sku, ()):
            if level[c] < below:
                level[c] = below
            indegree[c] -= 1
            if indegree[c] == 0:
                ready.append(c)
    if done != len(level):
        cycle = find_cycle(bom)
        assert cycle is not None
        raise BomCycle(cycle)
    return level
