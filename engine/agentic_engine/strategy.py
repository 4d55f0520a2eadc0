"""The Strategy: what every agent (solver, grid, Claude, a human) proposes and ``prune`` executes.

Mirrors ``src/core``'s zod schema (camelCase JSON). Unknown keys are errors, except the metadata fields
``rationale``, ``agent`` and ``meta`` (free-form), which are stored in strategy.json and otherwise ignored.

Example::

    {"pruningRatio": 0.4, "importance": "l2", "globalPruning": true, "isomorphic": true, "roundTo": 8,
     "stageRatios": {"layer4": 0.3}, "ignoredLayers": ["layer1.0.conv1"],
     "rationale": "layer4 holds few MACs per parameter; keep it wider"}
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from .protocol import RequestError, request_config

__all__ = ["Strategy", "VitOptions", "Importance", "MAX_RATIO"]

MAX_RATIO = 0.95
"""The largest ratio in a Strategy, inclusive: ``0 <= r <= 0.95``, as in src/core/strategy.ts."""
Importance = Literal["l1", "l2", "taylor", "bn_scale", "lamp", "random"]

_CONFIG = request_config()


class VitOptions(BaseModel):
    """Attention pruning for ViTs: whole heads, and/or the width of every head."""

    model_config = _CONFIG

    prune_heads: bool = False
    prune_head_dims: bool = True
    head_ratio: float | None = Field(default=None, ge=0.0, le=MAX_RATIO)


class Strategy(BaseModel):
    model_config = _CONFIG

    pruning_ratio: float = Field(ge=0.0, le=MAX_RATIO)
    importance: Importance
    global_pruning: bool
    isomorphic: bool
    round_to: int = Field(default=8, ge=1)
    max_layer_ratio: float | None = Field(default=None, gt=0.0, le=1.0)
    stage_ratios: dict[str, float] | None = None
    layer_ratios: dict[str, float] | None = None
    ignored_layers: list[str] | None = None
    iterative_steps: int = Field(default=1, ge=1, le=100)
    vit: VitOptions | None = None
    rationale: str | None = None
    agent: str | None = None
    meta: dict[str, Any] | None = None

    @field_validator("stage_ratios", "layer_ratios")
    @classmethod
    def _ratios_in_range(cls, value: dict[str, float] | None) -> dict[str, float] | None:
        for key, ratio in (value or {}).items():
            if not 0.0 <= ratio <= MAX_RATIO:
                raise ValueError(f"ratio for {key!r} must be in [0, {MAX_RATIO}], got {ratio}")
        return value

    def check(self, field: str = "strategy") -> None:
        """Cross-field rules pydantic's per-field checks cannot name precisely; RequestError on failure."""
        if self.isomorphic and not self.global_pruning:
            raise RequestError(
                f"{field}.isomorphic",
                "isomorphic pruning ranks globally within isomorphic classes; set globalPruning: true",
            )
        if self.vit is not None and self.vit.head_ratio and not self.vit.prune_heads:
            raise RequestError(f"{field}.vit.headRatio", "headRatio needs pruneHeads: true")

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True)
