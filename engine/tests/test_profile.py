"""MAC counter against published numbers; the profile job's Profile; model-building errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import onnx
import pytest
import torch

from agentic_engine.macs import count_macs
from agentic_engine.models import build_model


def _count(name: str) -> tuple[int, int]:
    model, shape = build_model({"name": name})
    c = count_macs(model, torch.zeros(shape))
    return c.macs, c.params


# (name, published MACs at 224x224, published params or None)
PUBLISHED = [
    ("resnet18", 1.814e9, 11.690e6),
    ("resnet50", 4.089e9, 25.557e6),
    ("mobilenet_v2", 0.301e9, 3.505e6),
    ("deit_small", 4.6e9, 22.1e6),
]
PUBLISHED_SLOW = [
    ("resnet101", 7.801e9, 44.549e6),
    ("convnext_small", 8.684e9, 50.224e6),
    ("deit_base", 17.6e9, 86.6e6),
    ("vit_b_16", 17.564e9, 86.567e6),
]


@pytest.mark.parametrize("name,macs,params", PUBLISHED)
def test_macs_match_published(name: str, macs: float, params: float) -> None:
    got_macs, got_params = _count(name)
    assert abs(got_macs - macs) / macs < 0.01, got_macs
    assert abs(got_params - params) / params < 0.01, got_params


@pytest.mark.slow
@pytest.mark.parametrize("name,macs,params", PUBLISHED_SLOW)
def test_macs_match_published_large(name: str, macs: float, params: float) -> None:
    got_macs, got_params = _count(name)
    assert abs(got_macs - macs) / macs < 0.01, got_macs
    assert abs(got_params - params) / params < 0.01, got_params


def test_exact_resnet18_layers() -> None:
    model, shape = build_model({"name": "resnet18"})
    layers = {layer.name: layer for layer in count_macs(model, torch.zeros(shape)).layers}
    assert layers["conv1"].macs == 64 * 112 * 112 * 3 * 7 * 7
    assert layers["fc"].macs == 512 * 1000
    assert layers["conv1"].output_size == [64, 112, 112]


def test_macs_are_per_image() -> None:
    model, shape = build_model({"name": "democnn"})
    one = count_macs(model, torch.zeros(shape)).macs
    four = count_macs(model, torch.zeros(4, *shape[1:])).macs
    assert one == four


def test_profile_resnet18(job, tmp_path: Path) -> None:
    onnx_path = tmp_path / "r18.onnx"
    run = job("profile", {"model": {"name": "resnet18"}, "exportOnnx": str(onnx_path)})
    assert run.code == 0, run.events[-1]
    p = run.result
    assert p["model"] == "resnet18" and p["inputShape"] == [1, 3, 224, 224]
    assert p["macs"] == 1_814_073_344 and p["params"] == 11_689_512
    row = p["layers"][0]
    assert set(row) == {
        "name",
        "type",
        "inChannels",
        "outChannels",
        "groups",
        "kernel",
        "outputSize",
        "macs",
        "params",
    }
    assert row["name"] == "conv1" and row["kernel"] == [7, 7] and row["params"] == 64 * 3 * 7 * 7
    assert sum(r["macs"] for r in p["layers"]) == p["macs"]
    assert [s["name"] for s in p["stages"]] == ["conv1", "layer1", "layer2", "layer3", "layer4", "fc"]
    assert sum(s["macs"] for s in p["stages"]) == p["macs"]
    assert sum(s["params"] for s in p["stages"]) == p["params"]
    assert abs(sum(s["share"] for s in p["stages"]) - 1) < 1e-4
    assert {x["layer"] for x in p["protected"]} == {"conv1", "fc"}
    groups = {g["rootLayer"]: g for g in p["groups"]}
    assert [g["id"] for g in p["groups"]] == list(range(len(p["groups"])))
    assert groups["fc"]["prunable"] is False and groups["conv1"]["prunable"] is False
    conv1_group = groups["layer1.0.conv1"]
    assert conv1_group["prunable"] and conv1_group["channels"] == 64
    assert conv1_group["layers"] == ["layer1.0.conv1", "layer1.0.bn1", "layer1.0.conv2"]
    # All eight block-internal groups are isomorphic; the two plain downsample groups share a class too.
    classes = {c["key"]: c for c in p["isomorphicClasses"]}
    inner = classes[conv1_group["isomorphicKey"]]
    assert len(inner["groupIds"]) == 8 and inner["channels"] == 2 * (64 + 128 + 256 + 512)
    assert all(groups[r]["isomorphicKey"] in classes for r in groups if groups[r]["prunable"])
    ref = run.artifacts("onnx")[0]
    assert p["onnx"]["sha256"] == ref["sha256"] and Path(ref["path"]) == onnx_path.resolve()
    onnx.checker.check_model(str(onnx_path))


def test_profile_deit_tiny(job) -> None:
    p = job("profile", {"model": {"name": "deit_tiny"}}).result
    assert [s["name"] for s in p["stages"]] == ["patch_embed", *[f"blocks.{i}" for i in range(12)], "head"]
    assert sum(s["params"] for s in p["stages"]) == p["params"]
    attn = [r for r in p["layers"] if r["type"] == "AttentionMatmul"]
    assert len(attn) == 12 and attn[0]["macs"] == 2 * 197 * 197 * 192 and attn[0]["groups"] == 3
    protected = {x["layer"]: x["reason"] for x in p["protected"]}
    assert set(protected) == {"patch_embed.proj", "head"}
    qkv = [g for g in p["groups"] if g["rootLayer"].endswith("attn.qkv")]
    assert len(qkv) == 12 and all(g["prunable"] for g in qkv)
    assert len({g["isomorphicKey"] for g in qkv}) == 1


def test_profile_democnn_and_mobilenet_stages(job) -> None:
    p = job("profile", {"model": {"name": "democnn"}}).result
    assert [s["name"] for s in p["stages"]] == ["stem", "stage1", "stage2", "stage3", "head"]
    assert 20e6 <= p["macs"] <= 40e6 and p["inputShape"] == [1, 3, 32, 32]
    p = job("profile", {"model": {"name": "mobilenet_v2"}, "inputShape": [2, 3, 64, 64]}).result
    assert p["inputShape"] == [2, 3, 64, 64]
    assert [s["name"] for s in p["stages"]] == [*[f"features.{i}" for i in range(19)], "classifier"]


@pytest.mark.parametrize(
    "model,message",
    [
        ({"name": "resnet5"}, "resnet50"),
        ({"name": "file:/nonexistent/factory.py:make"}, "does not exist"),
        ({"name": "resnet18", "weights": "/nonexistent.pt"}, "does not exist"),
        ({"name": "resnet18", "color": "red"}, "Extra inputs"),
    ],
)
def test_bad_model_specs(job, model: dict, message: str) -> None:
    run = job("profile", {"model": model})
    assert run.code == 2
    err = run.error
    assert err["type"] == "RequestError" and err["field"].startswith("model.")
    assert message in err["message"]


def test_unknown_name_lists_nearest_first(job) -> None:
    err = job("profile", {"model": {"name": "resnet5"}}).error
    listed = err["message"].split("nearest first): ")[1]
    assert listed.split(", ")[0] in {"resnet50", "resnet152", "resnet18", "resnet34"}
    assert "deit_small" in listed and "democnn" in listed


def test_file_factory(job, tmp_path: Path) -> None:
    factory = tmp_path / "factory.py"
    factory.write_text(
        "import torch.nn as nn\n"
        "def make(num_classes=4):\n"
        "    return nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),"
        " nn.Linear(8, num_classes))\n"
        "def broken():\n    return 42\n"
    )
    ok = job("profile", {"model": {"name": f"file:{factory}:make", "inputSize": 16}})
    assert ok.code == 0 and ok.result["macs"] == 14 * 14 * 8 * 27 + 8 * 4
    missing = job("profile", {"model": {"name": f"file:{factory}:nope"}}).error
    assert missing["field"] == "model.name" and "no function 'nope'" in missing["message"]
    wrong = job("profile", {"model": {"name": f"file:{factory}:broken"}}).error
    assert wrong["field"] == "model.name" and "expected a torch.nn.Module" in wrong["message"]


def test_weights_roundtrip_and_mismatch(job, tmp_path: Path) -> None:
    model, shape = build_model({"name": "democnn"})
    good = tmp_path / "democnn.pt"
    torch.save({"state_dict": model.state_dict()}, good)
    rebuilt, _ = build_model({"name": "democnn", "weights": str(good)})
    x = torch.randn(shape)
    assert torch.equal(model(x), rebuilt(x))
    err = job("profile", {"model": {"name": "resnet18", "weights": str(good)}}).error
    assert err["field"] == "model.weights" and "does not fit" in err["message"]


SECRET = "root:$6$s3cr3t-hash-do-not-echo:19000:0:99999:7:::"


def _not_weights(tmp_path: Path) -> list[tuple[str, str]]:
    """Files a ``weights:`` path may name that are no state_dict, with what the error must say."""
    text = tmp_path / "shadow"
    text.write_text(SECRET + "\n" * 20)
    pickled = tmp_path / "list.pt"
    torch.save([1, 2, 3], pickled)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"\x80\x02" + SECRET.encode())
    return [
        (str(text), "does not begin like a torch.save file"),
        ("/dev/zero", "not a regular file"),
        (str(tmp_path), "not a regular file"),
        (str(pickled), "does not hold a dict of tensors"),
        (str(junk), "torch.load failed"),
    ]


def test_weights_that_are_not_a_state_dict_are_refused_without_echoing_them(job, tmp_path: Path) -> None:
    for path, why in _not_weights(tmp_path):
        # a folder is read as a pruned folder (weights: <dir>), which it is not: its own message
        run = job("profile", {"model": {"name": "democnn", "weights": path}})
        assert run.code == 2, (path, run.events[-1])
        err = run.error
        assert err["type"] == "RequestError" and err["field"] == "model.weights", (path, err)
        if path != str(tmp_path):
            assert f"{path!r} is not a PyTorch state_dict / checkpoint" in err["message"], err
            assert why in err["message"], err
        assert "s3cr3t" not in err["message"] and "root:" not in err["message"], err


@pytest.mark.parametrize(
    "model,field",
    [
        ({"name": "democnn", "inputSize": 1 << 20}, "model.inputSize"),
        ({"name": "democnn", "numClasses": True}, "model.numClasses"),
        ({"name": "democnn", "numClasses": "10"}, "model.numClasses"),
    ],
)
def test_model_spec_types_and_bounds(job, model: dict, field: str) -> None:
    err = job("profile", {"model": model}).error
    assert err["type"] == "RequestError" and err["field"] == field, err


def test_vit_input_size_mismatch(job) -> None:
    err = job(
        "profile", {"model": {"name": "deit_tiny", "inputSize": 224}, "inputShape": [1, 3, 64, 64]}
    ).error
    assert err["field"] == "inputShape"


def test_bad_request_exit_code_2_subprocess() -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "agentic_engine",
            "profile",
            "--request",
            json.dumps({"model": {"name": "nope"}}),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    assert events[-1]["event"] == "error" and events[-1]["field"] == "model.name"
