"""``bench/score-signals.py``, the issue-12 diagnostic, on a trained democnn and two pruned candidates.

It must measure what the campaign measures: its first row equals the engine's ``score`` job on the same
request (it checks so itself and stops otherwise), one row per candidate and length in that order, the
teacher signals in range; and a folder without candidates or a missing file is refused before any work,
naming it.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from agentic_engine.protocol import Emitter

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "score-signals.py"
ENGINE = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def campaign(trained_democnn: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A bench/accuracy campaign folder: ``attempt-1`` pruned at 30 % of channels, ``attempt-2`` at 60 %."""
    from agentic_engine.prune import run as prune

    folder = tmp_path_factory.mktemp("signals") / "campaign"
    for index, ratio in ((1, 0.3), (2, 0.6)):
        prune(
            {
                "model": trained_democnn["spec"],
                "strategy": {
                    "importance": "l2",
                    "globalPruning": True,
                    "isomorphic": True,
                    "pruningRatio": ratio,
                },
                "outDir": str(folder / f"attempt-{index}"),
            },
            Emitter(stream=io.StringIO()),
        )
    return {"folder": folder, **trained_democnn}


def _signals(
    campaign: dict[str, Any], *extra: str, folder: Path | None = None
) -> subprocess.CompletedProcess:
    args = [
        sys.executable,
        str(SCRIPT),
        "--campaign",
        str(folder or campaign["folder"]),
        "--dataset",
        str(campaign["root"]),
        "--teacher",
        campaign["spec"]["weights"],
        "--classes",
        str(len(campaign["classes"])),
        "--score-images",
        "100",
        *extra,
    ]
    env = {**os.environ, "PYTHONPATH": str(ENGINE)}
    return subprocess.run(args, capture_output=True, text=True, env=env, timeout=600, check=False)


def test_one_row_per_candidate_and_length_the_first_the_engines_own_score(job, campaign, tmp_path) -> None:
    run = _signals(campaign, "--steps", "2,4")
    assert run.returncode == 0, run.stderr
    rows = [json.loads(line) for line in run.stdout.splitlines()]
    assert [(r["attempt"], r["steps"]) for r in rows] == [(1, 2), (1, 4), (2, 2), (2, 4)]
    # The engine's score job on the first request gives the very figures of the first row.
    engine = job(
        "score",
        {
            "model": {
                "name": "democnn",
                "numClasses": len(campaign["classes"]),
                "pruned": str(campaign["folder"] / "attempt-1"),
            },
            "teacher": {
                "name": "democnn",
                "numClasses": len(campaign["classes"]),
                "weights": campaign["spec"]["weights"],
            },
            "dataset": {"root": str(campaign["root"]), "imageSize": 32},
            "mode": "recovery",
            "calibration": {"batches": 4, "batchSize": 32},
            "recovery": {"steps": 2, "batchSize": 32, "lr": 0.002, "kdAlpha": 0.5},
            "scoreImages": 100,
            "seed": 0,
            "workDir": str(tmp_path / "work"),
            "device": "cpu",
        },
    ).result
    assert (rows[0]["top1"], rows[0]["loss"], rows[0]["count"]) == (engine["top1"], engine["loss"], 100)
    for r in rows:
        assert r["kdAlpha"] == 0.5 and r["lr"] == 0.002
        assert 0 <= r["teacherAgreement"] <= 1
        assert r["teacherKl"] >= 0
    # The milder cut stays closer to its teacher than the harsher one after the same recovery.
    by = {(r["attempt"], r["steps"]): r for r in rows}
    assert by[(1, 4)]["teacherKl"] < by[(2, 4)]["teacherKl"]


def test_a_folder_without_candidates_or_a_missing_teacher_is_refused_naming_it(campaign, tmp_path) -> None:
    empty = _signals(campaign, folder=tmp_path)
    assert empty.returncode == 2
    assert f"{tmp_path}: no attempt-<n> folders" in empty.stderr
    missing = _signals({**campaign, "spec": {"weights": str(tmp_path / "none.pt")}}, "--steps", "2")
    assert missing.returncode == 2
    assert f"{tmp_path / 'none.pt'}: not found" in missing.stderr
    assert missing.stdout == ""
