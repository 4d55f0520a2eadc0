"""Model zoo: build a vision model from a :class:`ModelSpec`, never downloading weights.

``build_model(spec)`` returns ``(model in eval mode, default input shape [1, 3, H, W])``. It is the one entry
point every job (profile, prune, export, finetune, evaluate) uses: a spec means the same network everywhere.

Example::

    model, shape = build_model(ModelSpec(name="resnet50"))              # random init, [1, 3, 224, 224]
    model, shape = build_model({"name": "democnn"})                     # the demo CNN, [1, 3, 32, 32]
    model, shape = build_model({"name": "resnet50", "pruned": "/runs/trial-3"})   # rebuilt pruned model
    model, shape = build_model({"name": "resnet50", "weights": "torchvision:IMAGENET1K_V2"})  # TORCH_HOME

``weights`` is a state_dict file, a pruned folder, or pretrained weights by name (``torchvision:<TAG>``,
``timm:<tag>``) read from the libraries' local caches, never downloaded (:mod:`agentic_engine.named_weights`).

What a pruned folder holds, and how it is read and written, is :mod:`agentic_engine.pruned_folder`'s.
"""

from __future__ import annotations

import difflib
import importlib.util
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn
from pydantic import BaseModel, Field, ValidationError

from . import named_weights, pruned_folder
from .attention import fused_to_split_keys, make_width_agnostic, set_attention_shape, unfuse_attention
from .protocol import RequestError, field_path, request_config

__all__ = [
    "ModelSpec",
    "KNOWN_MODELS",
    "build_model",
    "canonical_name",
    "default_input_size",
    "stage_roots",
    "protected_layers",
    "DemoCNN",
]

_TORCHVISION = [
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
    "resnet152",
    "mobilenet_v2",
    "convnext_tiny",
    "convnext_small",
    "convnext_base",
    "vit_b_16",
    "vit_b_32",
]
_VIT_PATCH = {"vit_b_16": 16, "vit_b_32": 32}
"""torchvision ViTs and their patch sizes (timm DeiTs here all cut 16 x 16 patches)."""
_TIMM = ["deit_tiny_patch16_224", "deit_small_patch16_224", "deit_base_patch16_224"]
_ALIASES = {"deit_tiny": _TIMM[0], "deit_small": _TIMM[1], "deit_base": _TIMM[2]}
KNOWN_MODELS: list[str] = [*_TORCHVISION, *_TIMM, *_ALIASES, "democnn"]


class ModelSpec(BaseModel):
    """Which network to build; camelCase in JSON (``numClasses``, ``inputSize``)."""

    model_config = request_config()

    name: str = Field(min_length=1)
    weights: str | None = None
    num_classes: int | None = Field(default=None, ge=1)
    input_size: int | None = Field(default=None, ge=8, le=4096)
    pruned: str | None = None


def weights_file(spec: ModelSpec) -> str | None:
    """The file ``spec.weights`` stands for (a named entry's cache file, unverified), for cache keys."""
    if spec.weights is not None and named_weights.is_named(spec.weights):
        name = canonical_name(spec.name)
        return str(named_weights.locate(name, spec.weights, _TORCHVISION, _TIMM)[0])
    return spec.weights


def canonical_name(name: str) -> str:
    """``deit_small`` -> ``deit_small_patch16_224``; other names unchanged."""
    return _ALIASES.get(name, name)


def default_input_size(name: str) -> int:
    return 32 if canonical_name(name) == "democnn" else 224


def build_model(spec: ModelSpec | dict[str, Any]) -> tuple[nn.Module, list[int]]:
    """Build ``spec``'s model in eval mode and its default input shape ``[1, 3, H, W]``.

    Raises RequestError naming ``model.<field>`` for an unknown name, a missing or unfitting weights
    file, or a bad ``file:`` factory.
    """
    spec = _as_spec(spec)
    pruned_dir = pruned_folder.folder_of(spec)
    # A weights folder is a pruned folder (not a file to load on top).
    weights = None if spec.pruned is None and pruned_dir is not None else spec.weights
    # Random init is seeded (without touching the caller's RNG): a model without weights is the same model
    # in every process, so a strategy measures the same MACs on any worker and in any rerun.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        if pruned_dir is not None:
            model, shape = _build_pruned(spec, pruned_dir)
        else:
            model, shape = _build_dense(spec)
    if weights is not None and named_weights.is_named(weights):
        name = canonical_name(spec.name)
        path, kind = named_weights.resolve(name, weights, _TORCHVISION, _TIMM)
        if kind == "safetensors":
            _fit_state(model, named_weights.read_hub_file(path), str(path), "model.weights")
        else:
            _load_weights(model, str(path), "model.weights")
    elif weights is not None:
        _load_weights(model, weights, "model.weights")
    model.eval()
    return model, shape


def _as_spec(spec: ModelSpec | dict[str, Any]) -> ModelSpec:
    if isinstance(spec, ModelSpec):
        return spec
    try:
        return ModelSpec.model_validate(spec)
    except ValidationError as e:
        first = e.errors()[0]
        inner = field_path(first["loc"])
        raise RequestError(f"model.{inner}" if inner else "model", first["msg"]) from None


def _build_dense(spec: ModelSpec) -> tuple[nn.Module, list[int]]:
    name = canonical_name(spec.name)
    size = spec.input_size or default_input_size(name)
    if name.startswith("file:"):
        model = _build_from_file(name, spec.num_classes)
        unfuse_attention(model)
        size = _factory_input_size(model, spec.input_size, size)
    elif name == "democnn":
        model = DemoCNN(num_classes=spec.num_classes or 10)
    elif name in _TORCHVISION:
        import torchvision

        kwargs: dict[str, Any] = {"weights": None, "num_classes": spec.num_classes or 1000}
        if name in _VIT_PATCH:
            _check_patch_multiple(name, size, spec.input_size)
            kwargs["image_size"] = size
        model = getattr(torchvision.models, name)(**kwargs)
        unfuse_attention(model)
    elif name in _TIMM:
        import timm

        _check_patch_multiple(name, size, spec.input_size)
        model = timm.create_model(name, pretrained=False, num_classes=spec.num_classes or 1000, img_size=size)
        make_width_agnostic(model)
    else:
        near = difflib.get_close_matches(spec.name, KNOWN_MODELS, n=len(KNOWN_MODELS), cutoff=0.0)
        raise RequestError(
            "model.name",
            f"unknown model {spec.name!r}; known (nearest first): {', '.join(near)}, "
            "or file:<path.py>:<function>",
        )
    model.eval()
    return model, [1, 3, size, size]


def _factory_input_size(model: nn.Module, asked: int | None, default: int) -> int:
    """A factory's torchvision ViT was built for one image size and takes no other."""
    fixed = getattr(model, "image_size", None)
    if not isinstance(fixed, int) or not hasattr(model, "patch_size"):
        return asked or default
    if asked is not None and asked != fixed:
        raise RequestError(
            "model.inputSize",
            f"the factory's VisionTransformer was built with image_size={fixed} and takes no other size; "
            f"got {asked}",
        )
    return fixed


def _check_patch_multiple(name: str, size: int, asked: int | None) -> None:
    """A ViT cuts the image into patches: a size that is not a whole number of them is refused up front
    (torchvision would assert deep in its constructor; timm would silently crop)."""
    patch = _VIT_PATCH.get(name, 16)
    if size % patch:
        field = "model.inputSize" if asked is not None else "model.name"
        low = max(patch, size - size % patch)
        raise RequestError(
            field,
            f"{name} takes inputs whose side is a multiple of its patch size {patch}; got {size} (try {low})",
        )


def _build_from_file(name: str, num_classes: int | None) -> nn.Module:
    body = name[len("file:") :]
    if ":" not in body:
        raise RequestError("model.name", f"expected file:<path.py>:<function>, got {name!r}")
    path_str, fn_name = body.rsplit(":", 1)
    path = Path(path_str)
    if not path.is_file():
        raise RequestError("model.name", f"model factory file {str(path)!r} does not exist")
    module_spec = importlib.util.spec_from_file_location(f"_agentic_user_model_{path.stem}", path)
    if module_spec is None or module_spec.loader is None:
        raise RequestError("model.name", f"cannot import {str(path)!r} as a Python module")
    module = importlib.util.module_from_spec(module_spec)
    try:
        module_spec.loader.exec_module(module)
    except Exception as e:  # noqa: BLE001 - user code: any failure is the request's fault
        raise RequestError("model.name", f"importing {str(path)!r} failed: {type(e).__name__}: {e}") from None
    fn = getattr(module, fn_name, None)
    if not callable(fn):
        raise RequestError("model.name", f"{str(path)!r} has no function {fn_name!r}")
    try:
        model = fn(num_classes=num_classes) if num_classes is not None else fn()
    except Exception as e:  # noqa: BLE001
        raise RequestError("model.name", f"{fn_name}() failed: {type(e).__name__}: {e}") from None
    if not isinstance(model, nn.Module):
        raise RequestError(
            "model.name", f"{fn_name}() returned {type(model).__name__}, expected a torch.nn.Module"
        )
    return model


_ZIP_MAGIC = b"PK\x03\x04"
"""How a ``torch.save`` file (the zip format, torch >= 1.6) begins."""
_PICKLE_PROTOCOL = 0x80
"""How a legacy ``torch.save`` file begins: a pickle protocol-2+ opcode."""


def _not_a_checkpoint(path_str: str, why: str) -> str:
    return f"{path_str!r} is not a PyTorch state_dict / checkpoint ({why})"


def _load_weights(model: nn.Module, path_str: str, field: str) -> None:
    """Load a state_dict file into ``model``; RequestError naming ``field`` if it is not one that fits.

    The file is checked before torch reads it: a regular file (not a device, FIFO or folder) that begins
    like a ``torch.save`` file. Messages name the path and what is wrong, never the file's bytes (a
    ``weights:`` path may point at any file the worker can read).
    """
    path = Path(path_str)
    if not path.exists():
        raise RequestError(field, f"weights file {path_str!r} does not exist")
    if not path.is_file():
        raise RequestError(field, _not_a_checkpoint(path_str, "not a regular file"))
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError as e:
        raise RequestError(field, f"cannot read weights file {path_str!r}: {e.strerror}") from None
    if not (head.startswith(_ZIP_MAGIC) or (head[:1] and head[0] == _PICKLE_PROTOCOL)):
        raise RequestError(field, _not_a_checkpoint(path_str, "it does not begin like a torch.save file"))
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - a corrupt or foreign file is the request's fault
        # torch's message may quote the bytes it choked on: name the exception type only.
        why = f"torch.load failed: {type(e).__name__}"
        raise RequestError(field, _not_a_checkpoint(path_str, why)) from None
    if isinstance(state, dict):
        for key in ("state_dict", "model", "model_state_dict"):
            if isinstance(state.get(key), dict):
                state = state[key]
                break
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise RequestError(field, _not_a_checkpoint(path_str, "it does not hold a dict of tensors"))
    _fit_state(model, state, path_str, field)


def _fit_state(model: nn.Module, state: dict[str, torch.Tensor], path_str: str, field: str) -> None:
    """Load ``state`` into ``model`` when every tensor fits; else RequestError naming the first misfit."""
    state = fused_to_split_keys({k.removeprefix("module."): v for k, v in state.items()}, model)
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    mismatched = [k for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or mismatched:
        parts = []
        # The first tensor of another shape says most about a file for another architecture: it comes first.
        if mismatched:
            k = mismatched[0]
            parts.append(
                f"{len(mismatched)} with another shape (first: {k}: file {list(state[k].shape)}, "
                f"model {list(own[k].shape)})"
            )
        if missing:
            parts.append(f"{len(missing)} missing (e.g. {missing[0]})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected (e.g. {unexpected[0]})")
        raise RequestError(field, f"{path_str!r} does not fit the model: " + "; ".join(parts))
    model.load_state_dict(state, strict=True)


def _build_pruned(spec: ModelSpec, dir_str: str) -> tuple[nn.Module, list[int]]:
    """Fresh dense model -> dependency graph -> replay the pruning history -> load the saved tensors."""
    field = "model.pruned" if spec.pruned is not None else "model.weights"
    saved = pruned_folder.read(dir_str, field)
    dense_spec = ModelSpec.model_validate(saved.dense_spec)
    if canonical_name(dense_spec.name) != canonical_name(spec.name):
        raise RequestError(field, f"{dir_str!r} holds a pruned {dense_spec.name!r}, not {spec.name!r}")
    model, shape = _build_dense(dense_spec)
    input_shape = saved.input_shape or shape
    # Imported here, not above: torch-pruning costs ~2 s of import that dense-only jobs need not pay.
    from .graph import build_graph

    graph = build_graph(model, input_shape)
    graph.load_pruning_history(saved.history)
    modules = dict(model.named_modules())
    for name, attrs in saved.attention.items():
        set_attention_shape(modules[name], attrs["numHeads"], attrs["headDim"])
    _load_weights(model, str(pruned_folder.weights_path(dir_str)), field)
    return model, [1, *input_shape[1:]]


# ---------------------------------------------------------------------------------------------------------
# Structure helpers shared by profile and prune


def stage_roots(name: str) -> list[str] | None:
    """Module paths whose children are stages; ``None`` = decide from the MAC distribution (file: models)."""
    name = canonical_name(name)
    if name.startswith("resnet") or name == "democnn":
        return []
    if name == "mobilenet_v2" or name.startswith("convnext"):
        return ["features"]
    if name in _TIMM:
        return ["blocks"]
    if name in _VIT_PATCH:
        return ["encoder", "encoder.layers"]
    return None


def protected_layers(model: nn.Module) -> list[dict[str, str]]:
    """Layers prune never touches, each with the reason: stem, classifier head, unsplittable attention."""
    out: list[dict[str, str]] = []
    named = list(model.named_modules())
    convs = [(n, m) for n, m in named if isinstance(m, nn.Conv2d)]
    if convs:
        stem = convs[0][0]
        if "patch_embed" in stem or stem == "conv_proj":
            reason = "patch embedding: its output width is the residual stream shared by every block"
        else:
            reason = "stem: the first convolution sees raw pixels"
        out.append({"layer": stem, "reason": reason})
    heads = [(n, m) for n, m in named if isinstance(m, nn.Linear) and type(m) is nn.Linear]
    if heads:
        out.append({"layer": heads[-1][0], "reason": "classifier head: its outputs are the classes"})
    elif convs and convs[-1][0] != convs[0][0]:
        out.append({"layer": convs[-1][0], "reason": "classifier head: its outputs are the classes"})
    for n, m in named:
        if isinstance(m, nn.MultiheadAttention):
            out.append(
                {"layer": n, "reason": "nn.MultiheadAttention: its fused in-projection cannot be split"}
            )
    return out


# ---------------------------------------------------------------------------------------------------------
# democnn


class _BasicBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.downsample: nn.Module | None = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride, bias=False), nn.BatchNorm2d(out_channels)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class DemoCNN(nn.Module):
    """The demo's ResNet-style CNN for 3x32x32 inputs: stem, stage1..stage3 (two residual blocks each), head.

    About 27 MMACs and 0.7 M parameters: small enough to prune and fine-tune on a laptop CPU.
    """

    def __init__(self, num_classes: int = 10, widths: tuple[int, int, int] = (32, 64, 128)) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(3, widths[0], 3, 1, 1, bias=False), nn.BatchNorm2d(widths[0]), nn.ReLU()
        )
        self.stage1 = nn.Sequential(
            _BasicBlock(widths[0], widths[0], 2), _BasicBlock(widths[0], widths[0], 1)
        )
        self.stage2 = nn.Sequential(
            _BasicBlock(widths[0], widths[1], 2), _BasicBlock(widths[1], widths[1], 1)
        )
        self.stage3 = nn.Sequential(
            _BasicBlock(widths[1], widths[2], 2), _BasicBlock(widths[2], widths[2], 1)
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(widths[2], num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stage3(self.stage2(self.stage1(self.stem(x))))
        return self.head(torch.flatten(self.pool(x), 1))
