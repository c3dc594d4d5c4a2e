"""A picture of a state machine, drawn from its ASL with matplotlib (no graphviz binary needed).

    python -m trainops_local.diagram                    every statemachines/*.asl.json -> docs/images/<name>.png
    python -m trainops_local.diagram ASL --out PNG      one file

Any ASL: states are laid out in layers from ``StartAt`` following ``Next``, ``Default``, ``Choices`` and
``Catch`` (a state sits below every state that leads to it, so the failure path sinks to the bottom), edges
that loop back are drawn as arcs, ``Parallel``/``Map`` states are one box naming their branches' states, and
states nothing reaches are still drawn. Long edges run through lanes shared by edges of the same kind into the
same state, so the many ``Catch`` edges into one failure handler become one bus.

Beside each image, ``<name>.structure.json`` holds what the picture shows (states, types, edges) and the
image's SHA-256: ``tests/template/test_diagram.py`` regenerates the structure from the ASL and fails when it
differs, i.e. when the ASL changed and ``make diagram`` was not run.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import itertools
import json
import sys
import textwrap
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
STATEMACHINES = REPO / "statemachines"
IMAGES = REPO / "docs" / "images"

# edge kinds: how a state leaves for the next one
NEXT, CHOICE, DEFAULT, CATCH = "next", "choice", "default", "catch"
TYPE_COLORS = {
    "Task": "#dbe9f6",
    "Choice": "#fff2cc",
    "Pass": "#eeeeee",
    "Wait": "#e8e0f4",
    "Parallel": "#d9efe6",
    "Map": "#d9efe6",
    "Succeed": "#cdeccd",
    "Fail": "#f8d0cc",
}
EDGE_STYLE: dict[str, dict[str, Any]] = {
    NEXT: {"color": "#333333", "linestyle": "-"},
    CHOICE: {"color": "#8a6d00", "linestyle": "-"},
    DEFAULT: {"color": "#8a6d00", "linestyle": "-"},
    CATCH: {"color": "#c0392b", "linestyle": (0, (4, 3))},
}
BACK_COLOR = "#7b3fa0"

# geometry, in inches (the axes map one data unit to one inch, so text sizes are predictable)
NODE_H = 0.52
LAYER_GAP = 1.05
NODE_GAP = 0.35
DUMMY_W = 0.12
NAME_CHAR_W = 0.082  # bold 9 pt
DETAIL_CHAR_W = 0.060  # 7 pt
MAX_DETAIL = 40
LABEL_MAX = 26


@dataclass(frozen=True)
class Node:
    name: str
    type: str
    detail: str
    end: bool


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    kind: str
    label: str


@dataclass
class Graph:
    start: str
    nodes: list[Node]
    edges: list[Edge]
    comment: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "start": self.start,
            "nodes": [asdict(n) for n in self.nodes],
            "edges": [asdict(e) for e in self.edges],
        }


@dataclass
class Layout:
    """Where everything goes: node centres and sizes, and each edge's points (through its lanes)."""

    layer: dict[str, int]
    order: list[list[str]]  # per layer, left to right (dummies included)
    x: dict[str, float]
    width: dict[str, float]
    back_edges: set[tuple[str, str, str]] = field(default_factory=set)
    routes: dict[int, list[str]] = field(default_factory=dict)  # edge index -> node/dummy path
    bus_top: dict[str, int] = field(default_factory=dict)  # catch target -> the first layer its bus serves
    back_span: dict[str, tuple[int, int]] = field(default_factory=dict)  # loop lane -> (from layer, to layer)

    def y(self, name: str) -> float:
        return -self.layer[name] * LAYER_GAP

    def boxes(self) -> dict[str, tuple[float, float, float, float]]:
        """(x0, y0, x1, y1) of every real state's box."""
        return {
            n: (
                self.x[n] - self.width[n] / 2,
                self.y(n) - NODE_H / 2,
                self.x[n] + self.width[n] / 2,
                self.y(n) + NODE_H / 2,
            )
            for n in self.x
            if not n.startswith("\0")
        }


# -- the structure --------------------------------------------------------------------------------------
def _short(text: str, limit: int = MAX_DETAIL) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _path(variable: str) -> str:
    return variable[2:] if variable.startswith("$.") else variable.lstrip("$")


def condition_label(rule: dict[str, Any]) -> str:  # noqa: PLR0911  (drawing code: one branch per ASL state type and edge kind)
    """A short, readable form of a Choice rule (JSONPath comparisons, And/Or/Not, or a JSONata Condition)."""
    if "Condition" in rule:
        return _short(str(rule["Condition"]).strip("{}% "), LABEL_MAX)
    if "And" in rule or "Or" in rule:
        op = "And" if "And" in rule else "Or"
        return _short(f" {op.lower()} ".join(condition_label(r) for r in rule[op]), LABEL_MAX)
    if "Not" in rule:
        return _short(f"not {condition_label(rule['Not'])}", LABEL_MAX)
    variable = _path(str(rule.get("Variable", "")))
    for key, value in rule.items():
        if key in ("Variable", "Next", "Comment", "Assign", "Output"):
            continue
        op = key.removesuffix("Path")
        shown = (
            f"${_path(str(value))}"
            if key.endswith("Path")
            else json.dumps(value)
            if not isinstance(value, str)
            else value
        )
        if op == "BooleanEquals":
            return _short(variable if value is True else f"not {variable}", LABEL_MAX)
        if op.startswith("Is"):
            return _short(f"{variable} {op[2:].lower()}" + ("" if value else " (no)"), LABEL_MAX)
        symbol = {"Equals": "=", "LessThan": "<", "GreaterThan": ">", "LessThanEquals": "≤", "GreaterThanEquals": "≥"}
        for suffix, sym in symbol.items():
            if op.endswith(suffix) and not op.startswith("StringMatches"):
                return _short(f"{variable} {sym} {shown}", LABEL_MAX)
        return _short(f"{variable} {op} {shown}", LABEL_MAX)
    return "rule"


def _detail(state: dict[str, Any]) -> str:
    kind = state.get("Type", "?")
    if kind == "Task":
        resource = str(state.get("Resource", ""))
        if resource.startswith("${") and resource.endswith("}"):  # a DefinitionSubstitutions ARN
            tail = resource[2:-1].removesuffix("Arn")
        elif ":::" in resource:  # an optimized integration: arn:aws:states:::lambda:invoke.waitForTaskToken
            tail = resource.split(":::", 1)[1]
        else:
            tail = resource.rsplit(":", 1)[-1]
        return _short(f"Task · {tail}" if tail else "Task")
    if kind in ("Parallel", "Map"):
        branches = state.get("Branches") or [state.get("ItemProcessor") or state.get("Iterator") or {}]
        names = [" → ".join(b.get("States", {})) for b in branches]
        label = f"{kind}: " + " | ".join(names)
        return _short(label, MAX_DETAIL + 10)
    return kind


def structure(asl: dict[str, Any]) -> Graph:
    """The states and edges of an ASL definition (its top level; nested branches are named in their box)."""
    states: dict[str, dict[str, Any]] = asl["States"]
    nodes = [Node(name, s.get("Type", "?"), _detail(s), bool(s.get("End"))) for name, s in states.items()]
    edges: list[Edge] = []
    for name, s in states.items():
        if s.get("Next"):
            edges.append(Edge(name, s["Next"], NEXT, ""))
        for rule in s.get("Choices", []):
            edges.append(Edge(name, rule["Next"], CHOICE, condition_label(rule)))
        if s.get("Default"):
            edges.append(Edge(name, s["Default"], DEFAULT, "default"))
        for catch in s.get("Catch", []):
            edges.append(Edge(name, catch["Next"], CATCH, ", ".join(catch.get("ErrorEquals", []))))
    known = set(states)
    edges = [e for e in edges if e.target in known]  # a dangling Next is the ASL test's business
    return Graph(start=asl["StartAt"], nodes=nodes, edges=edges, comment=str(asl.get("Comment", "")))


# -- the layout -----------------------------------------------------------------------------------------
def _node_width(node: Node) -> float:
    return max(len(node.name) * NAME_CHAR_W, len(node.detail) * DETAIL_CHAR_W) + 0.32


def layout(graph: Graph) -> Layout:  # noqa: PLR0912, PLR0915  (drawing code: one branch per ASL state type and edge kind)
    """Layers by longest path from StartAt (back edges ignored), crossings reduced by barycentres, long edges
    routed through shared lanes, x placed so each state sits near the states it connects to."""
    names = [n.name for n in graph.nodes]
    out: dict[str, list[Edge]] = defaultdict(list)
    for e in graph.edges:
        out[e.source].append(e)

    # back edges: DFS from StartAt, then from states nothing reached (in ASL order)
    back: set[tuple[str, str, str]] = set()
    seen: set[str] = set()
    discovery: list[str] = []
    for root in [graph.start, *names]:
        if root in seen:
            continue
        stack: list[tuple[str, int]] = [(root, 0)]
        on_stack = {root}
        seen.add(root)
        discovery.append(root)
        while stack:
            node, i = stack[-1]
            if i < len(out[node]):
                stack[-1] = (node, i + 1)
                e = out[node][i]
                if e.target in on_stack:
                    back.add((e.source, e.target, e.kind))
                elif e.target not in seen:
                    seen.add(e.target)
                    discovery.append(e.target)
                    on_stack.add(e.target)
                    stack.append((e.target, 0))
            else:
                on_stack.discard(node)
                stack.pop()
    forward = [e for e in graph.edges if (e.source, e.target, e.kind) not in back]

    # longest-path layering (a topological order of the forward edges)
    indegree = {n: 0 for n in names}
    for e in forward:
        indegree[e.target] += 1
    layer = dict.fromkeys(names, 0)
    ready = [n for n in discovery if indegree[n] == 0]
    while ready:
        node = ready.pop(0)
        for e in out[node]:
            if (e.source, e.target, e.kind) in back:
                continue
            layer[e.target] = max(layer[e.target], layer[node] + 1)
            indegree[e.target] -= 1
            if indegree[e.target] == 0:
                ready.append(e.target)

    # long edges: a Next/Choice edge spanning several layers runs through one dummy per layer (shared by the
    # edges into the same state); long Catch edges into one state join a bus on the right (laid out last)
    width = {n.name: _node_width(n) for n in graph.nodes}
    routes: dict[int, list[str]] = {}
    buses: dict[str, list[str]] = defaultdict(list)  # catch target -> the states whose edges join its bus
    for index, e in enumerate(graph.edges):
        if (e.source, e.target, e.kind) in back:
            continue
        if e.kind == CATCH and layer[e.target] - layer[e.source] > 1:
            buses[e.target].append(e.source)
            routes[index] = [e.source, f"\0bus:{e.target}", e.target]
            continue
        path = [e.source]
        for lay in range(layer[e.source] + 1, layer[e.target]):
            dummy = f"\0flow:{e.target}:{lay}"
            layer[dummy] = lay
            width[dummy] = DUMMY_W
            path.append(dummy)
        path.append(e.target)
        routes[index] = path
    up: dict[str, set[str]] = defaultdict(set)
    down: dict[str, set[str]] = defaultdict(set)
    for path in routes.values():
        if path[1].startswith("\0bus:"):
            continue
        for a, b in itertools.pairwise(path):
            down[a].add(b)
            up[b].add(a)

    depth = max(layer.values()) + 1
    rank = {n: i for i, n in enumerate(discovery)}
    order: list[list[str]] = [[] for _ in range(depth)]
    for node in sorted(layer, key=lambda n: (rank.get(n, len(rank)), n)):
        order[layer[node]].append(node)
    # dummies first appear next to the state their edge comes from
    for lay in range(1, depth):
        order[lay] = _sorted_by_barycentre(order[lay], up, order[lay - 1])
    best = [list(o) for o in order]
    best_crossings = _crossings(best, down)
    for sweep in range(12):
        if sweep % 2 == 0:
            for lay in range(1, depth):
                order[lay] = _sorted_by_barycentre(order[lay], up, order[lay - 1])
        else:
            for lay in range(depth - 2, -1, -1):
                order[lay] = _sorted_by_barycentre(order[lay], down, order[lay + 1])
        crossings = _crossings(order, down)
        if crossings < best_crossings:
            best, best_crossings = [list(o) for o in order], crossings
    order = best

    # x: start packed, then pull every node towards the mean of its neighbours, keeping order and spacing
    x: dict[str, float] = {}
    for row in order:
        _pack(row, {n: 0.0 for n in row}, width, x)
    for sweep in range(24):
        rows = range(depth) if sweep % 2 == 0 else range(depth - 1, -1, -1)
        for lay in rows:
            row = order[lay]
            desired = {}
            for n in row:
                linked = [x[m] for m in (up[n] | down[n])]
                desired[n] = sum(linked) / len(linked) if linked else x[n]
                lane = [x[m] for m in (up[n] | down[n]) if m.startswith("\0")]
                if n.startswith("\0") and lane:  # lanes run straight down
                    desired[n] = 0.85 * sum(lane) / len(lane) + 0.15 * desired[n]
            _pack(row, desired, width, x)
    # each bus runs down right of every state in the layers it passes, the longest furthest out
    bus_top: dict[str, int] = {}
    right = 0.0
    for target, sources in sorted(buses.items(), key=lambda kv: layer[kv[0]] - min(layer[s] for s in kv[1])):
        top = min(layer[s] for s in sources)
        bus_top[target] = top
        passed = [n for n in x if top <= layer[n] <= layer[target] and not n.startswith("\0bus:")]
        right = max(right, *(x[n] + width[n] / 2 for n in passed)) + NODE_GAP
        bus = f"\0bus:{target}"
        x[bus], width[bus], layer[bus] = right, DUMMY_W, layer[target] - 1
    # each loop runs up a lane of its own, right of everything in the layers it spans
    back_span: dict[str, tuple[int, int]] = {}
    for index, e in enumerate(graph.edges):
        if (e.source, e.target, e.kind) not in back:
            continue
        top, bottom = layer[e.target], layer[e.source]
        passed = [n for n in x if top <= layer[n] <= bottom or n.startswith("\0bus:")]
        loop = f"\0back:{index}"
        x[loop] = max(x[n] + width[n] / 2 for n in passed) + NODE_GAP
        width[loop], layer[loop] = DUMMY_W, bottom
        back_span[loop] = (bottom, top)
        routes[index] = [e.source, loop, e.target]
    left = min(x[n] - width[n] / 2 for n in x)
    for n in x:
        x[n] -= left
    return Layout(
        layer=layer,
        order=order,
        x=x,
        width=width,
        back_edges=back,
        routes=routes,
        bus_top=bus_top,
        back_span=back_span,
    )


def _sorted_by_barycentre(row: list[str], links: dict[str, set[str]], other: list[str]) -> list[str]:
    """``row`` ordered by the mean position of each node's links in ``other`` (unlinked nodes stay put)."""
    where = {n: i for i, n in enumerate(other)}
    keys = {}
    for i, node in enumerate(row):
        positions = [where[m] for m in links[node] if m in where]
        keys[node] = sum(positions) / len(positions) if positions else float(i)
    return sorted(row, key=lambda n: keys[n])


def _crossings(order: list[list[str]], down: dict[str, set[str]]) -> int:
    total = 0
    for upper, lower in itertools.pairwise(order):
        pos = {n: i for i, n in enumerate(lower)}
        segments = sorted((i, pos[b]) for i, a in enumerate(upper) for b in down[a] if b in pos)
        for i, (a1, b1) in enumerate(segments):
            total += sum(1 for a2, b2 in segments[i + 1 :] if a2 > a1 and b2 < b1)
    return total


def _pack(row: list[str], desired: dict[str, float], width: dict[str, float], x: dict[str, float]) -> None:
    """Place ``row`` in order, as near ``desired`` as the spacing allows (left-right and right-left passes)."""
    if not row:
        return
    gap = [(width[a] + width[b]) / 2 + NODE_GAP for a, b in itertools.pairwise(row)]
    forward = [desired[row[0]]]
    for i in range(1, len(row)):
        forward.append(max(desired[row[i]], forward[-1] + gap[i - 1]))
    backward = [desired[row[-1]]]
    for i in range(len(row) - 2, -1, -1):
        backward.insert(0, min(desired[row[i]], backward[0] - gap[i]))
    placed = [(f + b) / 2 for f, b in zip(forward, backward, strict=False)]
    for i in range(1, len(row)):  # the average of two valid placements keeps the spacing; belt and braces
        placed[i] = max(placed[i], placed[i - 1] + gap[i - 1])
    for n, value in zip(row, placed, strict=False):
        x[n] = value


# -- the drawing ----------------------------------------------------------------------------------------
def render(graph: Graph, *, title: str = "") -> bytes:  # noqa: PLR0912, PLR0915  (drawing code: one branch per ASL state type and edge kind)
    """The diagram as PNG bytes (deterministic: no timestamp or software metadata)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Patch
    from matplotlib.path import Path as MplPath

    lay = layout(graph)
    nodes = {n.name: n for n in graph.nodes}
    x0 = min(lay.x[n] - lay.width[n] / 2 for n in lay.x) - 0.4
    x1 = max(lay.x[n] + lay.width[n] / 2 for n in lay.x) + 0.4
    depth = max(lay.layer.values())
    # the ASL's Comment under the title: at most two lines
    comment = textwrap.wrap(graph.comment, width=int((max(x1 - x0, 7.2) - 0.5) / 0.062))[:2]
    header = 1.1 + 0.17 * len(comment)
    y0, y1 = -depth * LAYER_GAP - NODE_H / 2 - 0.35, NODE_H / 2 + header
    x1 = max(x1, x0 + 7.2)  # room for the legend
    fig = plt.figure(figsize=(x1 - x0, y1 - y0))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_axis_off()

    # ports: a state's outgoing segments leave from points spread along its bottom, ordered by where they go
    segments: list[tuple[int, str, str]] = []
    for index, path in lay.routes.items():
        segments.extend((index, a, b) for a, b in itertools.pairwise(path))
    drawn: dict[tuple[str, str, str], int] = {}
    unique: list[tuple[int, str, str]] = []
    for index, a, b in segments:
        family = "catch" if graph.edges[index].kind == CATCH else "flow"
        key = (a, b, family)
        if key in drawn and a.startswith("\0"):
            continue  # a shared lane is drawn once
        drawn[key] = index
        unique.append((index, a, b))
    out_ports = _ports(unique, lay, outgoing=True)
    in_ports = _ports(unique, lay, outgoing=False)

    label_turn: dict[str, int] = defaultdict(int)
    unique.sort(key=lambda seg: (seg[1], out_ports.get(seg, 0.0)))  # left to right from each state
    for index, a, b in unique:
        edge = graph.edges[index]
        style = EDGE_STYLE[edge.kind]
        start = (lay.x[a] + out_ports[(index, a, b)], lay.y(a) - (0 if a.startswith("\0") else NODE_H / 2))
        end = (lay.x[b] + in_ports[(index, a, b)], lay.y(b) + (0 if b.startswith("\0") else NODE_H / 2))
        # lanes leave and arrive through the gaps between layers, each kind at its own height so that a
        # loop's and a bus's horizontal runs never lie on each other
        below = {"bus": 0.55, "back": 0.25}
        if b.startswith(("\0bus:", "\0back:")):  # down into the gap below the state, then right to the lane
            drop = NODE_H / 2 + (LAYER_GAP - NODE_H) * below[b[1:].split(":")[0]]
            points = [start, (start[0], lay.y(a) - drop), (lay.x[b], lay.y(a) - drop)]
        elif a.startswith("\0bus:"):  # the bus itself, then left above its state, then down into it
            drop = NODE_H / 2 + (LAYER_GAP - NODE_H) * below["bus"]
            top = -lay.bus_top[b] * LAYER_GAP - drop
            rise = LAYER_GAP - drop
            points = [(lay.x[a], top), (lay.x[a], lay.y(b) + rise), (end[0], lay.y(b) + rise), end]
        elif a.startswith("\0back:"):  # up the loop's lane, left above its state, down into it
            drop = NODE_H / 2 + (LAYER_GAP - NODE_H) * below["back"]
            bottom = -lay.back_span[a][0] * LAYER_GAP - drop
            rise = NODE_H / 2 + (LAYER_GAP - NODE_H) * below["back"]
            points = [(lay.x[a], bottom), (lay.x[a], lay.y(b) + rise), (end[0], lay.y(b) + rise), end]
        else:
            points = [start, end]
        if a.startswith("\0back:") or b.startswith("\0back:"):
            style = {**style, "color": BACK_COLOR}
        last = not b.startswith("\0")
        ax.add_patch(
            FancyArrowPatch(
                path=MplPath(points),
                arrowstyle="-|>,head_length=6,head_width=3" if last else "-",
                mutation_scale=1.0,
                shrinkA=0,
                shrinkB=0,
                linewidth=1.3,
                joinstyle="miter",
                zorder=1,
                **style,
            )
        )
        if edge.kind in (CHOICE, DEFAULT) and not a.startswith("\0"):
            # labels of neighbouring edges are staggered so they never sit side by side
            t = 0.3 if label_turn[a] % 2 == 0 else 0.62
            label_turn[a] += 1
            ax.text(
                points[0][0] + (points[1][0] - points[0][0]) * t,
                points[0][1] + (points[1][1] - points[0][1]) * t,
                edge.label,
                fontsize=7,
                color=style["color"],
                ha="center",
                va="center",
                zorder=3,
                bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none", "alpha": 0.9},
            )

    for name, (bx0, by0, bx1, by1) in lay.boxes().items():
        node = nodes[name]
        color = TYPE_COLORS.get(node.type, "#ffffff")
        terminal = node.type in ("Succeed", "Fail") or node.end
        ax.add_patch(
            FancyBboxPatch(
                (bx0, by0),
                bx1 - bx0,
                by1 - by0,
                boxstyle="round,pad=0,rounding_size=0.12",
                facecolor=color,
                edgecolor="#333333",
                linewidth=2.0 if terminal else 1.0,
                zorder=2,
            )
        )
        cx, cy = (bx0 + bx1) / 2, (by0 + by1) / 2
        ax.text(cx, cy + 0.08, name, fontsize=9, fontweight="bold", ha="center", va="center", zorder=3)
        ax.text(cx, cy - 0.13, node.detail, fontsize=7, color="#444444", ha="center", va="center", zorder=3)

    ax.text(x0 + 0.25, y1 - 0.25, title or "state machine", fontsize=12, fontweight="bold", va="center")
    if comment:
        ax.text(x0 + 0.25, y1 - 0.42, "\n".join(comment), fontsize=7.5, color="#444444", va="top", linespacing=1.4)
    handles: list[Any] = [
        Line2D([], [], color=EDGE_STYLE[NEXT]["color"], label="Next"),
        Line2D([], [], color=EDGE_STYLE[CHOICE]["color"], label="Choice rule / Default"),
        Line2D([], [], color=EDGE_STYLE[CATCH]["color"], linestyle=EDGE_STYLE[CATCH]["linestyle"], label="Catch"),
    ]
    if lay.back_edges:
        handles.append(Line2D([], [], color=BACK_COLOR, label="loops back"))
    types = sorted({n.type for n in graph.nodes}, key=lambda t: list(TYPE_COLORS).index(t) if t in TYPE_COLORS else 99)
    handles += [Patch(facecolor=TYPE_COLORS.get(t, "#ffffff"), edgecolor="#333333", label=t) for t in types]
    ax.legend(
        handles=handles,
        loc="upper left",
        bbox_to_anchor=(0.25 / (x1 - x0), 1 - (0.5 + 0.17 * len(comment)) / (y1 - y0)),
        ncol=min(len(handles), 5),
        fontsize=7.5,
        frameon=False,
        handlelength=2.2,
        columnspacing=1.2,
    )
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, metadata={"Software": None})
    plt.close(fig)
    return buffer.getvalue()


def _ports(segments: list[tuple[int, str, str]], lay: Layout, *, outgoing: bool) -> dict[tuple[int, str, str], float]:
    """x offsets of segment ends on a state's bottom (outgoing) or top (incoming), ordered by the other end."""
    by_node: dict[str, list[tuple[int, str, str]]] = defaultdict(list)
    for seg in segments:
        by_node[seg[1] if outgoing else seg[2]].append(seg)
    ports: dict[tuple[int, str, str], float] = {}
    for node, segs in by_node.items():
        if node.startswith("\0"):
            ports.update(dict.fromkeys(segs, 0.0))
            continue
        # segments to the same other end share a port; distinct ends spread over 60 % of the width
        ends = sorted({s[2] if outgoing else s[1] for s in segs}, key=lambda n: lay.x[n])
        span = lay.width[node] * 0.6
        for seg in segs:
            other = seg[2] if outgoing else seg[1]
            i = ends.index(other)
            ports[seg] = 0.0 if len(ends) == 1 else -span / 2 + span * i / (len(ends) - 1)
    # two edges between the same pair of states (Next and Catch): side by side
    pairs: dict[tuple[str, str], list[tuple[int, str, str]]] = defaultdict(list)
    for seg in segments:
        pairs[(seg[1], seg[2])].append(seg)
    for segs in pairs.values():
        if len(segs) > 1:
            for k, seg in enumerate(sorted(segs)):
                ports[seg] += (k - (len(segs) - 1) / 2) * 0.22
    return ports


# -- files ------------------------------------------------------------------------------------------------
def image_paths(asl_path: Path, images: Path = IMAGES) -> tuple[Path, Path]:
    """(the PNG, the structure file beside it) of an ``<name>.asl.json``."""
    stem = asl_path.name.removesuffix(".json").removesuffix(".asl")
    return images / f"{stem}.png", images / f"{stem}.structure.json"


def description(asl_path: Path) -> dict[str, Any]:
    """What the diagram of ``asl_path`` shows: stored beside the image, compared by the test."""
    try:
        source = asl_path.resolve().relative_to(REPO).as_posix()
    except ValueError:
        source = asl_path.name
    return {"source": source, **structure(json.loads(asl_path.read_text())).to_json()}


def stale(asl_path: Path, images: Path = IMAGES) -> str | None:
    """Why the stored diagram of ``asl_path`` no longer shows it (None when it does): the image or its structure
    file is missing, the image is not the one generated with it, or the ASL's structure changed since."""
    png, meta = image_paths(asl_path, images)
    if not png.is_file() or not meta.is_file():
        return f"{png.name} or {meta.name} is missing"
    stored = json.loads(meta.read_text())
    if stored.pop("png_sha256", None) != hashlib.sha256(png.read_bytes()).hexdigest():
        return f"{png.name} is not the image generated with {meta.name}"
    current = description(asl_path)
    if stored != current:
        changed = sorted(k for k in current if stored.get(k) != current[k])
        return f"{asl_path.name} changed since {png.name} was drawn ({', '.join(changed)} differ)"
    return None


def generate(asl_path: Path, png: Path | None = None) -> Path:
    """Write the diagram of ``asl_path`` and its structure file; returns the PNG's path."""
    default_png, _ = image_paths(asl_path)
    png = png or default_png
    meta = png.with_name(png.name.removesuffix(".png") + ".structure.json")
    asl = json.loads(asl_path.read_text())
    graph = structure(asl)
    data = render(graph, title=asl_path.name)
    png.parent.mkdir(parents=True, exist_ok=True)
    png.write_bytes(data)
    doc = {**description(asl_path), "png_sha256": hashlib.sha256(data).hexdigest()}
    meta.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    return png


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m trainops_local.diagram", description=__doc__.splitlines()[0])
    parser.add_argument("asl", nargs="*", type=Path, help="ASL files (default: statemachines/*.asl.json)")
    parser.add_argument("--out", type=Path, help="the PNG (one ASL only; default docs/images/<name>.png)")
    args = parser.parse_args(argv)
    files = args.asl or sorted(STATEMACHINES.glob("*.asl.json"))
    if args.out and len(files) != 1:
        parser.error("--out takes one ASL file")
    for asl in files:
        print(generate(asl, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
