"""Pretrained weights by name (``torchvision:<TAG>``, ``timm:<tag>``) from local caches, never the network."""

from __future__ import annotations

import hashlib
import socket
from pathlib import Path

import pytest
import torch

from agentic_engine import named_weights
from agentic_engine.models import build_model

SNAPSHOT = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, Path]:
    """Caches in temp folders, and any attempt to open a connection fails the test."""
    caches = {"torch": tmp_path / "torch-home", "hf": tmp_path / "hf-hub"}
    monkeypatch.setenv("TORCH_HOME", str(caches["torch"]))
    monkeypatch.setenv("HF_HUB_CACHE", str(caches["hf"]))

    def no_network(*args, **kwargs):
        raise AssertionError(f"network use: {args[1:] if len(args) > 1 else args}")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    return caches


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _generated(name: str, seed: int = 7) -> dict[str, torch.Tensor]:
    """A state_dict of ``name`` that is not the seeded random init: the weights came from the file."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model, _ = build_model({"name": name})
        return {
            k: v + torch.randn_like(v) * 0.01 if v.is_floating_point() else v
            for k, v in model.state_dict().items()
        }


def _fill_torch_hub(
    caches: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
    model: str,
    tag: str,
    state: dict[str, torch.Tensor] | None = None,
) -> tuple[Path, dict[str, torch.Tensor]]:
    """Save ``state`` (default: generated weights of ``model``) into TORCH_HOME/hub/checkpoints as torch.hub
    names a download, ``<model>-<sha256[:8]>.pth``, and point torchvision's table entry at that name (the
    published hash belongs to the published file, which no generated file matches)."""
    import torchvision

    state = _generated(model) if state is None else state
    folder = caches["torch"] / "hub" / "checkpoints"
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / "tmp.pth"
    torch.save(state, tmp)
    path = folder / f"{model}-{_sha256(tmp)[:8]}.pth"
    tmp.rename(path)
    entry = torchvision.models.get_model_weights(model)[tag].value
    monkeypatch.setattr(entry, "url", f"https://download.pytorch.org/models/{path.name}")
    return path, state


def _fill_hf_hub(caches: dict[str, Path], arch: str, tag: str, state: dict[str, torch.Tensor]) -> Path:
    """The hub cache layout huggingface_hub writes: refs/main -> snapshots/<rev>/model.safetensors."""
    from safetensors.torch import save_file

    repo = caches["hf"] / f"models--timm--{arch}.{tag}"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(SNAPSHOT)
    snapshot = repo / "snapshots" / SNAPSHOT
    snapshot.mkdir(parents=True)
    save_file({k: v.contiguous() for k, v in state.items()}, str(snapshot / "model.safetensors"))
    return snapshot / "model.safetensors"


def test_torchvision_weights_by_name_build_and_prune(job, tmp_path: Path, offline, monkeypatch) -> None:
    path, state = _fill_torch_hub(offline, monkeypatch, "resnet18", "IMAGENET1K_V1")
    model, shape = build_model({"name": "resnet18", "weights": "torchvision:IMAGENET1K_V1", "inputSize": 64})
    assert all(torch.equal(model.state_dict()[k], v) for k, v in state.items())
    by_path, _ = build_model({"name": "resnet18", "weights": str(path), "inputSize": 64})
    x = torch.randn(2, *shape[1:], generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(model(x), by_path(x))
    # The same model pruned: the pruned folder carries the named weights' tensors, cut.
    strategy = {"pruningRatio": 0.3, "importance": "l2", "globalPruning": True, "isomorphic": True}
    spec = {"name": "resnet18", "weights": "torchvision:IMAGENET1K_V1", "inputSize": 64}
    from_name = job("prune", {"model": spec, "strategy": strategy, "outDir": str(tmp_path / "a")})
    from_path = job(
        "prune",
        {"model": {**spec, "weights": str(path)}, "strategy": strategy, "outDir": str(tmp_path / "b")},
    )
    assert from_name.code == 0, from_name.events[-1]
    a, b = from_name.result, from_path.result
    assert a["macs"] == b["macs"] < a["denseMacs"]
    assert a["keptChannels"] == b["keptChannels"]
    pruned_a, _ = build_model({"name": "resnet18", "pruned": a["saved"]["dir"]})
    pruned_b, _ = build_model({"name": "resnet18", "pruned": b["saved"]["dir"]})
    with torch.no_grad():
        assert torch.equal(pruned_a(x), pruned_b(x))


def test_torchvision_vit_weights_by_name(offline, monkeypatch) -> None:
    """vit_b_32's published layout (fused in_proj_weight) loads into the split attention."""
    import torchvision

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(5)
        stock = torchvision.models.vit_b_32(weights=None).eval()
    _fill_torch_hub(offline, monkeypatch, "vit_b_32", "IMAGENET1K_V1", stock.state_dict())
    ours, shape = build_model({"name": "vit_b_32", "weights": "torchvision:IMAGENET1K_V1"})
    x = torch.randn(1, *shape[1:], generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.allclose(ours(x), stock(x), atol=1e-4)


def test_timm_weights_by_name_build_and_prune(job, tmp_path: Path, offline) -> None:
    state = _generated("deit_tiny")
    _fill_hf_hub(offline, "deit_tiny_patch16_224", "fb_in1k", state)
    model, shape = build_model({"name": "deit_tiny", "weights": "timm:fb_in1k"})
    assert all(torch.equal(model.state_dict()[k], v) for k, v in state.items())
    strategy = {
        "pruningRatio": 0.3,
        "importance": "l2",
        "globalPruning": True,
        "isomorphic": True,
        "vit": {"pruneHeads": True, "pruneHeadDims": False, "headRatio": 0.34},
    }
    run = job(
        "prune",
        {
            "model": {"name": "deit_tiny", "weights": "timm:fb_in1k"},
            "strategy": strategy,
            "outDir": str(tmp_path / "p"),
        },
    )
    assert run.code == 0, run.events[-1]
    r = run.result
    assert r["macs"] < r["denseMacs"]
    pruned, _ = build_model({"name": "deit_tiny", "pruned": r["saved"]["dir"]})
    kept = pruned.blocks[0].attn.qkv.weight
    # The kept rows are the file's rows, not the random init's.
    assert any(torch.equal(kept[0], row) for row in state["blocks.0.attn.qkv.weight"])


def _error(job, model: dict) -> dict:
    run = job("profile", {"model": model})
    assert run.code == 2, run.events[-1]
    assert run.error["type"] == "RequestError" and run.error["field"] == "model.weights", run.error
    return run.error


def test_missing_torchvision_entry_names_the_path_and_the_fill(job, offline) -> None:
    err = _error(job, {"name": "resnet50", "weights": "torchvision:IMAGENET1K_V2"})
    path = offline["torch"] / "hub" / "checkpoints" / "resnet50-11ad3fa6.pth"
    assert f"{str(path)!r} does not exist" in err["message"]
    assert f"TORCH_HOME={offline['torch']} python -c" in err["message"]
    assert "torchvision.models.resnet50(weights='IMAGENET1K_V2')" in err["message"]
    assert "\n" not in err["message"]


def test_missing_timm_entry_names_the_path_and_the_fill(job, offline) -> None:
    err = _error(job, {"name": "deit_tiny", "weights": "timm:fb_in1k"})
    folder = offline["hf"] / "models--timm--deit_tiny_patch16_224.fb_in1k"
    assert f"no model.safetensors or pytorch_model.bin under {str(folder)!r}" in err["message"]
    assert f"HF_HUB_CACHE={offline['hf']} python -c" in err["message"]
    assert "timm.create_model('deit_tiny_patch16_224.fb_in1k', pretrained=True)" in err["message"]
    assert "\n" not in err["message"]


def test_a_file_that_does_not_hash_to_its_name_is_refused(job, offline) -> None:
    folder = offline["torch"] / "hub" / "checkpoints"
    folder.mkdir(parents=True)
    path = folder / "resnet18-f37072fd.pth"  # torchvision's published name, generated bytes
    torch.save(_generated("resnet18"), path)
    err = _error(job, {"name": "resnet18", "weights": "torchvision:IMAGENET1K_V1"})
    assert f"{str(path)!r} is not torchvision's IMAGENET1K_V1 of resnet18" in err["message"]
    assert f"its name says sha256 f37072fd..., the file hashes to {_sha256(path)[:8]}..." in err["message"]


def test_weights_of_another_architecture_name_the_first_misfit(job, offline, monkeypatch) -> None:
    # resnet34's weights filed under resnet18's name: the first tensor of another shape, both shapes.
    path, _ = _fill_torch_hub(offline, monkeypatch, "resnet18", "IMAGENET1K_V1", _generated("resnet34"))
    err = _error(job, {"name": "resnet18", "weights": "torchvision:IMAGENET1K_V1", "numClasses": 10})
    assert (
        f"{str(path)!r} does not fit the model: 2 with another shape "
        "(first: fc.weight: file [1000, 512], model [10, 512])" in err["message"]
    )
    assert "unexpected (e.g. layer1.2." in err["message"]


def test_a_hub_file_that_does_not_load_is_refused(job, offline) -> None:
    path = _fill_hf_hub(offline, "deit_tiny_patch16_224", "fb_in1k", {"x": torch.zeros(2)})
    path.write_bytes(b"\x00" * 64)
    err = _error(job, {"name": "deit_tiny", "weights": "timm:fb_in1k"})
    assert err["message"] == f"model.weights: {str(path)!r} does not load as safetensors (SafetensorError)"


@pytest.mark.parametrize(
    "model,message",
    [
        (
            {"name": "resnet18", "weights": "torchvision:IMAGENET1K_V9"},
            "no weights 'IMAGENET1K_V9' for resnet18; known: IMAGENET1K_V1",
        ),
        (
            {"name": "deit_tiny", "weights": "timm:in22k"},
            "no pretrained tag 'in22k' for deit_tiny_patch16_224; known: fb_in1k",
        ),
        (
            {"name": "deit_tiny", "weights": "torchvision:IMAGENET1K_V1"},
            "'deit_tiny_patch16_224' is not a torchvision model",
        ),
        ({"name": "democnn", "weights": "timm:fb_in1k"}, "'democnn' is not a timm model"),
    ],
)
def test_bad_names(job, model: dict, message: str) -> None:
    assert message in _error(job, model)["message"]


def test_tables_cover_every_zoo_model() -> None:
    from agentic_engine.models import _TIMM, _TORCHVISION

    tv = named_weights.torchvision_table(_TORCHVISION)
    assert tv["resnet50"] == {
        "IMAGENET1K_V1": "resnet50-0676ba61.pth",
        "IMAGENET1K_V2": "resnet50-11ad3fa6.pth",
    }
    assert all(tv[name] for name in _TORCHVISION)
    assert named_weights.timm_table(_TIMM) == {name: ["fb_in1k"] for name in _TIMM}
