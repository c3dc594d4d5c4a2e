"""The state machine's picture (docs/images/, `make diagram`): generated from the ASL, and regenerated whenever
the ASL changes; the layout works for any ASL."""

from __future__ import annotations

import json
import shutil

import pytest
from trainops_local import diagram

from tests.conftest import ROOT

ASL_FILES = sorted((ROOT / "statemachines").glob("*.asl.json"))

SYNTHETIC = {
    "Comment": "a polling loop, a Parallel, a Map, a JSONata condition and a state nothing reaches",
    "StartAt": "Start",
    "States": {
        "Start": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Next": "Poll",
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Oops"}],
        },
        "Poll": {"Type": "Task", "Resource": "${PollArn}", "Next": "Done?"},
        "Done?": {
            "Type": "Choice",
            "Choices": [
                {
                    "And": [
                        {"Variable": "$.status", "StringEquals": "Completed"},
                        {"Variable": "$.n", "NumericGreaterThan": 3},
                    ],
                    "Next": "Fan",
                },
                {"Condition": "{% $states.input.status = 'Failed' %}", "Next": "Oops"},
            ],
            "Default": "Wait",
        },
        "Wait": {"Type": "Wait", "Seconds": 30, "Next": "Poll"},
        "Fan": {
            "Type": "Parallel",
            "Branches": [
                {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}},
                {"StartAt": "B", "States": {"B": {"Type": "Pass", "Next": "C"}, "C": {"Type": "Pass", "End": True}}},
            ],
            "Next": "Each",
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Oops"}],
        },
        "Each": {
            "Type": "Map",
            "ItemProcessor": {"StartAt": "Item", "States": {"Item": {"Type": "Pass", "End": True}}},
            "Next": "Ok",
        },
        "Ok": {"Type": "Succeed"},
        "Oops": {"Type": "Fail"},
        "Orphan": {"Type": "Pass", "Next": "Ok"},
    },
}


def _overlaps(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _assert_layout_is_clean(graph: diagram.Graph) -> diagram.Layout:
    layout = diagram.layout(graph)
    boxes = layout.boxes()
    assert set(boxes) == {n.name for n in graph.nodes}, "every state is drawn, once"
    names = sorted(boxes)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            assert not _overlaps(boxes[a], boxes[b]), f"{a} and {b} overlap"
    assert set(layout.routes) == set(range(len(graph.edges))), "every edge is drawn"
    return layout


@pytest.mark.parametrize("asl", ASL_FILES, ids=lambda p: p.name)
def test_the_diagram_in_the_docs_shows_the_current_asl(asl):
    # Given the ASL as it is now, and the image and structure file `make diagram` wrote beside each other
    # Then they describe the same states and edges (else: run `make diagram` and commit docs/images/)
    reason = diagram.stale(asl)
    assert reason is None, f"{reason}: run `make diagram` and commit docs/images/"


def test_a_changed_asl_makes_the_diagram_stale(tmp_path):
    # Given an up-to-date diagram of a copy of the pipeline
    asl = tmp_path / "training_pipeline.asl.json"
    shutil.copy(ROOT / "statemachines" / "training_pipeline.asl.json", asl)
    png = diagram.generate(asl, tmp_path / "training_pipeline.png")
    assert png.read_bytes().startswith(b"\x89PNG")
    assert diagram.stale(asl, tmp_path) is None
    # When a state is added to the ASL and the diagram is not regenerated
    doc = json.loads(asl.read_text())
    doc["States"]["Extra"] = {"Type": "Pass", "Next": "Registered"}
    doc["States"]["FinishRun"]["Next"] = "Extra"
    asl.write_text(json.dumps(doc))
    # Then the check says so, naming what changed
    assert "changed" in diagram.stale(asl, tmp_path)
    # and a regenerated diagram is current again
    diagram.generate(asl, tmp_path / "training_pipeline.png")
    assert diagram.stale(asl, tmp_path) is None


def test_the_pipeline_layout_has_no_overlaps_and_catch_edges_are_their_own_kind():
    graph = diagram.structure(json.loads((ROOT / "statemachines" / "training_pipeline.asl.json").read_text()))
    layout = _assert_layout_is_clean(graph)
    catches = [e for e in graph.edges if e.kind == diagram.CATCH]
    assert {e.target for e in catches} >= {"RecordFailure"}
    # the start is on top and every state is below a state that leads to it (or is the start)
    assert layout.layer[graph.start] == 0
    for e in graph.edges:
        if (e.source, e.target, e.kind) not in layout.back_edges:
            assert layout.layer[e.target] > layout.layer[e.source], e


def test_any_asl_is_drawn_loops_branches_and_unreachable_states_included():
    graph = diagram.structure(SYNTHETIC)
    layout = _assert_layout_is_clean(graph)
    assert ("Wait", "Poll", diagram.NEXT) in layout.back_edges  # the polling loop is drawn as a loop
    details = {n.name: n.detail for n in graph.nodes}
    assert details["Fan"] == "Parallel: A | B → C"
    assert details["Each"] == "Map: Item"
    assert details["Poll"] == "Task · Poll"
    labels = {e.label for e in graph.edges if e.kind == diagram.CHOICE}
    assert any("status = Completed" in label for label in labels)
    assert "Orphan" in layout.x
    assert diagram.render(graph, title="synthetic").startswith(b"\x89PNG")
