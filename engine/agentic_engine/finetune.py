"""``finetune``: train a (pruned) model on an ImageFolder dataset, checkpointing for an exact resume.

One optimizer step = ``gradAccumSteps`` micro-batches of ``batchSize`` images. The order of the data
and each image's augmentation are pure functions of ``(recipe.seed, micro-batch index)`` (see
:mod:`agentic_engine.training`), and every checkpoint holds model, optimizer, scheduler, grad scaler,
all global RNG states and the step, so resuming from ``ckpt-<k>.pt`` continues as if never stopped: on
the CPU with fixed seeds the final weights equal an uninterrupted run bit for bit (tested).

Events: ``progress`` (stage ``train``) every ``progressEverySteps`` steps; ``artifact`` kind
``checkpoint`` (with ``step``) after each complete ``<checkpointDir>/ckpt-<step>.pt``; ``artifact``
kind ``model`` for the final weights in ``outDir``. ``outDir`` then holds only the model's files (flat):
``model.pt`` (a state_dict) for a dense model, or ``state_dict.pt`` plus the pruned directory's other
files (``history.json``...) for a pruned one, so the result's ``modelSpec`` (``{..., weights:
outDir/model.pt}`` or ``{..., pruned: outDir}``) rebuilds it with ``models.build_model``.

Multi-GPU (``gpus > 1``) is a separate path at the bottom of this file: the job relaunches itself
under ``torchrun`` (one process per GPU, DDP, ``batchSize`` per GPU) and relays rank 0's events.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import BaseModel, Field
from torch.utils.data import DataLoader

from . import atomic, pruned_folder
from . import training as T
from .jobs import parse_request, run_job
from .protocol import Emitter, EngineError, RequestError, log, request_config

__all__ = ["FinetuneRequest", "Recipe", "run", "plan", "MODEL_FILE"]

MODEL_FILE = "model.pt"
_CONFIG = request_config(populate_by_name=False)


class Recipe(BaseModel):
    """Training hyper-parameters; ranges match the TS ``FinetuneConfigSchema``."""

    model_config = _CONFIG

    epochs: float = Field(gt=0, le=1000)
    batch_size: int = Field(ge=1, le=8192)
    lr: float = Field(gt=0, le=10)
    optimizer: Literal["sgd", "adamw"] = "sgd"
    momentum: float = Field(0.9, ge=0, le=1)
    weight_decay: float = Field(5e-5, ge=0, le=1)
    warmup_epochs: float = Field(0, ge=0, le=100)
    schedule: Literal["cosine", "constant"] = "cosine"
    label_smoothing: float = Field(0.0, ge=0, lt=1)
    kd_alpha: float = Field(0.0, ge=0, le=1)
    kd_temperature: float = Field(4.0, gt=0, le=100)
    grad_accum_steps: int = Field(1, ge=1, le=1024)
    bf16: bool = False
    channels_last: bool = False
    max_steps: int | None = Field(None, ge=1)
    workers: int = Field(0, ge=0, le=64)
    seed: int = Field(0, ge=0)


class FinetuneDataset(BaseModel):
    model_config = _CONFIG

    root: str = Field(min_length=1)
    image_size: int | None = Field(None, ge=8, le=4096)


class FinetuneRequest(BaseModel):
    model_config = _CONFIG

    model: dict[str, Any]
    teacher: dict[str, Any] | None = None
    dataset: FinetuneDataset
    recipe: Recipe
    checkpoint_dir: str = Field(min_length=1)
    checkpoint_every_steps: int = Field(ge=1)
    keep_checkpoints: int | None = Field(None, ge=1, le=1000)
    resume_from: str | None = Field(None, min_length=1)
    out_dir: str = Field(min_length=1)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    gpus: int = Field(1, ge=1, le=64)
    progress_every_steps: int = Field(1, ge=1)


def run(request: dict[str, Any], emit: Emitter) -> dict[str, Any]:
    req = parse_request(FinetuneRequest, request)
    if req.teacher is None and req.recipe.kd_alpha > 0:
        raise RequestError("recipe.kdAlpha", "kdAlpha > 0 needs a teacher model")
    if req.gpus > 1:
        dist = _dist_env(req.device)
        if dist is None:
            return _launch_torchrun(req, request, emit)
        dist.init()
        return _train(req, emit, dist)
    return _train(req, emit, None)


class FinetunePlanRequest(BaseModel):
    """``finetune-plan``: the step plan a ``finetune`` of this recipe on this dataset would follow."""

    model_config = _CONFIG

    dataset: FinetuneDataset
    recipe: Recipe
    gpus: int = Field(1, ge=1, le=64)


def plan(request: dict[str, Any], emit: Emitter) -> dict[str, Any]:
    """The optimizer steps of a ``finetune`` with this recipe on ``<root>/train``, without training.

    The same index and plan as :func:`_setup`'s, so ``totalSteps`` is what that fine-tune's result reports:
    what a search sizes its scoring budget against (``search.recovery.share``). No model is built.
    """
    req = parse_request(FinetunePlanRequest, request)
    index = T.index_split(req.dataset.root, "train")
    p = _plan_steps(req.recipe, len(index.samples), req.gpus)
    return {
        "images": len(index.samples),
        "stepsPerEpoch": p.steps_per_epoch,
        "totalSteps": p.total_steps,
        "warmupSteps": p.warmup_steps,
    }


# -------------------------------------------------------------------------------------- single run
#
# _train = _setup (data, models, step plan, optimizer, resume, loader) -> _train_steps (the micro-batch
# loop: _micro_batch_loss, optimizer step, progress, _Checkpointer.save) -> _final_result (model files
# in outDir + the result). Each piece is a function of what the previous one built, held in a _Run.


@dataclass(frozen=True)
class _StepPlan:
    """The recipe in optimizer steps over this training split (``epochs`` may be fractional)."""

    global_batch: int  # images per micro-batch over all processes
    micro_per_epoch: int  # full micro-batches per epoch (the remainder is dropped)
    steps_per_epoch: float
    total_steps: int
    warmup_steps: int


@dataclass
class _Run:
    """One training run as :func:`_setup` builds it; the loop advances model, optimizer and ``losses``."""

    req: FinetuneRequest
    dist: _Dist | None
    rank: int
    world: int
    device: torch.device
    index: T.SplitIndex
    ckpt: dict[str, Any] | None  # the checkpoint resumed from
    model: torch.nn.Module
    train_model: torch.nn.Module  # ``model``, DDP-wrapped when distributed
    teacher: torch.nn.Module | None
    image_size: int
    num_classes: int
    fingerprint: str
    plan: _StepPlan
    optimizer: torch.optim.Optimizer
    scheduler: Any
    scaler: Any  # bf16 needs no loss scaling; the slot stays in the checkpoint for an fp16 path
    use_bf16: bool
    start_step: int
    losses: list[float]
    loader: DataLoader


def _train(
    req: FinetuneRequest, emit: Emitter, dist: _Dist | None, index: T.SplitIndex | None = None
) -> dict[str, Any]:
    """Set up, train to ``totalSteps`` (checkpointing on the way), write the model; rank 0 answers.

    ``index``: the images to train on; default all of ``<root>/train`` (``score`` passes train/ without
    its held-out slice).
    """
    started = time.perf_counter()
    run = _setup(req, dist, index)
    checkpoints = _Checkpointer(run, emit)
    step, images, train_sec = _train_steps(run, checkpoints, emit)
    if checkpoints.last is None and run.rank == 0:
        # Resumed from the final checkpoint: nothing to train, but still answer with a checkpoint ref.
        checkpoints.save(step)
    if run.rank != 0:
        return {}
    return _final_result(run, checkpoints.last, step, images, train_sec, started, emit)


def _setup(req: FinetuneRequest, dist: _Dist | None, index: T.SplitIndex | None = None) -> _Run:
    """Index ``<root>/train``, build model and teacher, plan the steps, restore a checkpoint, make the loader.

    The order is part of the exact resume: the global RNGs are seeded before the models are built and
    restored from the checkpoint only after everything that could draw from them.
    """
    recipe = req.recipe
    rank, world = (dist.rank, dist.world) if dist else (0, 1)
    device = dist.device if dist is not None else T.resolve_device(req.device)
    index = index if index is not None else T.index_split(req.dataset.root, "train")
    ckpt = T.load_checkpoint(req.resume_from) if req.resume_from is not None else None

    _seed_everything(recipe.seed)
    model, image_size, num_classes, fingerprint = _student(req, index, device, ckpt)
    teacher = _teacher(req, image_size, num_classes, device)
    plan = _plan_steps(recipe, len(index.samples), world)

    optimizer = _optimizer(model, recipe)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: T.lr_factor(s, plan.total_steps, plan.warmup_steps, recipe.schedule)
    )
    use_bf16 = recipe.bf16 and device.type == "cuda"
    if recipe.bf16 and not use_bf16:
        log("finetune: bf16 autocast is GPU-only; training in fp32 on", device)
    start_step, losses = _resume(req, ckpt, plan, world, optimizer, scheduler)

    train_model: torch.nn.Module = model
    if dist is not None:
        from torch.nn.parallel import DistributedDataParallel

        train_model = DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None
        )
    loader = _data_loader(req, index, image_size, plan, start_step, rank, world, device)
    return _Run(
        req=req, dist=dist, rank=rank, world=world, device=device, index=index, ckpt=ckpt,
        model=model, train_model=train_model, teacher=teacher, image_size=image_size,
        num_classes=num_classes, fingerprint=fingerprint, plan=plan, optimizer=optimizer,
        scheduler=scheduler, scaler=None, use_bf16=use_bf16, start_step=start_step, losses=losses,
        loader=loader,
    )  # fmt: skip


def _student(
    req: FinetuneRequest, index: T.SplitIndex, device: torch.device, ckpt: dict[str, Any] | None
) -> tuple[torch.nn.Module, int, int, str]:
    """The model to train, on ``device``, with the checkpoint's weights when resuming.

    Returns ``(model, imageSize, classes, fingerprint)``. Its class count must be the training split's;
    a checkpoint must come from the same architecture.
    """
    model, input_shape = T.load_model(req.model, "model")
    image_size = req.dataset.image_size or int(input_shape[-1])
    num_classes = T.output_classes(model, image_size)
    if num_classes != len(index.classes):
        raise RequestError(
            "model.numClasses",
            f"the model predicts {num_classes} classes but {req.dataset.root!r} has {len(index.classes)}",
        )
    fingerprint = T.architecture_fingerprint(model)
    if ckpt is not None:
        if ckpt.get("fingerprint") != fingerprint:
            raise T.CheckpointMismatch(
                "resumeFrom",
                f"checkpoint {req.resume_from!r} was written for another architecture "
                f"(spec {ckpt.get('modelSpec')}) than {req.model}",
            )
        model.load_state_dict(ckpt["model"])
    model.to(device)
    if req.recipe.channels_last:
        model.to(memory_format=torch.channels_last)
    return model, image_size, num_classes, fingerprint


def _teacher(
    req: FinetuneRequest, image_size: int, num_classes: int, device: torch.device
) -> torch.nn.Module | None:
    """The frozen distillation teacher (eval mode, no grad) on ``device``, or None without one."""
    if req.teacher is None:
        return None
    teacher, _ = T.load_model(req.teacher, "teacher")
    if T.output_classes(teacher, image_size) != num_classes:
        raise RequestError("teacher.numClasses", f"the teacher must predict {num_classes} classes too")
    teacher.eval().requires_grad_(False).to(device)
    if req.recipe.channels_last:
        teacher.to(memory_format=torch.channels_last)
    return teacher


def _plan_steps(recipe: Recipe, images: int, world: int) -> _StepPlan:
    """``epochs`` (capped by ``maxSteps``) and ``warmupEpochs`` as optimizer steps over ``images`` images."""
    global_batch = recipe.batch_size * world
    if images < global_batch:
        raise RequestError(
            "recipe.batchSize",
            f"batchSize {recipe.batch_size} x {world} process(es) exceeds the {images} training images",
        )
    micro_per_epoch = images // global_batch
    steps_per_epoch = micro_per_epoch / recipe.grad_accum_steps
    total_steps = max(1, math.ceil(recipe.epochs * steps_per_epoch))
    if recipe.max_steps is not None:
        total_steps = min(total_steps, recipe.max_steps)
    warmup_steps = round(recipe.warmup_epochs * steps_per_epoch)
    return _StepPlan(global_batch, micro_per_epoch, steps_per_epoch, total_steps, warmup_steps)


def _resume(
    req: FinetuneRequest,
    ckpt: dict[str, Any] | None,
    plan: _StepPlan,
    world: int,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
) -> tuple[int, list[float]]:
    """Restore optimizer, scheduler, losses and global RNGs from ``ckpt``; ``(start step, losses so far)``."""
    if ckpt is None:
        return 0, []
    start_step = int(ckpt["step"])
    if start_step > plan.total_steps:
        raise RequestError(
            "resumeFrom", f"checkpoint is at step {start_step}, past this recipe's {plan.total_steps} steps"
        )
    if ckpt.get("worldSize", 1) != world:
        log(
            f"finetune: resuming a {ckpt.get('worldSize')}-process checkpoint "
            f"with {world}: data order differs"
        )
    _warn_recipe_drift(ckpt.get("recipe", {}), req.recipe)
    optimizer.load_state_dict(ckpt["optimizer"])
    scheduler.load_state_dict(ckpt["scheduler"])
    losses = [float(v) for v in ckpt["losses"].tolist()]
    T.restore_rng(ckpt["rng"])
    log(f"finetune: resumed from {req.resume_from} at step {start_step}/{plan.total_steps}")
    return start_step, losses


def _data_loader(
    req: FinetuneRequest,
    index: T.SplitIndex,
    image_size: int,
    plan: _StepPlan,
    start_step: int,
    rank: int,
    world: int,
    device: torch.device,
) -> DataLoader:
    """Micro-batches ``startStep x gradAccumSteps`` up to the last step's, this rank's slice of each."""
    recipe = req.recipe
    data = T.AugmentedImageFolder(index, image_size, train=True, seed=recipe.seed)
    sampler = T.ResumableBatchSampler(
        len(index.samples),
        plan.global_batch,
        recipe.seed,
        start=start_step * recipe.grad_accum_steps,
        stop=plan.total_steps * recipe.grad_accum_steps,
    )
    return DataLoader(
        data,
        batch_sampler=_RankSlice(sampler, rank, world) if world > 1 else sampler,
        num_workers=recipe.workers,
        pin_memory=device.type == "cuda",
        # Its own generator: creating the iterator must not draw from the global RNG we restore.
        generator=torch.Generator().manual_seed(recipe.seed),
    )


class _Checkpointer:
    """Writes ``<checkpointDir>/ckpt-<step>.pt`` (rank 0 only), announces it, keeps the newest few.

    A checkpoint holds everything an exact resume needs: model, optimizer, scheduler, scaler, every
    global RNG, the losses so far, and where the sampler stands. ``last`` is the newest one's reference.
    """

    def __init__(self, run: _Run, emit: Emitter) -> None:
        self.run = run
        self.emit = emit
        self.last: dict[str, Any] | None = None
        self.written: list[Path] = []
        req = run.req
        self.static = {
            "fingerprint": run.fingerprint,
            "modelSpec": req.model,
            "recipe": req.recipe.model_dump(by_alias=True),
            "totalSteps": run.plan.total_steps,
            "microBatchesPerEpoch": run.plan.micro_per_epoch,
            "worldSize": run.world,
            "dataset": {
                "root": str(Path(req.dataset.root).resolve()),
                "classes": run.index.classes,
                "imageSize": run.image_size,
            },
        }

    def save(self, step: int) -> dict[str, Any] | None:
        """Checkpoint after optimizer step ``step``; ``{...artifact ref, step}``, None on ranks > 0."""
        run = self.run
        if run.rank != 0:
            return None
        req, per_epoch = run.req, run.plan.micro_per_epoch
        micro = step * req.recipe.grad_accum_steps
        payload = {
            "format": T.CHECKPOINT_FORMAT,
            **self.static,
            "step": step,
            "epoch": micro / per_epoch,
            "sampler": {
                "seed": req.recipe.seed,
                "microBatch": micro,
                "epoch": micro // per_epoch,
                "batchInEpoch": micro % per_epoch,
            },
            "model": run.model.state_dict(),
            "optimizer": run.optimizer.state_dict(),
            "scheduler": run.scheduler.state_dict(),
            "scaler": run.scaler,
            "rng": T.capture_rng(),
            "losses": torch.tensor(run.losses, dtype=torch.float64),
        }
        path = atomic.torch_save(payload, Path(req.checkpoint_dir) / f"ckpt-{step}.pt")
        ref = self.emit.artifact("checkpoint", path, step=step)
        self.written.append(path)
        if req.keep_checkpoints is not None:
            while len(self.written) > req.keep_checkpoints:
                self.written.pop(0).unlink(missing_ok=True)
        self.last = {**ref, "step": step}
        return self.last


def _train_steps(run: _Run, checkpoints: _Checkpointer, emit: Emitter) -> tuple[int, int, float]:
    """The loop: micro-batches -> optimizer steps to ``totalSteps``; ``(last step, images seen, seconds)``.

    Every ``progressEverySteps`` steps a ``train`` progress event, every ``checkpointEverySteps`` (and at
    the last step) a checkpoint. A non-finite loss stops the run (NonFiniteLoss); running out of device
    memory becomes OutOfMemory with advice on the batch size.
    """
    req, recipe, dist, plan = run.req, run.req.recipe, run.dist, run.plan
    autocast = (
        torch.autocast(device_type="cuda", dtype=torch.bfloat16) if run.use_bf16 else contextlib.nullcontext()
    )
    run.model.train()
    step = run.start_step
    images = 0
    loop_start = time.perf_counter()
    accum_loss = 0.0
    micro_in_step = 0
    try:
        for x, y in run.loader:
            x = x.to(run.device, non_blocking=True)
            y = y.to(run.device, non_blocking=True)
            if recipe.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            last_micro = micro_in_step == recipe.grad_accum_steps - 1
            sync = contextlib.nullcontext() if (dist is None or last_micro) else run.train_model.no_sync()
            with sync:
                with autocast:
                    loss = _micro_batch_loss(run, x, y)
                (loss / recipe.grad_accum_steps).backward()
            accum_loss += float(loss.detach())
            micro_in_step += 1
            images += x.shape[0] * run.world
            if not last_micro:
                continue
            step_loss = accum_loss / recipe.grad_accum_steps
            if dist is not None:
                step_loss = dist.mean(step_loss)
            if not math.isfinite(step_loss):
                raise EngineError(
                    f"training loss is {step_loss} at step {step + 1}: lower recipe.lr or check the data",
                    type="NonFiniteLoss",
                )
            run.optimizer.step()
            run.optimizer.zero_grad(set_to_none=True)
            run.scheduler.step()
            step += 1
            run.losses.append(step_loss)
            accum_loss, micro_in_step = 0.0, 0
            if step % req.progress_every_steps == 0 or step == plan.total_steps:
                _emit_progress(run, emit, step, step_loss, images, time.perf_counter() - loop_start)
            if step % req.checkpoint_every_steps == 0 or step == plan.total_steps:
                checkpoints.save(step)
                if dist is not None:
                    dist.barrier()
    except Exception as e:
        if T.is_oom(e):
            raise T.out_of_memory(recipe.batch_size, run.device) from None
        raise
    return step, images, time.perf_counter() - loop_start


def _emit_progress(run: _Run, emit: Emitter, step: int, loss: float, images: int, elapsed: float) -> None:
    """The ``train`` progress event after optimizer step ``step``; throughput and ETA since the loop began."""
    plan, done = run.plan, step - run.start_step
    emit.progress(
        "train",
        step / plan.total_steps,
        step=step,
        totalSteps=plan.total_steps,
        epoch=step * run.req.recipe.grad_accum_steps / plan.micro_per_epoch,
        loss=loss,
        lr=run.optimizer.param_groups[0]["lr"],
        imagesPerSec=images / elapsed if elapsed > 0 else None,
        etaSec=(plan.total_steps - step) * elapsed / done if done else None,
    )


def _micro_batch_loss(run: _Run, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Cross-entropy (with label smoothing), blended with the teacher's :func:`_kd_loss` by ``kdAlpha``."""
    recipe = run.req.recipe
    logits = run.train_model(x)
    loss = F.cross_entropy(logits.float(), y, label_smoothing=recipe.label_smoothing)
    if run.teacher is not None and recipe.kd_alpha > 0:
        with torch.no_grad():
            t_logits = run.teacher(x)
        loss = (1 - recipe.kd_alpha) * loss + recipe.kd_alpha * _kd_loss(
            logits.float(), t_logits.float(), recipe.kd_temperature
        )
    return loss


def _kd_loss(student: torch.Tensor, teacher: torch.Tensor, temperature: float) -> torch.Tensor:
    """Hinton distillation: T^2 * KL(softmax(teacher/T) || softmax(student/T))."""
    return F.kl_div(
        F.log_softmax(student / temperature, dim=1),
        F.log_softmax(teacher / temperature, dim=1),
        reduction="batchmean",
        log_target=True,
    ) * (temperature**2)


def _final_result(
    run: _Run,
    last_ckpt: dict[str, Any] | None,
    step: int,
    images: int,
    train_sec: float,
    started: float,
    emit: Emitter,
) -> dict[str, Any]:
    """Write the trained model to ``outDir`` and build the job's result (PROTOCOL.md ``finetune``)."""
    req, recipe, plan = run.req, run.req.recipe, run.plan
    model_ref, model_spec = _write_model(run.model, req.model, run.num_classes, Path(req.out_dir), emit)
    result: dict[str, Any] = {
        "finalCheckpoint": last_ckpt,
        "model": model_ref,
        "modelSpec": model_spec,
        "steps": step,
        "totalSteps": plan.total_steps,
        "epochs": step * recipe.grad_accum_steps / plan.micro_per_epoch,
        "trainLoss": _loss_summary(run.losses, max(1, round(plan.steps_per_epoch))),
        "lossCurve": T.downsample_curve(run.losses),
        "imagesPerSec": images / train_sec if train_sec > 0 and images else None,
        "wallMs": round((time.perf_counter() - started) * 1000),
        "device": str(run.device),
        "worldSize": run.world,
        "imageSize": run.image_size,
        "classes": run.index.classes,
    }
    if run.ckpt is not None:
        result["resumedFromStep"] = run.start_step
    return result


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (1 << 32))
    torch.manual_seed(seed)


def _optimizer(model: Any, recipe: Recipe) -> Any:
    # Standard practice: no weight decay on biases and normalisation parameters (1-d tensors).
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (no_decay if p.ndim <= 1 else decay).append(p)
    groups = [
        {"params": decay, "weight_decay": recipe.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    if recipe.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=recipe.lr, momentum=recipe.momentum)
    return torch.optim.AdamW(groups, lr=recipe.lr)


def _warn_recipe_drift(saved: dict[str, Any], recipe: Recipe) -> None:
    now = recipe.model_dump(by_alias=True)
    changed = sorted(k for k in now if k in saved and saved[k] != now[k])
    if changed:
        log(
            f"finetune: the recipe changed since the checkpoint ({', '.join(changed)}); "
            "the run will not be exact"
        )


def _loss_summary(losses: list[float], window: int) -> dict[str, float | None]:
    if not losses:
        return {"last": None, "avg": None, "recent": None}
    recent = losses[-window:]
    return {"last": losses[-1], "avg": sum(losses) / len(losses), "recent": sum(recent) / len(recent)}


def _write_model(
    model: Any, spec: dict[str, Any], num_classes: int, out_dir: Path, emit: Emitter
) -> tuple[dict, dict]:
    """Write ``outDir/model.pt``, or a pruned folder for a pruned model; (artifact ref, buildable spec)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    pruned = pruned_folder.folder_of(spec)
    model_spec = {k: v for k, v in spec.items() if k not in ("weights", "pruned")}
    if pruned:
        path = pruned_folder.copy_folder(pruned, out_dir, model.state_dict())
        model_spec["pruned"] = str(out_dir.resolve())
    else:
        path = atomic.torch_save(model.state_dict(), out_dir / MODEL_FILE)
        model_spec["weights"] = str(path.resolve())
        model_spec["numClasses"] = num_classes
    return emit.artifact("model", path), model_spec


# ------------------------------------------------------------------------------ multi-GPU (torchrun)
#
# gpus > 1: run() relaunches ``python -m torch.distributed.run --standalone --nproc_per_node=<gpus>
# -m agentic_engine.finetune --request-file <tmp>``. Each rank runs _train() with a DDP-wrapped model;
# micro-batch m of the global order is cut into ``gpus`` slices of ``batchSize`` (batchSize is per GPU).
# Rank 0 alone writes checkpoints, the model and events; the parent relays its event lines. A resume is
# exact in data order and model/optimizer state; dropout RNG of ranks > 0 is not checkpointed.
# Untested here (no multi-GPU host); on CPU it runs with the gloo backend.


class _Dist:
    def __init__(self, rank: int, world: int, local_rank: int, device: str) -> None:
        self.rank, self.world, self.local_rank = rank, world, local_rank
        if device != "cpu" and torch.cuda.is_available():
            torch.cuda.set_device(local_rank)
            self.device = torch.device("cuda", local_rank)
        else:
            self.device = torch.device("cpu")

    def init(self) -> None:
        import torch.distributed as td

        if not td.is_initialized():
            td.init_process_group("nccl" if self.device.type == "cuda" else "gloo")

    def mean(self, value: float) -> float:
        import torch.distributed as td

        t = torch.tensor([value], dtype=torch.float64, device=self.device)
        td.all_reduce(t)
        return float(t.item()) / self.world

    def barrier(self) -> None:
        import torch.distributed as td

        td.barrier()


def _dist_env(device: str) -> _Dist | None:
    """This rank's place when started by torchrun, else None."""
    if "LOCAL_RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
        return None
    env = os.environ
    return _Dist(int(env["RANK"]), int(env["WORLD_SIZE"]), int(env["LOCAL_RANK"]), device)


class _RankSlice:
    """This rank's ``batchSize`` slice of each global micro-batch."""

    def __init__(self, sampler: Any, rank: int, world: int) -> None:
        self.sampler, self.rank, self.world = sampler, rank, world

    def __len__(self) -> int:
        return len(self.sampler)

    def __iter__(self):
        for batch in self.sampler:
            per = len(batch) // self.world
            yield batch[self.rank * per : (self.rank + 1) * per]


def _launch_torchrun(req: FinetuneRequest, request: dict[str, Any], emit: Emitter) -> dict[str, Any]:
    if req.device != "cpu" and torch.cuda.device_count() < req.gpus:
        raise RequestError("gpus", f"{req.gpus} GPUs requested, {torch.cuda.device_count()} visible")
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(request, f)
        request_file = f.name
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={req.gpus}",
        "-m", "agentic_engine.finetune", "--request-file", request_file,
    ]  # fmt: skip
    log("finetune: launching", " ".join(cmd))
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    try:
        with subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True) as proc:
            assert proc.stdout is not None
            for line in proc.stdout:
                try:
                    event = json.loads(line)
                except json.JSONDecodeError:
                    log(line.rstrip())
                    continue
                kind = event.pop("event", None)
                if kind == "result":
                    result = event.get("data")
                elif kind == "error":
                    error = event
                elif kind is not None:
                    emit.emit(kind, **event)
            code = proc.wait()
    finally:
        os.unlink(request_file)
    if error is not None:
        if error.get("type") == "RequestError":
            raise RequestError(error.get("field"), str(error.get("message", "")).split(": ", 1)[-1])
        raise EngineError(
            str(error.get("message")), type=str(error.get("type")), retryable=bool(error.get("retryable"))
        )
    if code != 0 or result is None:
        raise EngineError(
            f"torchrun exited with code {code} without a result", type="DistributedFailure", retryable=True
        )
    return result


def _rank_main(argv: list[str] | None = None) -> int:
    """Entry point of one torchrun rank: rank 0 emits events; the others only log."""
    import argparse

    parser = argparse.ArgumentParser(prog="agentic_engine.finetune")
    parser.add_argument("--request-file", required=True)
    args = parser.parse_args(argv)
    if "LOCAL_RANK" not in os.environ:
        log("agentic_engine.finetune is started by torchrun; use `python -m agentic_engine finetune`")
        return 2
    with open(args.request_file, encoding="utf-8") as f:
        request = json.load(f)

    with open(os.devnull, "w") as devnull:
        emit = Emitter() if os.environ.get("RANK", "0") == "0" else Emitter(stream=devnull)
        try:
            return run_job("finetune", request, emit)
        finally:
            import torch.distributed as td

            if td.is_initialized():
                td.destroy_process_group()


if __name__ == "__main__":
    sys.exit(_rank_main())
