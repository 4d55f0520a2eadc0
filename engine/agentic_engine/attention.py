"""timm attention as the pruner sees it: recognise it, make its forward width-agnostic, set its pruned shape.

The lowest structural layer: ``models`` (building and rebuilding networks) and ``graph`` (the dependency
graph) both use it, and it imports neither. Worked example (deit_small, 6 heads of 64): pruning head dims
by a quarter leaves ``blocks.0.attn.qkv`` with 3 x 288 outputs; ``set_attention_shape(attn, 6, 48)`` makes
the forward reshape to 6 heads of 48 and rescale by ``48 ** -0.5``.
"""

from __future__ import annotations

import types

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["is_timm_attention", "attention_modules", "make_width_agnostic", "set_attention_shape"]


def is_timm_attention(module: nn.Module) -> bool:
    """timm's ``Attention`` (qkv Linear + proj Linear + num_heads), not ``nn.MultiheadAttention``."""
    return (
        type(module).__name__ == "Attention"
        and isinstance(getattr(module, "qkv", None), nn.Linear)
        and isinstance(getattr(module, "proj", None), nn.Linear)
        and hasattr(module, "num_heads")
    )


def attention_modules(model: nn.Module) -> dict[str, nn.Module]:
    return {n: m for n, m in model.named_modules() if is_timm_attention(m)}


def make_width_agnostic(model: nn.Module) -> None:
    """Give every timm attention of ``model`` a forward that reads its width from ``num_heads * head_dim``.

    The stock forward reshapes to the *input* width, which breaks once head dims are pruned. Identical
    results on the dense model.
    """
    for m in model.modules():
        if is_timm_attention(m):
            m.forward = types.MethodType(_timm_attention_forward, m)


def set_attention_shape(module: nn.Module, num_heads: int, head_dim: int) -> None:
    """Make a timm Attention's forward agree with its (pruned) qkv width."""
    module.num_heads = num_heads
    module.head_dim = head_dim
    module.scale = head_dim**-0.5


def _timm_attention_forward(
    self: nn.Module, x: torch.Tensor, attn_mask: torch.Tensor | None = None
) -> torch.Tensor:
    batch, tokens, _ = x.shape
    inner = self.num_heads * self.head_dim
    qkv = self.qkv(x).reshape(batch, tokens, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
    q, k, v = qkv.unbind(0)
    q, k = self.q_norm(q), self.k_norm(k)
    if self.fused_attn:
        x = F.scaled_dot_product_attention(
            q,
            k,
            v,
            attn_mask=attn_mask,
            dropout_p=self.attn_drop.p if self.training else 0.0,
            scale=self.scale,
        )
    else:
        attn = (q * self.scale) @ k.transpose(-2, -1)
        if attn_mask is not None:
            attn = attn + attn_mask
        attn = self.attn_drop(attn.softmax(dim=-1))
        x = attn @ v
    x = x.transpose(1, 2).reshape(batch, tokens, inner)
    x = self.norm(x)
    x = self.proj(x)
    return self.proj_drop(x)
