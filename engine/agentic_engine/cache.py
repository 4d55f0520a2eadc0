"""Warm cache of analysed models, so repeated prune trials of one model skip building and analysis.

An entry holds a pristine model (never mutated: prune deep-copies it), its MAC count, stages, dependency
groups and protected layers. Key: the model spec, the weights / pruned files' mtime and size, and the input
size. Measured on the 2-core dev box, resnet50: building + analysing costs ~1.2 s, a deep copy ~0.06 s.
The dependency graph itself is re-traced per trial (~0.2 s): torch-pruning's graph holds autograd nodes and
a recursive node structure that ``copy.deepcopy`` cannot take.
"""

from __future__ import annotations

import json
import os
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn

from . import pruned_folder
from .graph import GroupInfo, build_graph, list_groups
from .macs import MacCount, count_macs, stage_table
from .models import ModelSpec, build_model, protected_layers, stage_roots, weights_file
from .protocol import Emitter, RequestError

__all__ = ["DenseModel", "load_model", "resolve_input_shape", "clear", "MAX_ENTRIES"]

MAX_ENTRIES = int(os.environ.get("AGENTIC_ENGINE_CACHE_ENTRIES", "2"))


@dataclass
class DenseModel:
    spec: ModelSpec
    model: nn.Module
    input_shape: list[int]
    count: MacCount
    stages: list[dict[str, Any]]
    protected: list[dict[str, str]]
    groups: list[GroupInfo] | None = None

    @property
    def num_classes(self) -> int:
        out = self.count.output
        return int(out.shape[-1])

    def ensure_groups(self) -> list[GroupInfo]:
        if self.groups is None:
            graph = build_graph(self.model, self.input_shape)
            self.groups = list_groups(graph, self.model, {p["layer"] for p in self.protected})
        return self.groups


_ENTRIES: OrderedDict[str, DenseModel] = OrderedDict()


def clear() -> None:
    _ENTRIES.clear()


def _file_stamp(path: str | None) -> list[Any] | None:
    if path is None:
        return None
    p = Path(path)
    target = pruned_folder.weights_path(p) if p.is_dir() else p
    try:
        st = target.stat()
    except OSError:
        return [str(p), None]
    return [str(p.resolve()), st.st_mtime_ns, st.st_size]


def _fixed_input_size(model: nn.Module) -> int | None:
    """ViTs are built for one image size; CNNs take any."""
    size = getattr(model, "image_size", None)  # torchvision ViT
    if isinstance(size, int):
        return size
    patch_embed = getattr(model, "patch_embed", None)
    img = getattr(patch_embed, "img_size", None) if patch_embed is not None else None
    if (
        img is not None
        and getattr(patch_embed, "strict_img_size", True)
        and not getattr(patch_embed, "dynamic_img_size", False)
    ):
        return int(img[0]) if isinstance(img, (tuple, list)) else int(img)
    return None


MAX_BATCH = 1024
"""The largest ``inputShape`` batch a request may ask for (an export input is allocated whole)."""
MAX_CHANNELS = 64
MAX_SIDE = 4096
"""The largest input height or width."""
MAX_INPUT_ELEMENTS = 1 << 28
"""The largest N x C x H x W: 1 GiB of float32, before any activation is computed."""


def check_input_shape(shape: list[int], field: str = "inputShape") -> None:
    """RequestError naming ``field`` unless ``shape`` is [N, C, H, W] of positive ints within the limits."""
    if len(shape) != 4 or any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in shape):
        raise RequestError(field, f"expected [N, C, H, W] with positive ints, got {shape}")
    n, c, h, w = shape
    for what, value, limit in (
        ("batch", n, MAX_BATCH),
        ("channels", c, MAX_CHANNELS),
        ("height", h, MAX_SIDE),
        ("width", w, MAX_SIDE),
    ):
        if value > limit:
            raise RequestError(field, f"{what} {value} is above the engine's limit of {limit} (got {shape})")
    if n * c * h * w > MAX_INPUT_ELEMENTS:
        raise RequestError(
            field, f"{shape} has {n * c * h * w} elements, above the engine's limit of {MAX_INPUT_ELEMENTS}"
        )


def resolve_input_shape(requested: list[int] | None, spec: ModelSpec) -> tuple[ModelSpec, list[int] | None]:
    """Validate ``inputShape`` ([N, C, H, W], bounded); a square shape also sets a ViT's build size."""
    if requested is None:
        return spec, None
    check_input_shape(list(requested))
    shape = [int(v) for v in requested]
    if spec.input_size is None and spec.pruned is None and shape[2] == shape[3]:
        spec = spec.model_copy(update={"input_size": shape[2]})
    return spec, shape


def load_model(
    spec: ModelSpec, input_shape: list[int] | None, emit: Emitter | None = None, with_groups: bool = False
) -> tuple[DenseModel, bool]:
    """The analysed model for ``spec`` at ``input_shape`` (default: the model's); True if it was cached."""
    spec, input_shape = resolve_input_shape(input_shape, spec)
    key = json.dumps(
        [
            spec.model_dump(),
            _file_stamp(weights_file(spec)),  # a named entry: its cache file
            _file_stamp(spec.pruned),
            input_shape[1:] if input_shape else None,
        ],
        sort_keys=True,
    )
    entry = _ENTRIES.get(key)
    warm = entry is not None
    if entry is None:
        if emit:
            emit.progress("building", None, model=spec.name)
        model, default_shape = build_model(spec)
        shape = input_shape or default_shape
        fixed = _fixed_input_size(model)
        if fixed is not None and (shape[2] != fixed or shape[3] != fixed):
            raise RequestError(
                "inputShape", f"{spec.name} is built for {fixed}x{fixed} inputs, got {shape[2]}x{shape[3]}"
            )
        if emit:
            emit.progress("counting", None)
        try:
            count = count_macs(model, torch.zeros(1, *shape[1:]))
        except RuntimeError as e:
            raise RequestError("inputShape", f"the model does not run on {shape}: {e}") from None
        entry = DenseModel(
            spec=spec,
            model=model,
            input_shape=[1, *shape[1:]],
            count=count,
            stages=stage_table(model, count, stage_roots(spec.name)),
            protected=protected_layers(model),
        )
        _ENTRIES[key] = entry
        while len(_ENTRIES) > MAX_ENTRIES:
            _ENTRIES.popitem(last=False)
    else:
        _ENTRIES.move_to_end(key)
    if with_groups and entry.groups is None:
        if emit:
            emit.progress("grouping", None)
        entry.ensure_groups()
    return entry, warm
