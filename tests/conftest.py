"""Fixtures shared by the suites that run the real template in the local cloud."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


@pytest.fixture(scope="module")
def trainops_cloud(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """template.yaml deployed into the local cloud, with real local SageMaker; one per test module.

    Tests use distinct project names, so they share the stack without seeing each other's runs. IAM is enforced
    in the end-to-end suite only (tests/e2e/conftest.py): the integration and state-machine suites inject faults
    through the handlers' shared clients and act on the cloud with the test's own client, which no role's
    policy covers, so they pin it off whatever ``$TRAINOPS_LOCAL_IAM`` says.
    """
    from trainops_local.runner import LocalTrainops

    iam = None if request.path.is_relative_to(Path(__file__).parent / "e2e") else False
    with LocalTrainops(tmp_path_factory.mktemp("trainops"), iam=iam) as app:
        yield app


def bad_rows_in_the_middle(path: Path, *, rows: int = 20000) -> Path:
    """A dataset already split (``<path>/train/data.csv`` and ``<path>/validation/data.csv``, so no split job
    runs, which would check every row) whose training file's head and tail are fine (the sample check, which
    reads the first and last 64 KiB, passes) with a non-numeric feature in the middle: the training job itself
    fails, as it would on AWS."""
    lines = []
    for i in range(rows):
        label = i % 2
        lines.append(f"{label},{i * 0.01:.4f},{(i % 13) * 0.5:.3f},{(i % 7) - 3},{label * 0.7 + (i % 5) * 0.1:.3f}")
    validation = lines[: rows // 10]
    lines[rows // 2] = "1,abc,0.5,1,0.2"
    (path / "train").mkdir(parents=True)
    (path / "validation").mkdir()
    (path / "train" / "data.csv").write_text("\n".join(lines) + "\n")
    (path / "validation" / "data.csv").write_text("\n".join(validation) + "\n")
    return path
