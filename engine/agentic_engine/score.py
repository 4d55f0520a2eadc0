"""``score``: how accurate a pruned candidate is likely to be, measured on a held-out slice of ``train/``.

One call: build the model -> (mode ``recovery``) a short knowledge-distillation fine-tune on ``train/`` minus
the held-out slice, through ``finetune``'s own loop and checkpoints -> batch-norm recalibration on the
calibration sample -> top-1 and mean cross-entropy on the held-out slice. The three sets of images are the
disjoint slices of :func:`calibration.score_slices`; ``val/`` is never read (it is the final evaluation's).

Why recalibrate: pruning removes channels, so each BatchNorm's running mean/variance no longer describes
what reaches it and a pruned model's zero-shot accuracy is mostly that mismatch. Resetting the running
statistics and averaging them over a few train/ batches (cumulative average, no gradients, only the
BatchNorm layers in train mode) removes it; the weights do not change. After a recovery fine-tune the
statistics were tracked under train-time augmentation with momentum; recalibrating them on the eval view
keeps the two modes comparable.

See PROTOCOL.md ``score`` for the request and result.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn as nn
from pydantic import BaseModel, Field

from . import training as T
from .calibration import Slices, calibration_batches, check_classes, score_slices, train_index
from .jobs import parse_request
from .protocol import Emitter, RequestError, request_config

__all__ = [
    "ScoreRequest",
    "ScoreData",
    "run",
    "score_data",
    "recalibrate_batch_norm",
    "score_held_out",
    "MAX_RECOVERY_STEPS",
]

MAX_RECOVERY_STEPS = 10_000
"""The most fine-tune steps one score may take (as the campaign file's ``search.recovery.steps``)."""
_CONFIG = request_config(populate_by_name=False)


class ScoreDataset(BaseModel):
    model_config = _CONFIG

    root: str = Field(min_length=1)  # the dataset root (holding train/ and val/); only train/ is read
    image_size: int | None = Field(None, ge=8, le=4096)


class ScoreCalibration(BaseModel):
    """``batches x batchSize`` images of the calibration sample; ``batches: 0``: no recalibration."""

    model_config = _CONFIG

    batches: int = Field(ge=0, le=1000)
    batch_size: int = Field(ge=1, le=4096)


class Recovery(BaseModel):
    """The short fine-tune of mode ``recovery``: AdamW, cosine to 0 over ``steps``, KD from the teacher."""

    model_config = _CONFIG

    steps: int = Field(ge=1, le=MAX_RECOVERY_STEPS)
    batch_size: int = Field(ge=1, le=8192)
    lr: float = Field(gt=0, le=10)
    kd_alpha: float = Field(0.5, ge=0, le=1)  # used only with a teacher
    kd_temperature: float = Field(4.0, gt=0, le=100)
    weight_decay: float = Field(5e-5, ge=0, le=1)


class ScoreRequest(BaseModel):
    model_config = _CONFIG

    model: dict[str, Any]
    teacher: dict[str, Any] | None = None
    dataset: ScoreDataset
    mode: Literal["zero-shot", "recovery"]
    calibration: ScoreCalibration
    recovery: Recovery | None = None
    score_images: int | None = Field(None, ge=1)  # None: calibration.default_score_count
    seed: int = Field(0, ge=0)
    batch_size: int = Field(64, ge=1, le=8192)  # of the scoring forward passes
    # Mode recovery: finetune writes its checkpoints to <workDir>/checkpoints, its model to <workDir>/model.
    work_dir: str | None = Field(None, min_length=1)
    checkpoint_every_steps: int | None = Field(None, ge=1)  # default: only at the last step
    keep_checkpoints: int | None = Field(None, ge=1, le=1000)
    resume_from: str | None = Field(None, min_length=1)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    progress_every_steps: int = Field(1, ge=1)


@dataclass(frozen=True)
class ScoreData:
    """What a score reads of ``<dataset.root>/train``: its index, the three slices, the calibration sample."""

    root: str
    image_size: int
    index: T.SplitIndex
    slices: Slices
    calibration: ScoreCalibration
    seed: int

    def batches(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """The calibration sample as eval-view batches (decoded once per warm engine and dataset state)."""
        cal, size = self.calibration, self.image_size
        _, out = calibration_batches(
            self.root, cal.batches, cal.batch_size, [1, 3, size, size], self.seed, field="dataset.root"
        )
        return out


def score_data(
    dataset: ScoreDataset,
    cal: ScoreCalibration,
    score_images: int | None,
    seed: int,
    input_shape: list[int] | None,
    num_classes: int | None,
    class_field: str = "dataset.root",
) -> ScoreData:
    """The train/ index and slices of a ``score`` or ``sensitivity`` request; no image is decoded yet.

    ``imageSize`` defaults to the model's (``input_shape``, needed then). A RequestError naming
    ``class_field`` when the split's class count is not ``num_classes`` (None: not checked here), and those
    of :func:`calibration.train_index` (``dataset.root``) and :func:`calibration.score_slices`.
    """
    if dataset.image_size is not None:
        image_size = dataset.image_size
    else:
        assert input_shape is not None
        image_size = int(input_shape[-1])
    index = train_index(dataset.root, field="dataset.root")
    if num_classes is not None:
        check_classes(index, num_classes, class_field)
    slices = score_slices(
        len(index.samples), cal.batches * cal.batch_size, score_images, seed, len(index.classes)
    )
    return ScoreData(dataset.root, image_size, index, slices, cal, seed)


def run(request: dict[str, Any], emit: Emitter) -> dict[str, Any]:
    started = time.perf_counter()
    req = parse_request(ScoreRequest, request)
    if req.mode == "recovery" and req.recovery is None:
        raise RequestError("recovery", "mode 'recovery' needs recovery: {steps, batchSize, lr}")
    if req.mode == "zero-shot" and req.recovery is not None:
        raise RequestError("recovery", "recovery is for mode 'recovery' only; mode is 'zero-shot'")
    if req.mode == "recovery" and req.work_dir is None:
        raise RequestError("workDir", "mode 'recovery' needs a workDir for its checkpoints and model")
    device = T.resolve_device(req.device)

    emit.progress("building", None)
    model: nn.Module | None = None
    input_shape: list[int] | None = None
    num_classes: int | None = None
    # A recovery fine-tune builds the model and checks its classes itself (``model.numClasses`` too): built
    # here only when the input size has to be read off it.
    if req.mode == "zero-shot" or req.dataset.image_size is None:
        model, input_shape = T.load_model(req.model, "model")
    if req.mode == "zero-shot":
        assert model is not None and input_shape is not None
        num_classes = T.output_classes(model, req.dataset.image_size or int(input_shape[-1]))
    # The split is listed (and cached) before any image is decoded, so an oversized request fails at once.
    data = score_data(
        req.dataset, req.calibration, req.score_images, req.seed, input_shape, num_classes, "model.numClasses"
    )
    index, slices, image_size = data.index, data.slices, data.image_size

    steps = 0
    recovery: dict[str, Any] | None = None
    if req.mode == "recovery":
        model, recovery = _recover(req, index, slices, emit)
        steps = int(recovery["steps"])
    assert model is not None

    emit.progress("recalibrating", None)
    batches = data.batches()
    try:
        recalibrated = recalibrate_batch_norm(model, batches, device)
        metrics = score_held_out(model, index, slices.held_out, image_size, req.batch_size, device, emit)
    except Exception as e:
        if T.is_oom(e):
            raise T.out_of_memory(req.batch_size, device) from None
        raise
    result: dict[str, Any] = {
        "mode": req.mode,
        "top1": metrics["top1"],
        "top5": metrics["top5"],
        "loss": metrics["loss"],
        "count": metrics["count"],
        "steps": steps,
        "calibrationImages": len(slices.calibration),
        "batchNormsRecalibrated": recalibrated,
        "trainImages": len(slices.train),
        "imageSize": image_size,
        "device": str(device),
        "wallMs": round((time.perf_counter() - started) * 1000),
    }
    if recovery is not None:
        result["recovery"] = recovery
    return result


def _recover(
    req: ScoreRequest, index: T.SplitIndex, slices: Slices, emit: Emitter
) -> tuple[nn.Module, dict[str, Any]]:
    """The recovery fine-tune: ``finetune``'s loop on ``slices.train``; (trained model, summary)."""
    from . import finetune

    rec = req.recovery
    assert rec is not None and req.work_dir is not None
    pool = T.SplitIndex(
        root=index.root, classes=index.classes, samples=[index.samples[i] for i in slices.train]
    )
    if rec.batch_size > len(pool.samples):
        raise RequestError(
            "recovery.batchSize",
            f"batchSize {rec.batch_size} exceeds the {len(pool.samples)} train/ images outside the "
            f"held-out slice",
        )
    per_epoch = len(pool.samples) // rec.batch_size
    work = Path(req.work_dir)
    ft = finetune.FinetuneRequest.model_validate(
        {
            "model": req.model,
            **({"teacher": req.teacher} if req.teacher is not None else {}),
            "dataset": {
                "root": req.dataset.root,
                **({"imageSize": req.dataset.image_size} if req.dataset.image_size else {}),
            },
            "recipe": {
                # maxSteps is the length; epochs only has to reach it (the schedule spans the cap).
                "epochs": min(1000.0, math.ceil(rec.steps / per_epoch)),
                "maxSteps": rec.steps,
                "batchSize": rec.batch_size,
                "lr": rec.lr,
                "optimizer": "adamw",
                "weightDecay": rec.weight_decay,
                "kdAlpha": rec.kd_alpha if req.teacher is not None else 0.0,
                "kdTemperature": rec.kd_temperature,
                "seed": req.seed,
            },
            "checkpointDir": str(work / "checkpoints"),
            "checkpointEverySteps": req.checkpoint_every_steps or rec.steps,
            **({"keepCheckpoints": req.keep_checkpoints} if req.keep_checkpoints else {}),
            **({"resumeFrom": req.resume_from} if req.resume_from else {}),
            "outDir": str(work / "model"),
            "device": req.device,
            "progressEverySteps": req.progress_every_steps,
        }
    )
    out = finetune._train(ft, emit, None, pool)
    model, _ = T.load_model(out["modelSpec"], "model")
    summary = {
        "steps": out["steps"],
        "trainLoss": out["trainLoss"],
        "finalCheckpoint": out["finalCheckpoint"],
        "imagesPerSec": out["imagesPerSec"],
        "wallMs": out["wallMs"],
    }
    if "resumedFromStep" in out:
        summary["resumedFromStep"] = out["resumedFromStep"]
    return model, summary


def recalibrate_batch_norm(
    model: nn.Module, batches: list[tuple[torch.Tensor, torch.Tensor]], device: torch.device
) -> int:
    """Reset every BatchNorm's running statistics and re-estimate them on ``batches``; returns how many.

    Cumulative average (``momentum=None``) over all the batches, without gradients, with only the BatchNorm
    layers in train mode (dropout and the rest stay in eval). No batches, or no BatchNorm: nothing changes.
    The model is left in eval mode on ``device``.
    """
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    model.eval().to(device)
    if not norms or not batches:
        return 0
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
        m.train()
    try:
        with torch.no_grad():
            for x, _ in batches:
                model(x.to(device, non_blocking=True))
    finally:
        for m, momentum in zip(norms, momenta, strict=True):
            m.momentum = momentum
        model.eval()
    return len(norms)


def score_held_out(
    model: nn.Module,
    index: T.SplitIndex,
    held_out: list[int],
    image_size: int,
    batch_size: int,
    device: torch.device,
    emit: Emitter | None = None,
) -> dict[str, Any]:
    """``evaluate``'s metrics of ``model`` on the held-out positions of ``index`` (eval transform)."""
    from .evaluate import evaluate_model

    data = T.AugmentedImageFolder(index, image_size, train=False)
    return evaluate_model(model, data, held_out, batch_size, device, len(index.classes), emit)
