"""``bench/zero-cost-signals.py``, the issue-12 diagnostic of training-free signals, on a trained democnn.

Three candidates pruned at 20, 40 and 60 % of channels: one row per candidate with the exact MACs and
parameters the engine's counter gives (the keys the finals are paired by), signals in range and ordered as
the cut is; a finals file joined by those keys gives each candidate its seed mean, and the last line's rho is
Spearman's on a known order. A folder without candidates is refused naming it.
"""

from __future__ import annotations

import importlib.util
import io
import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from agentic_engine.protocol import Emitter

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "zero-cost-signals.py"
ENGINE = Path(__file__).resolve().parents[1]
RATIOS = {1: 0.2, 2: 0.4, 3: 0.6}


def _module() -> Any:
    spec = importlib.util.spec_from_file_location("zero_cost_signals", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def campaign(trained_democnn: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from agentic_engine.prune import run as prune

    folder = tmp_path_factory.mktemp("zero-cost") / "campaign"
    pruned = {}
    for index, ratio in RATIOS.items():
        pruned[index] = prune(
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
    return {"folder": folder, "pruned": pruned, **trained_democnn}


def _run(campaign: dict[str, Any], *extra: str, folder: Path | None = None) -> subprocess.CompletedProcess:
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


def test_ranks_and_spearman_on_known_cases() -> None:
    m = _module()
    assert m.ranks([3.0, 1.0, 2.0, 2.0]).tolist() == [4.0, 1.0, 2.5, 2.5]
    assert m.spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert m.spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    # One swap of four: 1 - 6 * 2 / (4 * 15) = 0.8.
    assert m.spearman([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(0.8)
    assert math.isnan(m.spearman([1, 1, 1], [1, 2, 3]))


def test_one_row_per_candidate_paired_with_its_finals_and_rho_on_a_known_order(campaign, tmp_path) -> None:
    # Finals that fall as the cut grows, in the new-val file's form; one line of another fine-tune length and
    # one of the run's own val split must be ignored.
    finals = tmp_path / "new-val.jsonl"
    lines = []
    for index, top1 in ((1, 0.80), (2, 0.70), (3, 0.60)):
        p = campaign["pruned"][index]
        for seed, d in ((0, 0.01), (1, -0.01)):
            ft = {"seed": seed, "steps": 2442, "macs": p["macs"], "params": p["params"]}
            lines.append({"split": "new", "top1": top1 + d, "fineTune": ft})
        lines.append({"split": "val", "top1": 0.0, "fineTune": {**ft, "seed": 2}})
        lines.append({"split": "new", "top1": 0.0, "fineTune": {**ft, "steps": 100}})
    finals.write_text("".join(json.dumps(line) + "\n" for line in lines))

    run = _run(campaign, "--finals", str(finals))
    assert run.returncode == 0, run.stderr
    *rows, last = [json.loads(line) for line in run.stdout.splitlines()]
    assert [r["attempt"] for r in rows] == [1, 2, 3]
    for r in rows:
        p = campaign["pruned"][r["attempt"]]
        # The pairing keys are the prune's own measured MACs and parameters.
        assert (r["macs"], r["params"]) == (p["macs"], p["params"])
        assert 0 < r["minWidth"] <= r["meanWidth"] <= 1
        assert math.isfinite(r["naswot"]) and math.isfinite(r["synflow"])
        assert r["gradNorm"] > 0 and r["snip"] > 0 and r["teacherKl"] >= 0
        assert 0 <= r["zeroShotTop1"] <= 1
        assert r["finalSeeds"] == 2
    assert [r["final"] for r in rows] == pytest.approx([0.80, 0.70, 0.60])
    # A harsher cut keeps fewer parameters and narrower layers: both order the three as the finals do.
    assert rows[0]["params"] > rows[1]["params"] > rows[2]["params"]
    assert last["candidates"] == 3
    assert last["rho"]["params"] == 1.0 and last["rho"]["meanWidth"] == 1.0
    assert set(last["rho"]) == set(_module().SIGNALS)


def test_without_finals_no_rho_and_a_folder_without_candidates_is_refused(campaign, tmp_path) -> None:
    run = _run(campaign, "--attempts", "2")
    assert run.returncode == 0, run.stderr
    rows = [json.loads(line) for line in run.stdout.splitlines()]
    assert [r["attempt"] for r in rows] == [2] and "final" not in rows[0]
    empty = _run(campaign, folder=tmp_path)
    assert empty.returncode == 2
    assert f"{tmp_path}: no attempt-<n> folders" in empty.stderr
