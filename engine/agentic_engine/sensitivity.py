"""``sensitivity``: how much each stage of a dense model minds being pruned, stage by stage.

For every profile stage (the names ``profile`` reports, usable as ``Strategy.stageRatios`` keys) and every
ratio: a deep copy of the (warm-cached) dense model -> ``prune.apply_strategy`` with ``pruningRatio: 0`` and
``stageRatios`` naming every stage, that one at ``ratio`` and the others at 0 (so only that stage loses
channels) -> whole-model MACs -> batch-norm recalibration -> top-1 and loss on the held-out train/ slice, as
``score`` measures a candidate (the same slices, :func:`calibration.score_slices`). The dense model,
recalibrated the same way, is the baseline. A stage whose layers are all protected (stem, classifier head)
loses no MACs at any ratio: it is listed under ``unprunable`` instead of ``stages``.

Why every stage is named: a group of channels can span stages (mobilenet_v2's residual streams run through
two to four blocks, each a stage), and torch-pruning prunes such a group by the ratio of the first stage in
it that ``stageRatios`` names. Named alone, every stage of the stream would claim the group and its MACs, and
the rows' savings would add up to more than the model has (8.6 M of mobilenet_v2's 6.2 M MACs at 0.5, so
a stage allocation read off them measured +19.8 % over its aim). Named all together, as a stage allocation
names them, the group belongs to one stage's row, the one whose ratio prunes it in the allocation, and the
rows add up to within the cross terms of a layer whose input and output channels two stages cut.

Worked example (democnn, ratios [0.5]): stage ``stage3`` holds 9.4 of the 27.4 MMACs; pruning half its
channels leaves ~22 MMACs whole-model and drops the held-out top-1 from 0.60 (baseline) to, say, 0.35.

See PROTOCOL.md ``sensitivity`` for the request and result.
"""

from __future__ import annotations

import copy
import time
from typing import Any, Literal

import torch
from pydantic import BaseModel, Field, field_validator

from .cache import load_model
from .jobs import parse_request
from .macs import count_macs
from .models import ModelSpec
from .protocol import Emitter, RequestError, request_config
from .score import ScoreCalibration, ScoreDataset, recalibrate_batch_norm, score_data, score_held_out
from .strategy import MAX_RATIO, Strategy

__all__ = ["SensitivityRequest", "run", "BASE_STRATEGY"]

BASE_STRATEGY: dict[str, Any] = {"importance": "l2", "globalPruning": True, "isomorphic": True, "roundTo": 8}
"""What ``baseStrategy`` is laid over (src/core/strategy.ts ``baseStrategy``)."""
_CONFIG = request_config(populate_by_name=False)


class SensitivityRequest(BaseModel):
    model_config = _CONFIG

    model: ModelSpec  # the dense model
    input_shape: list[int] | None = None
    dataset: ScoreDataset
    calibration: ScoreCalibration
    ratios: list[float] = Field(min_length=1, max_length=10)
    base_strategy: dict[str, Any] = Field(default_factory=dict)
    score_images: int | None = Field(None, ge=1)  # None: calibration.default_score_count
    seed: int = Field(0, ge=0)
    batch_size: int = Field(64, ge=1, le=8192)
    device: Literal["auto", "cpu", "cuda"] = "auto"

    @field_validator("ratios")
    @classmethod
    def _ratios_in_range(cls, value: list[float]) -> list[float]:
        for r in value:
            if not 0.0 < r <= MAX_RATIO:
                raise ValueError(f"every ratio must be in (0, {MAX_RATIO}], got {r}")
        return value


def _strategy(
    base: dict[str, Any], stage: str | None, ratio: float, every: list[str] | None = None
) -> Strategy:
    """``baseStrategy`` over the defaults, pruning ``stage`` alone at ``ratio``: every stage of ``every`` is
    named in ``stageRatios``, the others at 0, so that a group shared by stages is pruned by the stage a
    stage allocation (which names them all) prunes it by, and the table's savings add up over stages."""
    raw = {k: v for k, v in base.items() if k not in ("pruningRatio", "stageRatios", "layerRatios")}
    ratios = {name: 0.0 for name in every or []} | ({stage: ratio} if stage else {})
    raw = {**BASE_STRATEGY, **raw, "pruningRatio": 0.0, "stageRatios": ratios or None}
    strategy = parse_request(Strategy, raw, prefix="baseStrategy")
    strategy.check("baseStrategy")
    return strategy


def run(request: dict[str, Any], emit: Emitter) -> dict[str, Any]:
    from . import training as T
    from .prune import apply_strategy

    started = time.perf_counter()
    req = parse_request(SensitivityRequest, request)
    probe = _strategy(req.base_strategy, None, 0.0)
    device = T.resolve_device(req.device)
    dense, warm = load_model(req.model, req.input_shape, emit)
    data = score_data(
        req.dataset, req.calibration, req.score_images, req.seed, dense.input_shape, dense.num_classes
    )
    if probe.importance == "taylor" and req.calibration.batches == 0:
        raise RequestError("calibration.batches", "importance 'taylor' takes its gradients from calibration")
    emit.progress("calibrating", None)
    batches = data.batches()
    protected = [p["layer"] for p in dense.protected]

    def measure(model: torch.nn.Module) -> dict[str, Any]:
        recalibrate_batch_norm(model, batches, device)
        return score_held_out(
            model, data.index, data.slices.held_out, data.image_size, req.batch_size, device
        )

    baseline = measure(copy.deepcopy(dense.model))
    stages: list[dict[str, Any]] = []
    unprunable: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    total = len(dense.stages) * len(req.ratios)
    names = [s["name"] for s in dense.stages]
    done = 0
    for stage in dense.stages:
        points = []
        for ratio in req.ratios:
            emit.progress(
                "sensitivity", done / total, layer=stage["name"], ratio=ratio, row=done + 1, rows=total
            )
            done += 1
            strategy = _strategy(req.base_strategy, stage["name"], ratio, names)
            model = copy.deepcopy(dense.model)
            torch.manual_seed(req.seed)
            try:
                apply_strategy(
                    model,
                    strategy,
                    dense.input_shape,
                    protected,
                    calibration=batches if strategy.importance == "taylor" else None,
                )
            except RequestError as e:  # this ratio would empty a group of the stage
                skipped.append({"stage": stage["name"], "ratio": ratio, "reason": str(e)})
                continue
            model.eval()
            count = count_macs(model, torch.zeros(1, *dense.input_shape[1:]))
            if count.macs >= dense.count.macs:
                continue
            points.append(
                {"ratio": ratio, "macs": count.macs, "params": count.params, **_score_of(measure(model))}
            )
        if points:
            stages.append({"stage": stage["name"], "macs": stage["macs"], "points": points})
        elif not any(s["stage"] == stage["name"] for s in skipped):
            reason = "pruning it alone removes no MACs (its layers are protected)"
            unprunable.append({"stage": stage["name"], "reason": reason})
    emit.progress("sensitivity", 1.0)
    return {
        "denseMacs": dense.count.macs,
        "denseParams": dense.count.params,
        "baseline": _score_of(baseline),
        "stages": stages,
        "unprunable": unprunable,
        "skipped": skipped,
        "ratios": req.ratios,
        "strategy": probe.to_json(),
        "count": baseline["count"],
        "calibrationImages": len(data.slices.calibration),
        "device": str(device),
        "wallMs": round((time.perf_counter() - started) * 1000),
        "warm": warm,
    }


def _score_of(metrics: dict[str, Any]) -> dict[str, Any]:
    return {"top1": metrics["top1"], "loss": metrics["loss"]}
