"""The ``score`` job on a trained democnn: the slices it reads, what recalibration and recovery do, bad input.

The known case: democnn trained 47 steps on 10 synthetic classes (100 train / 30 val images each, as in
test_calibration.py), its dense val accuracy near 50-90 %; pruned at 50 % of its channels (global L2,
isomorphic) it loses most of its zero-shot accuracy, which BN recalibration and a short KD fine-tune win back.
"""

from __future__ import annotations

import io
import shutil
from pathlib import Path
from typing import Any

import pytest
import torch

from agentic_engine import calibration, score, training
from agentic_engine.evaluate import run as evaluate
from agentic_engine.protocol import Emitter

ISO = {"importance": "l2", "globalPruning": True, "isomorphic": True}
CAL = {"batches": 4, "batchSize": 32}


def quiet() -> Emitter:
    return Emitter(stream=io.StringIO())


@pytest.fixture(scope="module")
def trained(trained_democnn: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The session's trained democnn (conftest ``trained_democnn``) and a 50 % prune of it."""
    from agentic_engine.prune import run as prune

    tmp = tmp_path_factory.mktemp("score")
    pruned = prune(
        {
            "model": trained_democnn["spec"],
            "strategy": {**ISO, "pruningRatio": 0.5},
            "outDir": str(tmp / "pruned"),
        },
        quiet(),
    )
    return {
        "root": trained_democnn["root"],
        "spec": trained_democnn["spec"],
        "pruned": {"name": "democnn", "pruned": pruned["saved"]["dir"]},
        "tmp": tmp,
    }


def _score(job, trained: dict[str, Any], model: dict[str, Any], **over: Any):
    request = {
        "model": model,
        "dataset": {"root": str(over.pop("root", trained["root"]))},
        "mode": "zero-shot",
        "calibration": over.pop("calibration", CAL),
        "scoreImages": 200,
        "seed": 0,
        "device": "cpu",
        **over,
    }
    return job("score", request)


def _recovery(job, trained: dict[str, Any], work: str, steps: int, lr: float, **over: Any):
    """Mode recovery of the pruned candidate, KD from the dense model, 32 images a step, in <tmp>/<work>."""
    return _score(
        job,
        trained,
        trained["pruned"],
        mode="recovery",
        teacher=trained["spec"],
        recovery={"steps": steps, "batchSize": 32, "lr": lr},
        workDir=str(trained["tmp"] / work),
        **over,
    )


def test_slices_are_disjoint_seeded_and_the_calibration_sample() -> None:
    s = calibration.score_slices(1000, 128, 256, seed=3)
    cal, held, train = set(s.calibration), set(s.held_out), set(s.train)
    assert len(cal) == 128 and len(held) == 256 and len(train) == 1000 - 256
    assert not cal & held and not train & held and cal <= train
    assert cal | held | train == set(range(1000))
    # The calibration positions are prune's calibration sample for the same seed and count.
    assert s.calibration == calibration.sample_indices(1000, 128, 3)
    # Seeded: the same again; the held-out slice does not move when the calibration sample grows.
    assert calibration.score_slices(1000, 128, 256, seed=3) == s
    assert calibration.score_slices(1000, 512, 256, seed=3).held_out == s.held_out
    assert calibration.score_slices(1000, 128, 256, seed=4).held_out != s.held_out


def test_reads_calibration_and_held_out_train_images_only(job, trained, monkeypatch) -> None:
    """Every image the job opens is in train/; scored, calibrated and trained-on images never meet."""
    opened: dict[str, set[str]] = {"calibration": set(), "scored": set(), "trained": set()}
    eval_tensor = training.eval_tensor
    getitem = training.AugmentedImageFolder.__getitem__

    def record_eval_tensor(path: str, height: int, width: int) -> torch.Tensor:
        opened["calibration"].add(path)
        return eval_tensor(path, height, width)

    def record_getitem(self, item):
        index = item[0] if isinstance(item, tuple) else int(item)
        opened["trained" if self.train else "scored"].add(self.index.samples[index][0])
        return getitem(self, item)

    monkeypatch.setattr(training, "eval_tensor", record_eval_tensor)
    monkeypatch.setattr(training.AugmentedImageFolder, "__getitem__", record_getitem)
    calibration._cache.clear()
    run = _recovery(job, trained, "slices", steps=3, lr=0.001)
    assert run.code == 0, run.events[-1]
    r = run.result
    assert r["count"] == 200 == len(opened["scored"])
    assert r["calibrationImages"] == 128 == len(opened["calibration"])
    assert len(opened["trained"]) == 3 * 32  # three steps of 32 distinct images (one epoch's permutation)
    assert not opened["scored"] & opened["calibration"]
    assert not opened["scored"] & opened["trained"]
    train_dir = str(trained["root"] / "train") + "/"
    every = set().union(*opened.values())
    assert all(p.startswith(train_dir) for p in every), [p for p in every if not p.startswith(train_dir)]
    assert r["trainImages"] == 1000 - 200


def test_dense_score_is_close_to_val_accuracy(job, trained) -> None:
    val = evaluate({"model": trained["spec"], "dataset": {"root": str(trained["root"])}}, quiet())
    run = _score(job, trained, trained["spec"])
    assert run.code == 0, run.events[-1]
    r = run.result
    assert r["mode"] == "zero-shot" and r["steps"] == 0 and r["count"] == 200
    assert r["batchNormsRecalibrated"] == 16  # stem + 2 per block x 6 + 3 downsample BNs
    assert abs(r["top1"] - val["top1"]) < 0.1, (r["top1"], val["top1"])
    assert r["loss"] > 0


def test_dense_score_without_recalibration_is_evaluate_of_the_same_images(job, trained) -> None:
    """No calibration and every train/ image held out: the score is ``evaluate`` of train/ itself."""
    run = _score(job, trained, trained["spec"], calibration={"batches": 0, "batchSize": 1}, scoreImages=1000)
    assert run.code == 0, run.events[-1]
    ev = evaluate(
        {"model": trained["spec"], "dataset": {"root": str(trained["root"]), "split": "train"}}, quiet()
    )
    r = run.result
    assert r["batchNormsRecalibrated"] == 0 and r["count"] == ev["count"] == 1000
    assert r["top1"] == pytest.approx(ev["top1"], abs=1e-9)
    assert r["loss"] == pytest.approx(ev["loss"], rel=1e-5)


def test_batch_norm_recalibration_raises_a_pruned_models_zero_shot_score(job, trained) -> None:
    without = _score(job, trained, trained["pruned"], calibration={"batches": 0, "batchSize": 1})
    with_recal = _score(job, trained, trained["pruned"])
    assert without.code == 0 and with_recal.code == 0, (without.events[-1], with_recal.events[-1])
    a, b = without.result, with_recal.result
    assert a["batchNormsRecalibrated"] == 0 and b["batchNormsRecalibrated"] == 16
    # Stale statistics after removing half the channels: recalibrated, the loss drops and top-1 rises.
    assert b["loss"] < a["loss"], (a, b)
    assert b["top1"] >= a["top1"], (a, b)


def test_recovery_raises_top1_over_zero_shot(job, trained) -> None:
    zero = _score(job, trained, trained["pruned"])
    rec = _recovery(job, trained, "recovery", steps=30, lr=0.002, checkpointEverySteps=10)
    assert zero.code == 0 and rec.code == 0, (zero.events[-1], rec.events[-1])
    z, r = zero.result, rec.result
    assert r["mode"] == "recovery" and r["steps"] == 30 and r["recovery"]["steps"] == 30
    assert r["top1"] > z["top1"] + 0.05, (z["top1"], r["top1"])
    # Checkpointed as the real fine-tune is: every 10 steps, announced once complete.
    steps = [a["step"] for a in rec.artifacts("checkpoint")]
    assert steps == [10, 20, 30]
    assert r["recovery"]["finalCheckpoint"]["step"] == 30
    assert [e["step"] for e in rec.events if e["event"] == "progress" and e["stage"] == "train"] == list(
        range(1, 31)
    )


def test_recovery_resumes_from_its_checkpoint(job, trained) -> None:
    """A retried score resumes its fine-tune: from ckpt-2 of 4 steps, the same score as uninterrupted."""
    full = _recovery(job, trained, "r-full", steps=4, lr=0.002, checkpointEverySteps=2)
    ckpt = trained["tmp"] / "r-full" / "checkpoints" / "ckpt-2.pt"
    resumed = _recovery(
        job, trained, "r-resumed", steps=4, lr=0.002, checkpointEverySteps=2, resumeFrom=str(ckpt)
    )
    assert full.code == 0 and resumed.code == 0, (full.events[-1], resumed.events[-1])
    assert resumed.result["recovery"]["resumedFromStep"] == 2
    assert resumed.result["top1"] == full.result["top1"]
    assert resumed.result["loss"] == pytest.approx(full.result["loss"], rel=1e-6)


def _no_train(trained: dict[str, Any], tmp: Path) -> Path:
    root = tmp / "val-only"
    shutil.copytree(trained["root"] / "val", root / "val")
    return root


def test_default_held_out_slice_fits_small_splits() -> None:
    # 256 images, but at most a quarter of what the calibration sample leaves (at least one).
    assert calibration.default_score_count(5000, 128) == 256
    assert calibration.default_score_count(64, 16) == 12
    assert calibration.default_score_count(3, 1) == 1
    assert calibration.default_score_count(64, 16, classes=100) == 12


@pytest.mark.parametrize(
    ("classes", "n", "count"),
    [
        (10, 20_000, 256),  # 10 per class is 100: the floor
        (25, 20_000, 256),
        (26, 20_000, 260),
        (50, 20_000, 500),
        (100, 20_000, 1000),  # the benches' 1,000 on the 100-class set
        (1000, 1_281_167, 1000),  # ImageNet: the ceiling
        (100, 2_128, 500),  # a quarter of the 2,000 the 128 calibration images leave
    ],
)
def test_default_held_out_slice_is_ten_images_per_class(classes: int, n: int, count: int) -> None:
    assert calibration.default_score_count(n, 128, classes) == count
    s = calibration.score_slices(n, 128, None, seed=0, classes=classes)
    assert len(s.held_out) == count and not set(s.held_out) & set(s.calibration)
    s = calibration.score_slices(64, 16, None, seed=0)
    assert len(s.held_out) == 12 and len(s.calibration) == 16 and not set(s.held_out) & set(s.calibration)


def test_without_score_images_the_engine_sizes_the_slice_to_the_split(job, trained) -> None:
    # The fixture's train/ split holds 1000 images; 4 x 32 calibration images leave 872: a quarter is 218.
    run = job(
        "score",
        {
            "model": trained["pruned"],
            "dataset": {"root": str(trained["root"])},
            "mode": "zero-shot",
            "calibration": CAL,
            "seed": 0,
            "device": "cpu",
        },
    )
    assert run.code == 0, run.events[-1]
    assert run.result["count"] == 218


def test_without_score_images_a_many_class_split_is_scored_on_ten_images_per_class(
    job, tmp_path: Path
) -> None:
    # 40 classes x 60 train images: 2,400, a quarter of what 8 calibration images leave is 598, so the
    # default is 10 per class (400), not the 256 a 10-class split gets.
    from agentic_engine.dataset import run as make_dataset

    data = make_dataset(
        {"out": str(tmp_path / "c40"), "classes": 40, "trainPerClass": 60, "valPerClass": 1}, quiet()
    )
    run = job(
        "score",
        {
            "model": {"name": "democnn", "numClasses": 40},
            "dataset": {"root": data["root"]},
            "mode": "zero-shot",
            "calibration": {"batches": 1, "batchSize": 8},
            "seed": 0,
            "device": "cpu",
        },
    )
    assert run.code == 0, run.events[-1]
    assert run.result["count"] == 400


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"mode": "recovery", "recovery": {"steps": 0, "batchSize": 32, "lr": 0.001}}, "recovery.steps"),
        ({"mode": "recovery", "recovery": {"steps": 10001, "batchSize": 32, "lr": 0.001}}, "recovery.steps"),
        ({"mode": "recovery"}, "recovery"),
        ({"recovery": {"steps": 5, "batchSize": 32, "lr": 0.001}}, "recovery"),
        ({"scoreImages": 1001}, "scoreImages"),
        ({"scoreImages": 900}, "scoreImages"),  # 900 + 128 calibration images > 1000
        ({"scoreImages": 0}, "scoreImages"),
        ({"calibration": {"batches": 40, "batchSize": 32}}, "calibration.batches"),
        ({"calibration": {"batches": 4, "batchSize": 0}}, "calibration.batchSize"),
        ({"mode": "best"}, "mode"),
        ({"scoreimages": 10}, "scoreimages"),
    ],
)
def test_bad_input_names_the_field(job, trained, over: dict[str, Any], field: str) -> None:
    if over.get("mode") == "recovery":
        over = {**over, "workDir": str(trained["tmp"] / "bad")}
    run = _score(job, trained, trained["pruned"], **over)
    assert run.code == 2, run.events[-1]
    assert run.error["field"] == field, run.error
    assert not (trained["tmp"] / "bad" / "checkpoints").exists()


def test_a_dataset_without_train_is_refused_naming_dataset_root(job, trained, tmp_path) -> None:
    run = _score(job, trained, trained["pruned"], root=_no_train(trained, tmp_path))
    assert run.code == 2 and run.error["field"] == "dataset.root", run.error
    assert "train" in run.error["message"]


def test_recovery_batch_larger_than_the_training_images_names_recovery_batch_size(job, trained) -> None:
    run = _score(
        job,
        trained,
        trained["pruned"],
        mode="recovery",
        recovery={"steps": 2, "batchSize": 900, "lr": 0.001},
        workDir=str(trained["tmp"] / "big-batch"),
    )
    assert run.code == 2 and run.error["field"] == "recovery.batchSize", run.error


def test_a_score_lists_the_split_once(job, trained, monkeypatch) -> None:
    """The slices and the calibration sample come from one listing of train/ (cached by the split's state)."""
    listings: list[str] = []
    real = training.index_split
    monkeypatch.setattr(training, "index_split", lambda *a, **k: listings.append(str(a[0])) or real(*a, **k))
    calibration._index_cache.clear()
    calibration._cache.clear()
    run = _score(job, trained, trained["pruned"])
    assert run.code == 0, run.events[-1]
    assert listings == [str(trained["root"])]


def test_recovery_with_an_image_size_builds_the_candidate_once(job, trained, monkeypatch) -> None:
    """The input size known, only the fine-tune builds the candidate (then the trained model is loaded)."""
    built: list[dict[str, Any]] = []
    real = training.load_model
    monkeypatch.setattr(training, "load_model", lambda spec, field: built.append(spec) or real(spec, field))
    dataset = {"root": str(trained["root"]), "imageSize": 32}
    run = _recovery(job, trained, "sized", steps=1, lr=0.001, dataset=dataset)
    assert run.code == 0, run.events[-1]
    assert run.result["imageSize"] == 32 and run.result["steps"] == 1
    assert built.count(trained["pruned"]) == 1, built


def test_a_model_of_another_class_count_is_refused_before_scoring(job, trained) -> None:
    run = _score(job, trained, {"name": "democnn", "numClasses": 4})
    assert run.code == 2 and run.error["field"] == "model.numClasses", run.error
    assert "has 10 classes but the model predicts 4" in run.error["message"]
    assert not any(e["event"] == "progress" and e["stage"] == "recalibrating" for e in run.events)


def test_recalibrate_batch_norm_is_a_cumulative_average_and_keeps_weights() -> None:
    bn = torch.nn.BatchNorm2d(3)
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 3, 1), bn)
    stats = ("running_mean", "running_var", "num_batches_tracked")
    weights = {k: v.clone() for k, v in model.state_dict().items() if not k.endswith(stats)}
    gen = torch.Generator().manual_seed(0)
    batches = [(torch.randn(4, 3, 5, 5, generator=gen) * (i + 1) + i, torch.zeros(4)) for i in range(3)]
    assert score.recalibrate_batch_norm(model, batches, torch.device("cpu")) == 1
    with torch.no_grad():
        means = [model[0](x).mean(dim=(0, 2, 3)) for x, _ in batches]
    assert torch.allclose(bn.running_mean, torch.stack(means).mean(0), atol=1e-5)
    assert bn.momentum == 0.1 and not model.training and int(bn.num_batches_tracked) == 3
    for k, v in weights.items():
        assert torch.equal(model.state_dict()[k], v), k
