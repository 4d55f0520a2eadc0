"""Prune every family, reload, determinism, and every bad strategy."""

from __future__ import annotations

import json
from pathlib import Path

import onnx
import pytest
import torch

from agentic_engine.models import build_model

ISO = {"pruningRatio": 0.3, "importance": "l2", "globalPruning": True, "isomorphic": True}


def _prune(job, tmp_path: Path, model: dict, strategy: dict, **extra):
    return job("prune", {"model": model, "strategy": strategy, "outDir": str(tmp_path / "out"), **extra})


@pytest.mark.parametrize(
    "model,input_shape,strategy",
    [
        ({"name": "resnet18"}, [1, 3, 64, 64], ISO),
        ({"name": "mobilenet_v2"}, [1, 3, 64, 64], ISO),
        ({"name": "convnext_tiny"}, [1, 3, 64, 64], ISO),
        (
            {"name": "deit_tiny"},
            None,
            {**ISO, "vit": {"pruneHeads": True, "pruneHeadDims": True, "headRatio": 0.3}},
        ),
    ],
)
def test_each_family_prunes_and_exports(job, tmp_path: Path, model, input_shape, strategy) -> None:
    extra = {"exportOnnx": True, **({"inputShape": input_shape} if input_shape else {})}
    run = _prune(job, tmp_path, model, strategy, **extra)
    assert run.code == 0, run.events[-1]
    r = run.result
    assert r["macs"] < 0.85 * r["denseMacs"] and r["params"] < r["denseParams"]
    assert r["forwardCheck"] == {"outputShape": [1, 1000], "finite": True}
    assert sum(s["macs"] for s in r["stages"]) == r["macs"]
    assert [s["name"] for s in r["stages"]] == [s["name"] for s in r["denseStages"]]
    assert any(k["after"] < k["before"] for k in r["keptChannels"])
    kinds = [a["kind"] for a in run.artifacts()]
    assert kinds == ["state_dict", "pruning_history", "strategy", "onnx"]
    onnx_model = onnx.load(r["onnx"]["path"])
    onnx.checker.check_model(onnx_model)
    assert [i.name for i in onnx_model.graph.input] == ["input"]
    assert [o.name for o in onnx_model.graph.output] == ["logits"]


def test_vit_heads_are_pruned_and_reload_identical(job, tmp_path: Path) -> None:
    strategy = {
        **ISO,
        "pruningRatio": 0.2,
        "vit": {"pruneHeads": True, "pruneHeadDims": False, "headRatio": 0.5},
    }
    r = _prune(job, tmp_path, {"name": "deit_tiny"}, strategy).result
    history = json.loads(Path(r["saved"]["history"]["path"]).read_text())
    heads = [a["numHeads"] for a in history["attention"].values()]
    assert sum(heads) == 18 and all(a["headDim"] == 64 for a in history["attention"].values())
    _assert_reload_identical(r, "deit_tiny")


def _assert_reload_identical(result: dict, name: str) -> None:
    model, shape = build_model({"name": name, "pruned": result["saved"]["dir"]})
    state = torch.load(result["saved"]["stateDict"]["path"], weights_only=True)
    assert all(torch.equal(model.state_dict()[k], v) for k, v in state.items())
    x = torch.randn(2, *shape[1:], generator=torch.Generator().manual_seed(1))
    # Same weights, rebuilt twice independently: outputs must agree exactly.
    again, _ = build_model({"name": name, "pruned": result["saved"]["dir"]})
    with torch.no_grad():
        assert torch.equal(model(x), again(x))
    from agentic_engine.macs import count_macs

    assert count_macs(model, torch.zeros(shape)).macs == result["macs"]


@pytest.mark.parametrize(
    "name,protected,strategy",
    [
        ("democnn", ["stem.0", "head"], ISO),
        (
            "deit_tiny",
            ["patch_embed.proj", "head"],
            {**ISO, "vit": {"pruneHeads": True, "pruneHeadDims": True, "headRatio": 0.3}},
        ),
    ],
)
def test_save_reload_matches_pruned_model(tmp_path: Path, name, protected, strategy) -> None:
    """The in-memory pruned model and the one rebuilt from disk give identical outputs."""
    import copy

    from agentic_engine.cache import load_model
    from agentic_engine.models import ModelSpec
    from agentic_engine.prune import apply_strategy
    from agentic_engine.strategy import Strategy

    dense, _ = load_model(ModelSpec(name=name), None)
    model = copy.deepcopy(dense.model)
    history, attention = apply_strategy(
        model, Strategy.model_validate(strategy), dense.input_shape, protected
    )
    out = tmp_path / "saved"
    out.mkdir()
    torch.save(model.state_dict(), out / "state_dict.pt")
    (out / "history.json").write_text(
        json.dumps(
            {
                "format": "agentic-pruner/pruned-model@1",
                "model": {"name": name},
                "inputShape": dense.input_shape,
                "history": history,
                "attention": attention,
            }
        )
    )
    rebuilt, _ = build_model({"name": name, "pruned": str(out)})
    x = torch.randn(2, *dense.input_shape[1:])
    with torch.no_grad():
        assert torch.equal(model.eval()(x), rebuilt(x))


def test_prune_job_reload(job, tmp_path: Path) -> None:
    r = _prune(job, tmp_path, {"name": "democnn"}, ISO).result
    _assert_reload_identical(r, "democnn")
    # A pruned model can be pruned again; the saved history then holds both rounds.
    again = job(
        "prune",
        {
            "model": {"name": "democnn", "pruned": r["saved"]["dir"]},
            "strategy": ISO,
            "outDir": str(tmp_path / "again"),
        },
    ).result
    assert again["macs"] < r["macs"] and again["denseMacs"] == r["macs"]
    _assert_reload_identical(again, "democnn")


def test_determinism(job, tmp_path: Path, fresh_cache) -> None:
    strategy = {**ISO, "importance": "random", "pruningRatio": 0.5}
    runs = [
        job(
            "prune",
            {
                "model": {"name": "democnn"},
                "strategy": strategy,
                "seed": seed,
                "outDir": str(tmp_path / f"s{i}"),
            },
        ).result
        for i, seed in enumerate([7, 7, 8])
    ]
    assert runs[0]["warm"] is False and runs[1]["warm"] is True
    assert runs[0]["keptChannels"] == runs[1]["keptChannels"] and runs[0]["macs"] == runs[1]["macs"]
    h = [json.loads(Path(r["saved"]["history"]["path"]).read_text())["history"] for r in runs]
    assert h[0] == h[1] and h[0] != h[2]


def test_ratios_and_ignored_layers(job, tmp_path: Path) -> None:
    strategy = {
        **ISO,
        "pruningRatio": 0.5,
        "stageRatios": {"stage3": 0.0},
        "ignoredLayers": ["stage1.0.conv1"],
        "layerRatios": {"stage2.1.conv1": 0.75},
        "roundTo": 4,
    }
    r = _prune(job, tmp_path, {"name": "democnn"}, strategy).result
    kept = {k["rootLayer"]: k for k in r["keptChannels"]}
    assert kept["stage1.0.conv1"]["after"] == 32
    assert kept["stage3.0.conv1"]["after"] == 128 and kept["stage3.1.conv1"]["after"] == 128
    assert kept["stage2.1.conv1"]["after"] == 16
    assert kept["stage1.1.conv1"]["after"] < 32
    saved = json.loads(Path(r["saved"]["strategy"]["path"]).read_text())
    assert saved["stageRatios"] == {"stage3": 0.0} and saved["iterativeSteps"] == 1


def test_taylor_with_calibration(job, tmp_path: Path, image_folder: Path) -> None:
    cal = {"dataset": str(image_folder), "batches": 2, "batchSize": 8}
    r = _prune(
        job,
        tmp_path,
        {"name": "democnn"},
        {**ISO, "importance": "taylor", "iterativeSteps": 2},
        calibration=cal,
    ).result
    assert r["macs"] < r["denseMacs"]
    assert (
        r["accuracyProxy"]["count"] == 16
        and 0 <= r["accuracyProxy"]["top1"] <= r["accuracyProxy"]["top5"] <= 1
    )


@pytest.mark.parametrize(
    "strategy_patch,extra,field,message",
    [
        ({"pruningRatio": 1.0}, {}, "strategy.pruningRatio", "less than or equal to 0.95"),
        ({"pruningRatio": 0.9500001}, {}, "strategy.pruningRatio", "less than or equal to 0.95"),
        # Strict types: NaN and Infinity are not numbers in range, true is not 1, "0.3" is not 0.3.
        ({"pruningRatio": float("nan")}, {}, "strategy.pruningRatio", "finite number"),
        ({"pruningRatio": float("inf")}, {}, "strategy.pruningRatio", "finite number"),
        ({"pruningRatio": True}, {}, "strategy.pruningRatio", "valid number"),
        ({"pruningRatio": "0.3"}, {}, "strategy.pruningRatio", "valid number"),
        ({"globalPruning": "yes"}, {}, "strategy.globalPruning", "valid boolean"),
        ({"roundTo": 8.0}, {}, "strategy.roundTo", "valid integer"),
        ({"stageRatios": {"stage1": float("nan")}}, {}, "strategy.stageRatios.stage1", "finite number"),
        ({"stageRatios": {"stage1": True}}, {}, "strategy.stageRatios.stage1", "valid number"),
        ({"pruningRatio": -0.1}, {}, "strategy.pruningRatio", "greater than or equal"),
        ({"importance": "taylor"}, {}, "calibration", "calibration"),
        ({"importance": "fisher"}, {}, "strategy.importance", "'l1'"),
        ({"globalPruning": False}, {}, "strategy.isomorphic", "globalPruning"),
        ({"ignoredLayers": ["stage1.0.conv9"]}, {}, "strategy.ignoredLayers", "stage1.0.conv1"),
        ({"stageRatios": {"stage4": 0.2}}, {}, "strategy.stageRatios", "stage3"),
        ({"layerRatios": {"stage1": 0.2}}, {}, "strategy.layerRatios", "not a Conv/Linear"),
        (
            {"layerRatios": {"stage1.0.conv1": 0.9}, "roundTo": 16},
            {},
            "strategy.layerRatios.stage1.0.conv1",
            "every channel",
        ),
        ({"pruningRatios": 0.3}, {}, "strategy.pruningRatios", "Extra inputs"),
        (
            {"vit": {"pruneHeads": False, "pruneHeadDims": True, "headRatio": 0.2}},
            {},
            "strategy.vit.headRatio",
            "pruneHeads",
        ),
        (
            {},
            {"calibration": {"dataset": "/nonexistent", "batches": 1, "batchSize": 2}},
            "calibration.dataset",
            "not a directory",
        ),
        ({}, {"inputShape": [1, 3, 32]}, "inputShape", "[N, C, H, W]"),
        ({}, {"inputShape": [1, 3, 32, 32.5]}, "inputShape.3", "valid integer"),
        # Bounded sizes: a request can not make the engine allocate without limit.
        ({}, {"inputShape": [100000, 3, 32, 32]}, "inputShape", "batch 100000"),
        ({}, {"inputShape": [1, 3, 1 << 20, 32]}, "inputShape", "height 1048576"),
        ({}, {"inputShape": [1, 100000, 32, 32]}, "inputShape", "channels 100000"),
        ({}, {"inputShape": [512, 3, 1024, 1024]}, "inputShape", "elements"),
        (
            {},
            {"calibration": {"dataset": "/tmp", "batches": 1, "batchSize": 100000}},
            "calibration.batchSize",
            "less than or equal",
        ),
    ],
)
def test_bad_strategies(job, tmp_path: Path, strategy_patch, extra, field, message) -> None:
    run = _prune(job, tmp_path, {"name": "democnn"}, {**ISO, **strategy_patch}, **extra)
    assert run.code == 2, run.events[-1]
    assert run.error["type"] == "RequestError" and run.error["field"] == field
    assert message in run.error["message"]


def test_ratio_at_the_schema_maximum_prunes(job, tmp_path: Path) -> None:
    # One range in both schemas: 0.95 is inclusive, as in src/core/strategy.ts (0.9500001 is refused).
    run = _prune(job, tmp_path, {"name": "democnn"}, {**ISO, "pruningRatio": 0.95, "roundTo": 1})
    assert run.code == 0, run.events[-1]
    assert 0 < run.result["macs"] < run.result["denseMacs"]


def test_metadata_is_kept(job, tmp_path: Path) -> None:
    strategy = {**ISO, "rationale": "first try", "agent": "solver", "meta": {"iteration": 3}}
    r = _prune(job, tmp_path, {"name": "democnn"}, strategy).result
    saved = json.loads(Path(r["saved"]["strategy"]["path"]).read_text())
    assert saved["rationale"] == "first try" and saved["meta"] == {"iteration": 3}
