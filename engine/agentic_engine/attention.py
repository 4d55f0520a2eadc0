"""Attention as the pruner sees it: a ``qkv`` Linear, heads, a ``proj`` Linear ("split attention").

Two kinds: timm's ``Attention`` (DeiT), and :class:`SelfAttention`, which replaces the fused
``nn.MultiheadAttention`` of torchvision's ViT blocks (:func:`unfuse_attention`). The fused module applies
its in-projection functionally, so torch-pruning can only cut its embedding width (the residual stream),
never a head, and ``torch.onnx.export`` meets ``aten::_native_multi_head_attention`` in eval mode; the split
form exports as MatMul/Softmax and prunes by heads like timm's.

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

__all__ = [
    "SelfAttention",
    "is_split_attention",
    "attention_modules",
    "make_width_agnostic",
    "set_attention_shape",
    "unfuse_attention",
    "fused_to_split_keys",
]


class SelfAttention(nn.Module):
    """``nn.MultiheadAttention(E, H, batch_first=True)`` used as self-attention, unfused: same weights, same
    outputs, but ``qkv`` (E -> 3 x H x D) and ``proj`` (H x D -> E) are Linear modules the pruner can cut by
    head. Called as the fused module is (``attn(x, x, x, need_weights=False)``), returns ``(out, None)``.
    """

    def __init__(self, embed_dim: int, num_heads: int, bias: bool = True, dropout: float = 0.0) -> None:
        super().__init__()
        if embed_dim % num_heads:
            raise ValueError(f"embed_dim {embed_dim} is not a multiple of num_heads {num_heads}")
        self.qkv = nn.Linear(embed_dim, 3 * embed_dim, bias=bias)
        self.proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.dropout = dropout
        set_attention_shape(self, num_heads, embed_dim // num_heads)

    @classmethod
    def from_fused(cls, mha: nn.MultiheadAttention) -> SelfAttention:
        """The split twin of ``mha``, carrying its weights."""
        attn = cls(mha.embed_dim, mha.num_heads, bias=mha.in_proj_bias is not None, dropout=mha.dropout)
        with torch.no_grad():
            attn.qkv.weight.copy_(mha.in_proj_weight)
            attn.proj.weight.copy_(mha.out_proj.weight)
            if mha.in_proj_bias is not None:
                attn.qkv.bias.copy_(mha.in_proj_bias)
                attn.proj.bias.copy_(mha.out_proj.bias)
        return attn

    def forward(
        self,
        query: torch.Tensor,
        key: torch.Tensor | None = None,
        value: torch.Tensor | None = None,
        need_weights: bool = False,
    ) -> tuple[torch.Tensor, None]:
        # key and value are query (torchvision's EncoderBlock passes x three times); weights are never kept.
        batch, tokens, _ = query.shape
        qkv = self.qkv(query).reshape(batch, tokens, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        p = self.dropout if self.training else 0.0
        x = F.scaled_dot_product_attention(q, k, v, dropout_p=p, scale=self.scale)
        x = x.transpose(1, 2).reshape(batch, tokens, self.num_heads * self.head_dim)
        return self.proj(x), None


def is_split_attention(module: nn.Module) -> bool:
    """timm's ``Attention`` or :class:`SelfAttention` (qkv Linear + proj Linear + num_heads), not the fused
    ``nn.MultiheadAttention``."""
    return isinstance(module, SelfAttention) or (
        type(module).__name__ == "Attention"
        and isinstance(getattr(module, "qkv", None), nn.Linear)
        and isinstance(getattr(module, "proj", None), nn.Linear)
        and hasattr(module, "num_heads")
    )


def attention_modules(model: nn.Module) -> dict[str, nn.Module]:
    return {n: m for n, m in model.named_modules() if is_split_attention(m)}


def _is_torchvision_block(module: nn.Module) -> bool:
    return type(module).__name__ == "EncoderBlock" and type(module).__module__.startswith(
        "torchvision.models.vision_transformer"
    )


def unfuse_attention(model: nn.Module) -> int:
    """Replace the ``nn.MultiheadAttention`` of every torchvision ViT ``EncoderBlock`` of ``model`` (a zoo
    ``vit_*`` or a ``file:`` factory's ``VisionTransformer``) by its :class:`SelfAttention` twin, weights
    included; returns how many. Other ``nn.MultiheadAttention`` (cross-attention, kdim != embed_dim) are left
    alone: whether they are self-attention is not visible from the module.
    """
    count = 0
    for block in model.modules():
        mha = getattr(block, "self_attention", None)
        if not (_is_torchvision_block(block) and isinstance(mha, nn.MultiheadAttention)):
            continue
        if mha.batch_first and mha._qkv_same_embed_dim and mha.bias_k is None and not mha.add_zero_attn:
            block.self_attention = SelfAttention.from_fused(mha)
            count += 1
    return count


_FUSED_KEYS = {
    "in_proj_weight": "qkv.weight",
    "in_proj_bias": "qkv.bias",
    "out_proj.weight": "proj.weight",
    "out_proj.bias": "proj.bias",
}


def fused_to_split_keys(state: dict[str, torch.Tensor], model: nn.Module) -> dict[str, torch.Tensor]:
    """A state_dict saved from the fused modules (torchvision's published ViT weights), keyed for ``model``'s
    :class:`SelfAttention` modules; other keys unchanged."""
    prefixes = [n + "." for n, m in model.named_modules() if isinstance(m, SelfAttention)]
    if not prefixes:
        return state
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        for prefix in prefixes:
            rest = key[len(prefix) :] if key.startswith(prefix) else None
            if rest in _FUSED_KEYS:
                key = prefix + _FUSED_KEYS[rest]
                break
        out[key] = value
    return out


def make_width_agnostic(model: nn.Module) -> None:
    """Give every timm attention of ``model`` a forward that reads its width from ``num_heads * head_dim``.

    The stock forward reshapes to the *input* width, which breaks once head dims are pruned. Identical
    results on the dense model.
    """
    for m in model.modules():
        if is_split_attention(m) and not isinstance(m, SelfAttention):
            m.forward = types.MethodType(_timm_attention_forward, m)


def set_attention_shape(module: nn.Module, num_heads: int, head_dim: int) -> None:
    """Make a split attention's forward agree with its (pruned) qkv width."""
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
