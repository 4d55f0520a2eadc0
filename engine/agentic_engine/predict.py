"""``predict``: PyTorch predictions on a validation sample, with the exact inputs written to disk.

The deployment check feeds the same inputs to ONNX Runtime and compares top-1 predictions, so the
input tensor is saved as raw little-endian float32 (``[N, 3, H, W]``, row-major) next to the answer.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from . import atomic
from .jobs import parse_request
from .protocol import Emitter, request_config

__all__ = ["run"]


class PredictDataset(BaseModel):
    model_config = request_config()
    root: str
    split: Literal["train", "val"] = "val"
    image_size: int | None = Field(None, ge=8, le=4096)


class PredictRequest(BaseModel):
    model_config = request_config()
    model: dict[str, Any]
    dataset: PredictDataset
    count: int = Field(64, ge=1, le=100_000)
    out: str


def run(request: dict[str, Any], emit: Emitter) -> dict[str, Any]:
    import numpy as np
    import torch

    from . import training as T

    req = parse_request(PredictRequest, request)
    index = T.index_split(req.dataset.root, req.dataset.split)
    model, input_shape = T.load_model(req.model, "model")
    image_size = req.dataset.image_size or int(input_shape[-1])
    data = T.AugmentedImageFolder(index, image_size, train=False)
    n = min(req.count, len(data))
    # Evenly strided over the (class-sorted) split, so a small sample still covers every class.
    indices = [i * len(data) // n for i in range(n)]
    xs, ys = zip(*(data[i] for i in indices), strict=True)
    x = torch.stack(list(xs)).float().contiguous()
    model.eval()
    with torch.no_grad():
        logits = model(x).float()
    out = atomic.write_bytes(req.out, x.numpy().astype(np.dtype("<f4")).tobytes())
    ref = emit.artifact("inputs", out)
    return {
        "inputs": ref,
        "shape": list(x.shape),
        "top1": logits.argmax(dim=1).tolist(),
        "labels": [int(y) for y in ys],
        "numClasses": int(logits.shape[1]),
    }
