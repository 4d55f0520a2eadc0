"""Dependency-graph views for the Profile: pruning groups, isomorphic classes, protected layers.

A *group* is torch-pruning's unit of structured pruning: every layer whose channels are coupled to one root
layer's output channels. Worked example (resnet18): ``layer1.0.conv1`` (64 out) -> ``layer1.0.bn1`` ->
ReLU -> ``layer1.0.conv2`` (64 in) is one group; remove output channel 5 of conv1 and you must remove bn1's
channel 5 and conv2's input channel 5. Its *isomorphic key* hashes the group's structure (the type and
in/out role of every dependency, exactly the string torch-pruning's isomorphic pruning compares), so all eight
``layerX.Y.conv1`` groups of resnet18 share one key and are ranked together.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn as nn
import torch_pruning as tp

from .attention import attention_modules

__all__ = [
    "ROOT_TYPES",
    "GroupInfo",
    "build_graph",
    "num_heads_of",
    "list_groups",
    "isomorphic_classes",
    "out_channels_of",
    "quiet_unwrapped_parameters",
]

ROOT_TYPES = [tp.ops.TORCH_CONV, tp.ops.TORCH_LINEAR, tp.ops.TORCH_LSTM]


@dataclass
class GroupInfo:
    id: int
    root_layer: str
    channels: int
    layers: list[str]
    out_layers: list[str]
    isomorphic_key: str
    prunable: bool

    def row(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "rootLayer": self.root_layer,
            "channels": self.channels,
            "layers": self.layers,
            "isomorphicKey": self.isomorphic_key,
            "prunable": self.prunable,
        }


def build_graph(model: nn.Module, input_shape: list[int]) -> tp.DependencyGraph:
    """Trace ``model`` (batch 1) into torch-pruning's DependencyGraph."""
    with torch.enable_grad(), quiet_unwrapped_parameters():
        return tp.DependencyGraph().build_dependency(
            model, example_inputs=torch.zeros(1, *input_shape[1:]), verbose=False
        )


@contextmanager
def quiet_unwrapped_parameters() -> Iterator[None]:
    """torch-pruning warns about loose parameters (cls_token, pos_embed, ConvNeXt layer_scale) and prunes
    their last non-singleton dim, which is the channel dim for every model here; the warning is noise."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Unwrapped parameters detected")
        yield


def num_heads_of(model: nn.Module) -> dict[nn.Module, int]:
    """``{attn.qkv: attn.num_heads}`` for timm attention, the form MetaPruner's ``num_heads`` takes."""
    return {m.qkv: int(m.num_heads) for m in attention_modules(model).values()}


def _module_name(graph: tp.DependencyGraph, module: Any) -> str | None:
    name = graph._module2name.get(module)
    if name is None and isinstance(module, nn.Parameter):
        name = graph._param_to_name.get(module)
    return name


def _reroot_attention(graph: tp.DependencyGraph, group: Any, num_heads: dict[nn.Module, int]) -> Any:
    """Mirror MetaPruner: attention groups are ranked from the downstream Linear (proj) as root."""
    is_attention = False
    downstream = None
    for dep, idxs in group:
        if dep.source.module in num_heads and graph.is_out_channel_pruning_fn(dep.handler):
            is_attention = True
        if isinstance(dep.target.module, tuple(ROOT_TYPES)) and graph.is_in_channel_pruning_fn(dep.handler):
            downstream = (dep, idxs)
    if is_attention and downstream is not None:
        dep, idxs = downstream
        return graph.get_pruning_group(dep.target.module, dep.handler, idxs)
    return group


def _isomorphic_key(graph: tp.DependencyGraph, group: Any) -> str:
    # Exactly the tag BasePruner._prune builds for isomorphic scopes, hashed to stay short.
    tag = "Isomorphic_"
    for dep, _ in group:
        role = "out" if graph.is_out_channel_pruning_fn(dep.handler) else "in"
        tag += f"{type(dep.source.module)}_{role}_{type(dep.target.module)}_{role}"
    return "iso-" + hashlib.sha1(tag.encode()).hexdigest()[:12]


def out_channels_of(module: nn.Module) -> int:
    for attr in ("out_channels", "out_features", "embed_dim", "hidden_size"):
        if hasattr(module, attr):
            return int(getattr(module, attr))
    raise ValueError(f"no output width on {type(module).__name__}")


def list_groups(graph: tp.DependencyGraph, model: nn.Module, protected: set[str]) -> list[GroupInfo]:
    """Every group of the (dense) graph in torch-pruning's enumeration order; ids are positions."""
    num_heads = num_heads_of(model)
    groups: list[GroupInfo] = []
    for group in graph.get_all_groups(ignored_layers=[], root_module_types=ROOT_TYPES):
        root = group[0].dep.target.module
        root_name = _module_name(graph, root)
        if root_name is None:
            continue
        layers: list[str] = []
        out_layers: list[str] = []
        for dep, _ in group:
            name = _module_name(graph, dep.target.module)
            if name is None:
                continue
            if name not in layers:
                layers.append(name)
            if graph.is_out_channel_pruning_fn(dep.handler) and name not in out_layers:
                out_layers.append(name)
        key = _isomorphic_key(graph, _reroot_attention(graph, group, num_heads))
        prunable = root_name not in protected and not any(n in protected for n in out_layers)
        groups.append(
            GroupInfo(len(groups), root_name, graph.get_out_channels(root), layers, out_layers, key, prunable)
        )
    return groups


def isomorphic_classes(groups: list[GroupInfo], layer_macs: dict[str, int]) -> list[dict[str, Any]]:
    """Classes of prunable groups sharing a key; ``macs`` sums the layers whose outputs the groups own
    (a timm ``qkv`` also owns its attention's matmuls)."""
    classes: dict[str, dict[str, Any]] = {}
    for g in groups:
        if not g.prunable:
            continue
        entry = classes.setdefault(
            g.isomorphic_key, {"key": g.isomorphic_key, "groupIds": [], "channels": 0, "macs": 0}
        )
        entry["groupIds"].append(g.id)
        entry["channels"] += g.channels
        for name in g.out_layers:
            entry["macs"] += layer_macs.get(name, 0)
            if name.endswith(".qkv"):
                entry["macs"] += layer_macs.get(name[: -len(".qkv")], 0)
    return list(classes.values())
