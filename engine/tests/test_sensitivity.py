"""The ``sensitivity`` job on the trained democnn of test_score.py: one row per prunable stage, each point the
score that ``score`` gives the same stage-pruned model, MACs below dense and falling with the ratio."""

from __future__ import annotations

from typing import Any

import pytest
from test_score import trained  # noqa: F401 - the module-scoped trained democnn fixture

CAL = {"batches": 2, "batchSize": 32}
RATIOS = [0.3, 0.6]


def _sensitivity(job, trained: dict[str, Any], **over: Any):  # noqa: F811
    request = {
        "model": trained["spec"],
        "dataset": {"root": str(trained["root"])},
        "calibration": CAL,
        "ratios": RATIOS,
        "scoreImages": 200,
        "seed": 0,
        "device": "cpu",
        **over,
    }
    return job("sensitivity", request)


@pytest.fixture(scope="module")
def table_run(trained) -> Any:  # noqa: F811
    from conftest import run

    res = _sensitivity(run, trained)
    assert res.code == 0, res.events[-1]
    return res


@pytest.fixture(scope="module")
def table(table_run) -> dict[str, Any]:
    return table_run.result


def test_progress_counts_the_rows_as_they_start(table_run) -> None:
    # Every stage of the profile is tried, the protected stem and head too (they come out unprunable):
    # 5 stages x 2 ratios, rows 1..10 in order, each named by its stage and ratio, the fraction those done.
    rows = [e for e in table_run.events if e.get("event") == "progress" and e.get("stage") == "sensitivity"]
    measured = [(e["row"], e["rows"], e["layer"], e["ratio"], e["fraction"]) for e in rows if "row" in e]
    stages = ["stem", "stage1", "stage2", "stage3", "head"]
    assert measured == [(k + 1, 10, stages[k // 2], RATIOS[k % 2], pytest.approx(k / 10)) for k in range(10)]
    assert rows[-1]["fraction"] == 1.0


def test_one_row_per_prunable_stage_with_points_per_ratio_and_macs_below_dense(table) -> None:
    assert [s["stage"] for s in table["stages"]] == ["stage1", "stage2", "stage3"]
    # The stem's first conv and the classifier head are protected: pruning them alone removes nothing.
    assert [u["stage"] for u in table["unprunable"]] == ["stem", "head"]
    assert table["skipped"] == []
    dense = table["denseMacs"]
    for row in table["stages"]:
        assert [p["ratio"] for p in row["points"]] == RATIOS
        macs = [p["macs"] for p in row["points"]]
        assert all(m < dense for m in macs) and macs[0] > macs[1], row
        # Whole-model MACs: pruning one stage removes at most that stage's MACs and its neighbours' inputs.
        assert dense - macs[0] < row["macs"] * 2, row
        assert all(0 <= p["top1"] <= 1 and p["loss"] > 0 for p in row["points"])
    assert table["count"] == 200 and table["calibrationImages"] == 64


def test_pruning_a_trained_stage_hurts_the_score(table) -> None:
    """Averaged over the stages, removing 60 % of a stage's channels raises the held-out loss."""
    worst = [row["points"][-1]["loss"] for row in table["stages"]]
    assert sum(worst) / len(worst) > table["baseline"]["loss"], (worst, table["baseline"])


def test_baseline_and_points_are_what_score_gives_the_same_models(job, trained, table) -> None:  # noqa: F811
    common = {
        "dataset": {"root": str(trained["root"])},
        "mode": "zero-shot",
        "calibration": CAL,
        "scoreImages": 200,
        "seed": 0,
        "device": "cpu",
    }
    dense = job("score", {"model": trained["spec"], **common})
    assert dense.code == 0, dense.events[-1]
    assert dense.result["top1"] == table["baseline"]["top1"]
    assert dense.result["loss"] == pytest.approx(table["baseline"]["loss"], rel=1e-5)

    pruned = job(
        "prune",
        {
            "model": trained["spec"],
            "strategy": {
                "pruningRatio": 0.0,
                "importance": "l2",
                "globalPruning": True,
                "isomorphic": True,
                "stageRatios": {"stage2": 0.6},
            },
            "outDir": str(trained["tmp"] / "sens-stage2"),
        },
    )
    assert pruned.code == 0, pruned.events[-1]
    point = next(r for r in table["stages"] if r["stage"] == "stage2")["points"][1]
    assert pruned.result["macs"] == point["macs"]
    scored = job("score", {"model": {"name": "democnn", "pruned": pruned.result["saved"]["dir"]}, **common})
    assert scored.code == 0, scored.events[-1]
    assert scored.result["top1"] == point["top1"]
    assert scored.result["loss"] == pytest.approx(point["loss"], rel=1e-5)


def test_a_warm_engine_reuses_the_dense_model(job, trained, table) -> None:  # noqa: F811
    again = _sensitivity(job, trained, ratios=[0.3])
    assert again.code == 0, again.events[-1]
    assert again.result["warm"] is True
    assert again.result["baseline"] == table["baseline"]
    assert [r["points"][0] for r in again.result["stages"]] == [r["points"][0] for r in table["stages"]]


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"ratios": []}, "ratios"),
        ({"ratios": [0.3, 1.0]}, "ratios"),
        ({"ratios": [0.0]}, "ratios"),
        ({"baseStrategy": {"importance": "l3"}}, "baseStrategy.importance"),
        ({"baseStrategy": {"isomorphic": True, "globalPruning": False}}, "baseStrategy.isomorphic"),
        (
            {"baseStrategy": {"importance": "taylor"}, "calibration": {"batches": 0, "batchSize": 8}},
            "calibration.batches",
        ),
        ({"scoreImages": 1001}, "scoreImages"),
        ({"calibration": {"batches": 40, "batchSize": 32}}, "calibration.batches"),
        ({"baseratios": [0.3]}, "baseratios"),
        ({"baseStrategy": {"": 1}}, 'baseStrategy.""'),  # an empty key is shown quoted, as parse_request does
    ],
)
def test_bad_input_names_the_field(job, trained, over: dict[str, Any], field: str) -> None:  # noqa: F811
    run = _sensitivity(job, trained, **over)
    assert run.code == 2, run.events[-1]
    assert run.error["field"] == field, run.error


def test_a_base_strategy_with_several_problems_names_the_first_and_counts_the_rest(job, trained) -> None:  # noqa: F811
    run = _sensitivity(job, trained, baseStrategy={"importance": "l3", "roundTo": "8"})
    assert run.code == 2 and run.error["field"] == "baseStrategy.importance", run.error
    assert run.error["message"].endswith("(and 1 more)"), run.error


def test_a_dataset_of_another_class_count_names_dataset_root(job, trained) -> None:  # noqa: F811
    run = _sensitivity(job, trained, model={"name": "democnn", "numClasses": 4})
    assert run.code == 2 and run.error["field"] == "dataset.root", run.error
    assert "has 10 classes but the model predicts 4" in run.error["message"]


def test_a_dataset_without_train_names_dataset_root(job, trained, tmp_path) -> None:  # noqa: F811
    (tmp_path / "val" / "a").mkdir(parents=True)
    run = _sensitivity(job, trained, dataset={"root": str(tmp_path)})
    assert run.code == 2 and run.error["field"] == "dataset.root", run.error


def test_a_group_shared_by_stages_counts_in_one_row_so_the_rows_add_up(job, image_folder) -> None:
    """mobilenet_v2's residual streams run through several blocks, each a stage. The rows of features.12 and
    features.13 (one 96-channel stream) add up to about what cutting both at once saves, as a stage
    allocation cuts them; all rows together save less than the model has. Each stage claiming the shared
    stream (the table before) gave rows of 0.75 M and 0.75 M for a joint 0.87 M and 8.6 M in all of 6.2 M."""
    model = {"name": "mobilenet_v2", "numClasses": 10}
    res = job(
        "sensitivity",
        {
            "model": model,
            "inputShape": [1, 3, 32, 32],
            "dataset": {"root": str(image_folder)},
            "calibration": {"batches": 1, "batchSize": 8},
            "ratios": [0.5],
            "scoreImages": 16,
            "seed": 0,
            "device": "cpu",
        },
    )
    assert res.code == 0, res.events[-1]
    table = res.result
    dense = table["denseMacs"]
    saved = {row["stage"]: dense - row["points"][0]["macs"] for row in table["stages"]}
    assert len(saved) == 18 and table["skipped"] == []
    assert sum(saved.values()) < dense, saved

    stages = {row["stage"]: 0.0 for row in table["stages"]}
    base = {"pruningRatio": 0.0, "importance": "l2", "globalPruning": True, "isomorphic": True, "roundTo": 8}
    both = {**base, "stageRatios": {**stages, "features.12": 0.5, "features.13": 0.5}}
    joint = job("prune-dry-run", {"model": model, "inputShape": [1, 3, 32, 32], "strategies": [both]})
    assert joint.code == 0, joint.events[-1]
    cut = dense - joint.result["results"][0]["macs"]
    rows = saved["features.12"] + saved["features.13"]
    # At least the joint cut; above it only by the expand convs whose input stream and output both shrink.
    assert cut <= rows <= 1.2 * cut, (saved["features.12"], saved["features.13"], cut)
