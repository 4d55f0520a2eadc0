"""prune-dry-run: on every model family, for several strategies in one request, the dry run's MACs, params,
stages and kept channels equal what a real ``prune`` of the same strategy measures; bad input; no side
effects on the cached dense model."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import torch

from agentic_engine.cache import load_model
from agentic_engine.models import ModelSpec


def _strategy(ratio: float, importance: str, global_: bool, iso: bool, round_to: int, **extra: Any) -> dict:
    return {
        "pruningRatio": ratio,
        "importance": importance,
        "globalPruning": global_,
        "isomorphic": iso,
        "roundTo": round_to,
        **extra,
    }


def _family_strategies(stage: str) -> list[dict]:
    return [
        _strategy(0.4, "l2", True, True, 8),  # today's default
        _strategy(0.4, "l2", True, True, 1),
        _strategy(0.35, "l2", True, False, 8, maxLayerRatio=0.6),
        _strategy(0.3, "l1", False, False, 1),  # per-layer uniform
        _strategy(0.3, "l1", False, False, 8),
        _strategy(0.3, "lamp", True, False, 1),
        _strategy(0.5, "random", True, False, 1),  # global random: the kept counts depend on the draws
        _strategy(0.2, "l2", True, True, 8, stageRatios={stage: 0.6}),
        _strategy(0.2, "l1", False, False, 1, stageRatios={stage: 0.5}),
    ]


FAMILIES = [
    # name, input side, a stage prefix for stageRatios
    ("democnn", 32, "stage2"),
    ("resnet18", 32, "layer3"),
    ("mobilenet_v2", 32, "features.10"),
    ("convnext_tiny", 32, "features.5"),
    ("vit_b_16", 32, "encoder.layers.encoder_layer_6"),
    ("deit_tiny", 32, "blocks.6"),
]


def _dry(job, model: dict, side: int, strategies: list[dict], **extra) -> dict:
    run = job(
        "prune-dry-run",
        {"model": model, "inputShape": [1, 3, side, side], "strategies": strategies, **extra},
    )
    assert run.code == 0, run.events[-1]
    return run.result


def _real(job, tmp_path: Path, model: dict, side: int, strategy: dict, i: int, **extra) -> Any:
    return job(
        "prune",
        {
            "model": model,
            "inputShape": [1, 3, side, side],
            "strategy": strategy,
            "outDir": str(tmp_path / f"s{i}"),
            **extra,
        },
    )


def _assert_same(dry: dict, real: dict) -> None:
    assert (dry["macs"], dry["params"]) == (real["macs"], real["params"])
    assert dry["stages"] == real["stages"]
    assert dry["keptChannels"] == [k["after"] for k in real["keptChannels"]]


@pytest.mark.parametrize("name,side,stage", FAMILIES, ids=[f[0] for f in FAMILIES])
def test_dry_run_equals_real_prune_on_every_family(job, tmp_path: Path, name, side, stage) -> None:
    model = {"name": name, "numClasses": 10}
    strategies = _family_strategies(stage)
    if name in ("deit_tiny", "vit_b_16"):
        heads = {"pruneHeads": True, "pruneHeadDims": True, "headRatio": 0.34}
        strategies.append(_strategy(0.3, "l2", True, True, 8, vit=heads))
        if name == "deit_tiny":
            strategies.append(
                _strategy(0.3, "l2", True, True, 1, vit={"pruneHeads": False, "pruneHeadDims": False})
            )
    dry = _dry(job, model, side, strategies)
    assert len(dry["results"]) == len(strategies)
    refused = 0
    for i, (strategy, planned) in enumerate(zip(strategies, dry["results"], strict=True)):
        run = _real(job, tmp_path, model, side, strategy, i)
        # Only the measured numbers are compared: each pruned model goes at once (vit_b_16's: 1.95 GB in all).
        shutil.rmtree(tmp_path / f"s{i}", ignore_errors=True)
        if run.code == 2:  # prune refuses it (it would empty a group): so does the dry run, naming the field
            assert planned["error"]["field"] == run.error["field"].replace("strategy", f"strategies.{i}", 1)
            refused += 1
            continue
        assert run.code == 0, run.events[-1]
        real = run.result
        assert planned["method"] == "plan"
        _assert_same(planned, real)
        assert dry["denseMacs"] == real["denseMacs"] and dry["denseParams"] == real["denseParams"]
        assert planned["macs"] < dry["denseMacs"], f"strategy {i} pruned nothing"
    assert refused <= 1
    # Distinct strategies gave distinct shapes (the equality above is not all-dense against all-dense).
    measured = [r for r in dry["results"] if "macs" in r]
    assert len({(r["macs"], r["params"]) for r in measured}) >= len(measured) - 2


def test_taylor_and_iterative_steps_equal_real_prune(job, tmp_path: Path, image_folder: Path) -> None:
    model = {"name": "democnn"}
    calibration = {"dataset": str(image_folder), "batches": 2, "batchSize": 8}
    strategies = [
        _strategy(0.4, "taylor", True, True, 8),
        _strategy(0.4, "taylor", True, False, 1),
        _strategy(0.4, "l2", True, False, 1, iterativeSteps=3),
        _strategy(0.4, "taylor", True, False, 1, iterativeSteps=2),
        _strategy(0.4, "taylor", True, False, 1),  # after the surgeries: gradients computed again
    ]
    dry = _dry(job, model, 32, strategies, calibration=calibration, seed=3)
    assert [r["method"] for r in dry["results"]] == ["plan", "plan", "surgery", "surgery", "plan"]
    for i, (strategy, planned) in enumerate(zip(strategies, dry["results"], strict=True)):
        real = _real(job, tmp_path, model, 32, strategy, i, calibration=calibration, seed=3)
        assert real.code == 0, real.events[-1]
        _assert_same(planned, real.result)
    assert dry["results"][1] == dry["results"][4]


def test_leaves_the_cached_dense_model_untouched(job, image_folder: Path) -> None:
    dense, _ = load_model(ModelSpec(name="democnn"), [1, 3, 32, 32])
    before = {k: v.clone() for k, v in dense.model.state_dict().items()}
    calibration = {"dataset": str(image_folder), "batches": 1, "batchSize": 8}
    _dry(job, {"name": "democnn"}, 32, [_strategy(0.5, "taylor", True, True, 8)], calibration=calibration)
    dense, warm = load_model(ModelSpec(name="democnn"), [1, 3, 32, 32])
    assert warm
    assert all(torch.equal(before[k], v) for k, v in dense.model.state_dict().items())
    assert all(p.grad is None for p in dense.model.parameters())
    assert sum(1 for _ in dense.model.modules()) == sum(
        1 for _ in load_model(ModelSpec(name="democnn"), None)[0].model.modules()
    )


def test_a_strategy_prune_would_refuse_is_answered_in_place(job, tmp_path: Path) -> None:
    refusable = _strategy(0.5, "l1", False, False, 32)  # roundTo 32 empties the 32-channel groups
    strategies = [_strategy(0.3, "l2", True, True, 8), refusable, _strategy(0.5, "l2", True, True, 8)]
    dry = _dry(job, {"name": "democnn"}, 32, strategies)
    first, refused, last = dry["results"]
    assert "macs" in first and "macs" in last and last["macs"] < first["macs"]
    real = job("prune", {"model": {"name": "democnn"}, "strategy": refusable, "outDir": str(tmp_path / "r")})
    assert real.code == 2
    assert refused["error"]["field"] == real.error["field"].replace("strategy", "strategies.1", 1)
    assert refused["error"]["field"] == "strategies.1.pruningRatio"
    assert refused["error"]["message"] == real.error["message"].removeprefix("strategy.pruningRatio: ")
    assert "every channel" in refused["error"]["message"]


@pytest.mark.parametrize(
    "strategies,extra,field",
    [
        ([], {}, "strategies"),
        (
            [
                _strategy(0.3, "l2", True, True, 8),
                _strategy(0.3, "l2", True, True, 8, stageRatios={"nope": 0.2}),
            ],
            {},
            "strategies.1.stageRatios",
        ),
        ([_strategy(0.3, "l2", False, True, 8)], {}, "strategies.0.isomorphic"),
        ([_strategy(0.3, "taylor", True, True, 8)], {}, "calibration"),
        ([_strategy(1.3, "l2", True, True, 8)], {}, "strategies.0.pruningRatio"),
        ([_strategy(0.3, "l2", True, True, 8)], {"outDir": "/tmp/x"}, "outDir"),
    ],
)
def test_bad_requests_name_the_field(job, strategies, extra, field) -> None:
    run = job("prune-dry-run", {"model": {"name": "democnn"}, "strategies": strategies, **extra})
    assert run.code == 2
    assert run.error["field"] == field, run.error
