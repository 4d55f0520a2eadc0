"""ONNX export of dense and pruned models: loadable, named I/O, dynamic batch, the counter's shapes."""

from __future__ import annotations

from pathlib import Path

import onnx
import pytest


def _dims(value_info) -> list:
    return [d.dim_param or d.dim_value for d in value_info.type.tensor_type.shape.dim]


def test_export_dense(job, tmp_path: Path) -> None:
    out = tmp_path / "nested" / "democnn.onnx"
    run = job("export", {"model": {"name": "democnn"}, "out": str(out)})
    assert run.code == 0, run.events[-1]
    r = run.result
    assert r["onnx"]["path"] == str(out.resolve()) and r["onnx"]["sizeBytes"] == out.stat().st_size
    assert run.artifacts("onnx")[0]["sha256"] == r["onnx"]["sha256"]
    assert r["macs"] == 27_362_560
    model = onnx.load(str(out))
    onnx.checker.check_model(model)
    assert model.opset_import[0].version == 17
    assert _dims(model.graph.input[0]) == ["batch", 3, 32, 32]
    assert _dims(model.graph.output[0]) == ["batch", 10]
    ops = {n.op_type for n in model.graph.node}
    assert "Conv" in ops and "Gemm" in ops
    assert sorted(p.name for p in (tmp_path / "nested").iterdir()) == ["democnn.onnx"]  # no temp file left


def test_export_pruned_conv_shapes(job, tmp_path: Path) -> None:
    strategy = {"pruningRatio": 0.5, "importance": "l1", "globalPruning": True, "isomorphic": True}
    pruned = job(
        "prune", {"model": {"name": "democnn"}, "strategy": strategy, "outDir": str(tmp_path / "p")}
    ).result
    out = tmp_path / "pruned.onnx"
    r = job(
        "export",
        {"model": {"name": "democnn", "pruned": pruned["saved"]["dir"]}, "out": str(out), "opset": 18},
    ).result
    assert r["macs"] == pruned["macs"]
    model = onnx.load(str(out))
    onnx.checker.check_model(model)
    weights = {t.name: list(t.dims) for t in model.graph.initializer}
    # Every Conv's weight must keep its pruned width (no BN folding that would change shapes).
    conv_out = sorted(weights[n.input[1]][0] for n in model.graph.node if n.op_type == "Conv")
    kept = sorted(k["after"] for k in pruned["keptChannels"] if k["rootLayer"] != "head")
    assert set(kept) <= set(conv_out)


def test_export_bad_requests(job, tmp_path: Path) -> None:
    err = job("export", {"model": {"name": "democnn"}, "out": str(tmp_path / "x.onnx"), "opset": 13}).error
    assert err["field"] == "opset"
    err = job("export", {"model": {"name": "democnn"}}).error
    assert err["field"] == "out"


@pytest.mark.slow
def test_export_deit_small(job, tmp_path: Path) -> None:
    out = tmp_path / "deit.onnx"
    r = job("export", {"model": {"name": "deit_small"}, "out": str(out)}).result
    onnx.checker.check_model(str(out))
    assert abs(r["macs"] - 4.6e9) / 4.6e9 < 0.01


def _onnx_macs(path: Path) -> int:
    """Conv/Gemm/MatMul MACs from the ONNX graph, as the TS profiler counts them (batch 1)."""
    model = onnx.shape_inference.infer_shapes(onnx.load(str(path)), data_prop=True)
    shapes: dict[str, list[int]] = {}
    for vi in [*model.graph.value_info, *model.graph.input, *model.graph.output]:
        shapes[vi.name] = [d.dim_value if d.dim_value else 1 for d in vi.type.tensor_type.shape.dim]
    for t in model.graph.initializer:
        shapes[t.name] = list(t.dims)
    total = 0
    for node in model.graph.node:
        if node.op_type == "Conv":
            w, out = shapes[node.input[1]], shapes[node.output[0]]
            n = 1
            for v in out:
                n *= v
            k = 1
            for v in w[1:]:
                k *= v
            total += n * k
        elif node.op_type in ("Gemm", "MatMul"):
            a, out = shapes[node.input[0]], shapes[node.output[0]]
            n = 1
            for v in out:
                n *= v
            total += n * a[-1]
    return total


@pytest.mark.parametrize(
    "model,strategy",
    [
        ({"name": "democnn"}, None),
        (
            {"name": "deit_tiny"},
            {
                "pruningRatio": 0.3,
                "importance": "l2",
                "globalPruning": True,
                "isomorphic": True,
                "vit": {"pruneHeads": True, "pruneHeadDims": True, "headRatio": 0.25},
            },
        ),
    ],
)
def test_onnx_macs_agree_with_engine(job, tmp_path: Path, model, strategy) -> None:
    if strategy is not None:
        pruned = job("prune", {"model": model, "strategy": strategy, "outDir": str(tmp_path / "p")}).result
        model = {**model, "pruned": pruned["saved"]["dir"]}
    out = tmp_path / "m.onnx"
    r = job("export", {"model": model, "out": str(out)}).result
    assert abs(_onnx_macs(out) - r["macs"]) / r["macs"] < 0.005
