"""``evaluate``: top-1 / top-5 accuracy and mean cross-entropy of a model on an ImageFolder split.

Deterministic: the eval transform has no randomness and images are visited in sorted order
(class folder, then file name). ``maxImages`` takes an evenly strided subset of that order, so a
small budget still covers every class. When the model predicts fewer than 5 classes, ``top5`` is
top-``k`` with ``k = numClasses`` (always 1.0); ``topK`` in the result says which ``k`` was used.

Request ``{model: ModelSpec, dataset: {root, split='val', imageSize?}, batchSize=64, maxImages?,
device='auto', workers=0}``; result ``{top1, top5, topK, loss, count, numClasses, split, imageSize,
imagesPerSec, wallMs}``.
"""

from __future__ import annotations

import time
from typing import Any, Literal

from pydantic import BaseModel, Field

from .jobs import parse_request
from .protocol import Emitter, RequestError, request_config

__all__ = ["EvaluateRequest", "run", "evaluate_model"]

_CONFIG = request_config(populate_by_name=False)


class EvaluateDataset(BaseModel):
    model_config = _CONFIG

    root: str = Field(min_length=1)
    split: Literal["val", "train"] = "val"
    image_size: int | None = Field(None, ge=8, le=4096)


class EvaluateRequest(BaseModel):
    model_config = _CONFIG

    model: dict[str, Any]
    dataset: EvaluateDataset
    batch_size: int = Field(64, ge=1, le=8192)
    max_images: int | None = Field(None, ge=1)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    workers: int = Field(0, ge=0, le=64)


def run(request: dict[str, Any], emit: Emitter) -> dict[str, Any]:
    from . import training as T

    req = parse_request(EvaluateRequest, request)
    started = time.perf_counter()
    device = T.resolve_device(req.device)
    index = T.index_split(req.dataset.root, req.dataset.split)
    model, input_shape = T.load_model(req.model, "model")
    image_size = req.dataset.image_size or int(input_shape[-1])
    data = T.AugmentedImageFolder(index, image_size, train=False)
    n = len(data)
    if req.max_images is not None and req.max_images < n:
        indices = [i * n // req.max_images for i in range(req.max_images)]
    else:
        indices = list(range(n))
    try:
        metrics = evaluate_model(
            model, data, indices, req.batch_size, device, len(index.classes), emit, workers=req.workers
        )
    except Exception as e:
        if T.is_oom(e):
            raise T.out_of_memory(req.batch_size, device) from None
        raise
    seconds = time.perf_counter() - started
    return {
        **metrics,
        "split": req.dataset.split,
        "imageSize": image_size,
        "wallMs": round(seconds * 1000),
    }


def evaluate_model(
    model: Any,
    data: Any,
    indices: list[int],
    batch_size: int,
    device: Any,
    num_classes: int,
    emit: Emitter | None = None,
    workers: int = 0,
) -> dict[str, Any]:
    """Accuracy and loss of ``model`` over ``data[indices]`` (in that order), in eval mode without grad."""
    import torch
    import torch.nn.functional as F
    from torch.utils.data import DataLoader, Subset

    model.eval().to(device)
    loader = DataLoader(
        Subset(data, indices), batch_size=batch_size, shuffle=False, num_workers=workers,
        pin_memory=device.type == "cuda",
    )  # fmt: skip
    correct1 = correct5 = 0
    loss_sum = 0.0
    count = 0
    k = None
    t0 = time.perf_counter()
    with torch.no_grad():
        for b, (x, y) in enumerate(loader):
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            logits = model(x).float()
            if logits.ndim != 2 or logits.shape[1] != num_classes:
                raise RequestError(
                    "model.numClasses",
                    f"the model's output has shape {tuple(logits.shape)}; "
                    f"the dataset has {num_classes} classes",
                )
            k = min(5, logits.shape[1])
            top = logits.topk(k, dim=1).indices
            hits = top.eq(y[:, None])
            correct1 += int(hits[:, 0].sum())
            correct5 += int(hits.any(dim=1).sum())
            loss_sum += float(F.cross_entropy(logits, y, reduction="sum"))
            count += y.numel()
            if emit is not None:
                emit.progress("evaluate", count / len(indices), batch=b + 1, count=count)
    seconds = time.perf_counter() - t0
    return {
        "top1": correct1 / count,
        "top5": correct5 / count,
        "topK": k,
        "loss": loss_sum / count,
        "count": count,
        "numClasses": num_classes,
        "imagesPerSec": count / seconds if seconds > 0 else None,
    }
