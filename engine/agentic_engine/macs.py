"""The one MAC counter used by ``profile``, ``prune`` and ``export``.

Convention (as torchvision's and fvcore's published numbers): 1 MAC = 1 multiply-add. Counted: convolutions
(grouped/depthwise included), Linear layers, and attention matmuls (QK^T and AV). Not counted: bias adds,
batch/layer norm, activations, softmax, elementwise ops, pooling. Counts are per image (batch 1).

Worked example, resnet18 at 224x224: ``conv1`` is a 7x7 conv 3->64 with a 64x112x112 output, so
``64*112*112 * 3*7*7 = 118,013,952`` MACs; ``fc`` is 512->1000, so ``512,000`` MACs; the whole network sums to
1,814,073,344 MACs (torchvision publishes 1.81 GFLOPS, by which it means MACs).

Attention:

- timm ``Attention`` and :class:`~agentic_engine.attention.SelfAttention` (torchvision ViT, unfused): ``qkv``
  and ``proj`` are Linear modules (counted as such); a hook on the attention
  module adds ``2 * N^2 * inner`` where ``inner = qkv.out_features / 3`` (= heads * headDim, pruned or not).
- ``nn.MultiheadAttention`` applies ``in_proj_weight`` and ``out_proj`` functionally, so its hook counts
  ``N*E*3E' + N*E'*E_out + 2*N*S*E'`` (E: input width, E': projected width, S: key length).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
import torch.nn as nn

from .attention import is_split_attention

__all__ = ["LayerCount", "MacCount", "count_macs", "stage_table", "layer_rows"]

_CONV = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
_CONV_T = (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)


@dataclass
class LayerCount:
    name: str
    type: str
    in_channels: int
    out_channels: int
    groups: int
    kernel: list[int]
    output_size: list[int]
    macs: int
    params: int

    def row(self) -> dict[str, Any]:
        d = asdict(self)
        return {
            "name": d["name"],
            "type": d["type"],
            "inChannels": d["in_channels"],
            "outChannels": d["out_channels"],
            "groups": d["groups"],
            "kernel": d["kernel"],
            "outputSize": d["output_size"],
            "macs": d["macs"],
            "params": d["params"],
        }


@dataclass
class MacCount:
    """Result of one counting forward pass; ``output`` is the model's output for the given input."""

    macs: int
    params: int
    layers: list[LayerCount]
    output: Any = field(repr=False, default=None)


def _own_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters(recurse=False))


def count_macs(model: nn.Module, example: torch.Tensor) -> MacCount:
    """Run ``model(example)`` once with counting hooks; MACs are divided by the batch size (per image)."""
    batch = int(example.shape[0])
    layers: list[LayerCount] = []
    names = {m: n for n, m in model.named_modules()}

    def conv_hook(m: nn.Module, inputs: tuple, out: torch.Tensor) -> None:
        k = list(m.kernel_size)
        kprod = 1
        for v in k:
            kprod *= v
        if isinstance(m, _CONV_T):
            macs = inputs[0].numel() * (m.out_channels // m.groups) * kprod
        else:
            macs = out.numel() * (m.in_channels // m.groups) * kprod
        layers.append(
            LayerCount(
                names[m],
                type(m).__name__,
                m.in_channels,
                m.out_channels,
                m.groups,
                k,
                list(out.shape[1:]),
                macs // batch,
                _own_params(m),
            )
        )

    def linear_hook(m: nn.Linear, inputs: tuple, out: torch.Tensor) -> None:
        macs = out.numel() * m.in_features
        layers.append(
            LayerCount(
                names[m],
                "Linear",
                m.in_features,
                m.out_features,
                1,
                [],
                list(out.shape[1:]),
                macs // batch,
                _own_params(m),
            )
        )

    def timm_attention_hook(m: nn.Module, inputs: tuple, out: torch.Tensor) -> None:
        x = inputs[0]
        b, n = int(x.shape[0]), int(x.shape[1])
        inner = m.qkv.out_features // 3
        heads = int(m.num_heads)
        macs = 2 * b * n * n * inner
        layers.append(
            LayerCount(
                names[m],
                "AttentionMatmul",
                inner,
                inner,
                heads,
                [],
                [heads, n, inner // heads],
                macs // batch,
                0,
            )
        )

    def mha_hook(m: nn.MultiheadAttention, inputs: tuple, out: Any) -> None:
        q, k = inputs[0], inputs[1] if len(inputs) > 1 else inputs[0]
        if m.batch_first:
            b, tgt, src = int(q.shape[0]), int(q.shape[1]), int(k.shape[1])
        else:
            b, tgt, src = int(q.shape[1]), int(q.shape[0]), int(k.shape[0])
        e_in = int(q.shape[-1])
        if m.in_proj_weight is not None:
            e_proj = m.in_proj_weight.shape[0] // 3
            proj = tgt * e_in * e_proj + 2 * src * e_in * e_proj
        else:
            e_proj = m.q_proj_weight.shape[0]
            proj = (
                tgt * m.q_proj_weight.numel() + src * m.k_proj_weight.numel() + src * m.v_proj_weight.numel()
            )
        out_proj = tgt * m.out_proj.weight.numel()
        matmul = 2 * tgt * src * e_proj
        macs = b * (proj + out_proj + matmul)
        layers.append(
            LayerCount(
                names[m],
                "MultiheadAttention",
                e_in,
                m.out_proj.out_features,
                m.num_heads,
                [],
                [tgt, m.out_proj.out_features],
                macs // batch,
                sum(p.numel() for p in m.parameters()),
            )
        )

    handles = []
    for m in model.modules():
        if isinstance(m, _CONV + _CONV_T):
            handles.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.MultiheadAttention):
            handles.append(m.register_forward_hook(mha_hook))
        elif isinstance(m, nn.Linear):
            handles.append(m.register_forward_hook(linear_hook))
        elif is_split_attention(m):
            handles.append(m.register_forward_hook(timm_attention_hook))
    try:
        with torch.no_grad():
            output = model(example)
    finally:
        for h in handles:
            h.remove()
    total = sum(layer.macs for layer in layers)
    params = sum(p.numel() for p in model.parameters())
    return MacCount(macs=total, params=params, layers=layers, output=output)


def layer_rows(count: MacCount) -> list[dict[str, Any]]:
    return [layer.row() for layer in count.layers]


def _candidates(model: nn.Module, roots: Iterable[str]) -> list[str]:
    roots = set(roots)
    out: list[str] = []

    def walk(module: nn.Module, prefix: str) -> None:
        for child_name, child in module.named_children():
            full = prefix + child_name
            if full in roots:
                walk(child, full + ".")
            else:
                out.append(full)

    walk(model, "")
    return out


def _under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _auto_roots(model: nn.Module, count: MacCount) -> list[str]:
    """For user models: expand a Sequential/ModuleList top-level child holding more than half the MACs."""
    roots = []
    for child_name, child in model.named_children():
        if isinstance(child, (nn.Sequential, nn.ModuleList)) and len(child) >= 2:
            macs = sum(layer.macs for layer in count.layers if _under(layer.name, child_name))
            if count.macs and macs * 2 > count.macs:
                roots.append(child_name)
    return roots


def stage_table(model: nn.Module, count: MacCount, roots: list[str] | None) -> list[dict[str, Any]]:
    """MACs and params per stage (module-path prefix). MAC-less modules fold into the stage before them,
    loose parameters (cls_token, pos_embed) into the first stage, so stages sum to the totals."""
    if roots is None:
        roots = _auto_roots(model, count)
    prefixes = _candidates(model, roots)
    macs = dict.fromkeys(prefixes, 0)
    params = dict.fromkeys(prefixes, 0)
    loose = 0
    for layer in count.layers:
        for p in prefixes:
            if _under(layer.name, p):
                macs[p] += layer.macs
                break
    for pname, tensor in model.named_parameters():
        for p in prefixes:
            if _under(pname, p):
                params[p] += tensor.numel()
                break
        else:
            loose += tensor.numel()
    stages: list[list[Any]] = []  # [name, macs, params]
    pending_params = 0  # params of MAC-less modules seen before the first MAC-bearing stage
    for p in prefixes:
        if macs[p] > 0:
            stages.append([p, macs[p], params[p] + pending_params])
            pending_params = 0
        elif stages:
            stages[-1][2] += params[p]
        else:
            pending_params += params[p]
    if not stages:
        return [{"name": "model", "macs": count.macs, "params": count.params, "share": 1.0}]
    stages[0][2] += loose
    stages[-1][2] += pending_params
    total = count.macs or 1
    return [{"name": n, "macs": m, "params": pc, "share": round(m / total, 6)} for n, m, pc in stages]
