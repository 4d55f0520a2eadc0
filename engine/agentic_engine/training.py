"""Shared helpers of the ``finetune`` and ``evaluate`` jobs: data, transforms, recipe, checkpoints.

Determinism is designed in rather than hoped for. Neither the sample order nor the augmentation
touches a global RNG:

- the order of epoch ``e`` is a permutation drawn from ``torch.Generator(seed, e)``
  (:class:`ResumableBatchSampler`), so the position inside an epoch is a plain integer;
- each sample's augmentation draws from its own generator seeded by ``(seed, epoch, position)``
  (:class:`AugmentedImageFolder`), so it is the same with 0 or 8 loader workers and after a resume.

The global RNGs (torch, cuda, numpy, python) are still saved in every checkpoint for what the model
itself draws (dropout, drop-path), see :func:`capture_rng` / :func:`restore_rng`.
"""

from __future__ import annotations

import hashlib
import math
import os
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn
from torch.utils.data import Dataset, Sampler

from .protocol import EngineError, RequestError

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "IMG_EXTENSIONS",
    "CheckpointMismatch",
    "SplitIndex",
    "index_split",
    "AugmentedImageFolder",
    "eval_view",
    "eval_tensor",
    "ResumableBatchSampler",
    "lr_factor",
    "resolve_device",
    "load_model",
    "architecture_fingerprint",
    "capture_rng",
    "restore_rng",
    "load_checkpoint",
    "downsample_curve",
    "is_oom",
]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
IMG_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".ppm", ".tif", ".tiff")
# Inputs at or below this side use CIFAR-style pad-crop; above it ImageNet-style RandomResizedCrop.
SMALL_INPUT_MAX = 64
CHECKPOINT_FORMAT = "agentic-finetune-checkpoint/1"


class CheckpointMismatch(RequestError):
    """Raised when a checkpoint was written for another architecture (or is not a checkpoint at all)."""

    def __init__(self, field: str | None, message: str) -> None:
        super().__init__(field, message)
        self.type = "CheckpointMismatch"


# --------------------------------------------------------------------------------------------- data


@dataclass(frozen=True)
class SplitIndex:
    """The files of one ImageFolder split: ``samples[i] = (path, class_index)`` in sorted order."""

    root: Path
    classes: list[str]
    samples: list[tuple[str, int]]


def index_split(root: str | Path, split: str, field: str = "dataset.root") -> SplitIndex:
    """List ``root/split/<class>/*.<img>``; a RequestError naming ``field`` when it is not usable."""
    base = Path(root)
    if not base.is_dir():
        raise RequestError(field, f"dataset folder {str(base)!r} does not exist")
    split_dir = base / split
    if not split_dir.is_dir():
        raise RequestError(field, f"dataset folder {str(base)!r} has no {split!r} subfolder")
    classes = sorted(d.name for d in split_dir.iterdir() if d.is_dir() and not d.name.startswith("."))
    if not classes:
        raise RequestError(
            field, f"{str(split_dir)!r} has no class folders (expected {split}/<class>/<image>)"
        )
    samples: list[tuple[str, int]] = []
    for class_index, name in enumerate(classes):
        for dirpath, dirnames, filenames in os.walk(split_dir / name, followlinks=True):
            dirnames.sort()
            for fname in sorted(filenames):
                if fname.lower().endswith(IMG_EXTENSIONS):
                    samples.append((os.path.join(dirpath, fname), class_index))
    if not samples:
        raise RequestError(field, f"{str(split_dir)!r} has class folders but no images")
    return SplitIndex(root=base, classes=classes, samples=samples)


def _sample_generator(seed: int, epoch: int, position: int) -> torch.Generator:
    # One 63-bit seed per (run seed, epoch, position); sha256 keeps neighbouring seeds unrelated.
    digest = hashlib.sha256(f"aug:{seed}:{epoch}:{position}".encode()).digest()
    return torch.Generator().manual_seed(int.from_bytes(digest[:8], "little") & ((1 << 63) - 1))


def _random_resized_crop_box(
    width: int, height: int, gen: torch.Generator, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3)
) -> tuple[int, int, int, int]:
    """torchvision's RandomResizedCrop.get_params, drawing from ``gen`` instead of the global RNG."""
    area = height * width
    log_lo, log_hi = math.log(ratio[0]), math.log(ratio[1])
    for _ in range(10):
        target_area = area * torch.empty(1).uniform_(scale[0], scale[1], generator=gen).item()
        aspect = math.exp(torch.empty(1).uniform_(log_lo, log_hi, generator=gen).item())
        w = int(round(math.sqrt(target_area * aspect)))
        h = int(round(math.sqrt(target_area / aspect)))
        if 0 < w <= width and 0 < h <= height:
            i = int(torch.randint(0, height - h + 1, size=(1,), generator=gen).item())
            j = int(torch.randint(0, width - w + 1, size=(1,), generator=gen).item())
            return i, j, h, w
    in_ratio = width / height
    if in_ratio < min(ratio):
        w, h = width, int(round(width / min(ratio)))
    elif in_ratio > max(ratio):
        h, w = height, int(round(height * max(ratio)))
    else:
        w, h = width, height
    return (height - h) // 2, (width - w) // 2, h, w


class AugmentedImageFolder(Dataset):
    """An ImageFolder split whose items are addressed as ``(index, epoch, position)`` (train) or ``index``.

    Train transform per input family:
    - small inputs (side <= 64, CIFAR-like): resize to ``image_size`` if needed, pad by side/8
      (reflect-free zero padding, as CIFAR recipes do), random crop back, horizontal flip;
    - larger inputs (ImageNet-like): RandomResizedCrop(image_size, scale 0.08..1) + horizontal flip.
    Eval transform: small inputs are resized to ``image_size``; larger ones resized to
    ``image_size / 0.875`` on the short side and centre-cropped. Always ImageNet mean/std normalisation.
    """

    def __init__(self, index: SplitIndex, image_size: int, train: bool, seed: int = 0) -> None:
        self.index = index
        self.image_size = image_size
        self.train = train
        self.seed = seed
        self._mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
        self._std = torch.tensor(IMAGENET_STD).view(3, 1, 1)

    def __len__(self) -> int:
        return len(self.index.samples)

    def __getitem__(self, item: int | tuple[int, int, int]) -> tuple[torch.Tensor, int]:
        from torchvision.transforms import functional as F

        if isinstance(item, tuple):
            index, epoch, position = item
            gen = _sample_generator(self.seed, epoch, position) if self.train else None
        else:
            index, gen = int(item), None
        path, target = self.index.samples[index]
        with Image.open(path) as im:
            img = im.convert("RGB")
        size = self.image_size
        if self.train and gen is not None:
            if size <= SMALL_INPUT_MAX:
                if img.size != (size, size):
                    img = F.resize(img, [size, size])
                t = F.pil_to_tensor(img)
                pad = max(1, size // 8)
                t = torch.nn.functional.pad(t, (pad, pad, pad, pad))
                i = int(torch.randint(0, 2 * pad + 1, (1,), generator=gen).item())
                j = int(torch.randint(0, 2 * pad + 1, (1,), generator=gen).item())
                t = t[:, i : i + size, j : j + size]
            else:
                i, j, h, w = _random_resized_crop_box(img.width, img.height, gen)
                img = F.resized_crop(img, i, j, h, w, [size, size], antialias=True)
                t = F.pil_to_tensor(img)
            if torch.rand(1, generator=gen).item() < 0.5:
                t = t.flip(-1)
        else:
            t = F.pil_to_tensor(eval_view(img, size, size))
        x = (t.float() / 255.0 - self._mean) / self._std
        return x, target


def eval_view(img: Image.Image, height: int, width: int) -> Image.Image:
    """The deterministic eval view of ``img`` at ``height x width``.

    Small inputs (both sides <= 64) are resized to ``height x width``; larger ones are resized to
    ``side / 0.875`` on the short side and centre-cropped (the ImageNet convention: 256 -> 224).
    ``evaluate``, ``predict`` and the calibration sample all see images through it.
    """
    from torchvision.transforms import functional as F

    if max(height, width) <= SMALL_INPUT_MAX:
        if img.size != (width, height):
            img = F.resize(img, [height, width])
        return img
    img = F.resize(img, int(round(min(height, width) / 0.875)))
    return F.center_crop(img, [height, width])


def eval_tensor(path: str, height: int, width: int) -> torch.Tensor:
    """The image at ``path`` as a normalised ``[3, height, width]`` tensor through :func:`eval_view`."""
    from torchvision.transforms import functional as F

    with Image.open(path) as im:
        img = im.convert("RGB")
    t = F.pil_to_tensor(eval_view(img, height, width))
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    return (t.float() / 255.0 - mean) / std


class ResumableBatchSampler(Sampler[list[tuple[int, int, int]]]):
    """Yields micro-batches ``[(index, epoch, position), ...]`` from micro-batch ``start`` up to ``stop``.

    Epoch ``e`` visits the dataset in ``randperm(n, generator=seed(seed, e))`` order and is cut into
    ``n // batch_size`` full micro-batches (the remainder is dropped, as ``drop_last`` would). Micro-batch
    ``m`` is therefore a pure function of ``(seed, m)``: resuming at ``m`` needs no saved iterator.
    """

    def __init__(self, n: int, batch_size: int, seed: int, start: int, stop: int) -> None:
        if n < batch_size:
            raise ValueError(f"dataset of {n} images is smaller than one batch of {batch_size}")
        self.n = n
        self.batch_size = batch_size
        self.seed = seed
        self.start = start
        self.stop = stop
        self.per_epoch = n // batch_size

    def permutation(self, epoch: int) -> torch.Tensor:
        digest = hashlib.sha256(f"order:{self.seed}:{epoch}".encode()).digest()
        gen = torch.Generator().manual_seed(int.from_bytes(digest[:8], "little") & ((1 << 63) - 1))
        return torch.randperm(self.n, generator=gen)

    def __len__(self) -> int:
        return max(0, self.stop - self.start)

    def __iter__(self) -> Iterator[list[tuple[int, int, int]]]:
        epoch = -1
        perm = torch.empty(0, dtype=torch.long)
        for m in range(self.start, self.stop):
            e, b = divmod(m, self.per_epoch)
            if e != epoch:
                epoch, perm = e, self.permutation(e)
            lo = b * self.batch_size
            yield [(int(perm[p]), e, p) for p in range(lo, lo + self.batch_size)]


# ------------------------------------------------------------------------------------------- recipe


def lr_factor(step: int, total_steps: int, warmup_steps: int, schedule: str) -> float:
    """Multiplier of the base lr at optimizer step ``step`` (0-based): linear warmup, then cosine/constant."""
    if warmup_steps > 0 and step < warmup_steps:
        return (step + 1) / warmup_steps
    if schedule == "constant":
        return 1.0
    span = max(1, total_steps - warmup_steps)
    progress = min(1.0, (step - warmup_steps) / span)
    return 0.5 * (1.0 + math.cos(math.pi * progress))


def resolve_device(requested: str | None) -> torch.device:
    """``auto`` (default): cuda when available, else cpu; ``cuda`` without a GPU is a RequestError."""
    if requested in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if requested == "cuda" and not torch.cuda.is_available():
        raise RequestError("device", "cuda was requested but no CUDA device is available")
    return torch.device(requested)


def load_model(spec: dict[str, Any], field: str) -> tuple[nn.Module, list[int]]:
    """``models.build_model(spec)``; its RequestErrors name ``<field>.<x>`` (e.g. ``teacher.weights``)."""
    from .models import build_model

    try:
        return build_model(spec)
    except RequestError as e:
        if isinstance(e, CheckpointMismatch) or field == "model":
            raise
        # build_model names its fields ``model.<x>``; say ``teacher.<x>`` when it built the teacher.
        sub = e.field or ""
        message = str(e)
        if sub and message.startswith(f"{sub}: "):
            message = message[len(sub) + 2 :]
        if sub == "model" or sub.startswith("model."):
            sub = field + sub[len("model") :]
        else:
            sub = f"{field}.{sub}" if sub else field
        raise RequestError(sub, message) from None


def output_classes(model: nn.Module, image_size: int) -> int:
    """The model's number of outputs, from one eval-mode forward pass on a zero image."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = model(torch.zeros(1, 3, image_size, image_size))
    except Exception as e:  # noqa: BLE001 - a shape error here is the request's fault
        raise RequestError(
            "dataset.imageSize", f"the model cannot take {image_size}x{image_size} inputs: {e}"
        ) from None
    finally:
        model.train(was_training)
    if out.ndim != 2:
        raise RequestError(
            "model", f"the model's output has shape {tuple(out.shape)}, expected (batch, classes)"
        )
    return int(out.shape[1])


def architecture_fingerprint(model: nn.Module) -> str:
    """sha256 over every state_dict entry's name, shape and dtype: equal iff the architectures match."""
    h = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        h.update(f"{name}:{tuple(tensor.shape)}:{tensor.dtype}\n".encode())
    return h.hexdigest()


# ------------------------------------------------------------------------------------- checkpoints


def capture_rng() -> dict[str, Any]:
    """Every global RNG state, in types ``torch.load(weights_only=True)`` accepts."""
    np_state = np.random.get_state()
    py_version, py_state, py_gauss = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": {
            "keys": torch.from_numpy(np_state[1].astype(np.int64)),
            "pos": int(np_state[2]),
            "hasGauss": int(np_state[3]),
            "cachedGaussian": float(np_state[4]),
        },
        "python": {"version": py_version, "state": list(py_state), "gauss": py_gauss},
    }


def restore_rng(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if state.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    n = state["numpy"]
    np.random.set_state(
        ("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"], n["hasGauss"], n["cachedGaussian"])
    )
    p = state["python"]
    random.setstate((p["version"], tuple(p["state"]), p["gauss"]))


def load_checkpoint(path: str | Path, field: str = "resumeFrom") -> dict[str, Any]:
    """Load a finetune checkpoint on the CPU; RequestError if missing, CheckpointMismatch if not ours."""
    p = Path(path)
    if not p.is_file():
        raise RequestError(field, f"checkpoint {str(p)!r} does not exist")
    try:
        ckpt = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unpickling failure means "not a usable checkpoint"
        raise CheckpointMismatch(field, f"{str(p)!r} is not a readable checkpoint: {e}") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointMismatch(field, f"{str(p)!r} is not a finetune checkpoint ({CHECKPOINT_FORMAT})")
    return ckpt


def downsample_curve(losses: Sequence[float], max_points: int = 200) -> list[dict[str, float]]:
    """``[{step, loss}]`` with at most ``max_points`` points: bucket means, keyed by each bucket's last step.

    Steps are 1-based (step ``s`` is the loss of the ``s``-th optimizer step).
    """
    n = len(losses)
    if n == 0:
        return []
    if n <= max_points:
        return [{"step": i + 1, "loss": float(v)} for i, v in enumerate(losses)]
    curve = []
    for b in range(max_points):
        lo, hi = b * n // max_points, (b + 1) * n // max_points
        chunk = losses[lo:hi]
        curve.append({"step": hi, "loss": float(sum(chunk) / len(chunk))})
    return curve


def is_oom(err: BaseException) -> bool:
    return isinstance(err, torch.OutOfMemoryError) or (
        isinstance(err, RuntimeError) and "out of memory" in str(err).lower()
    )


def out_of_memory(batch_size: int, device: torch.device) -> EngineError:
    return EngineError(
        f"out of memory on {device} with recipe.batchSize={batch_size}: lower batchSize "
        "(and raise gradAccumSteps to keep the effective batch)",
        type="OutOfMemory",
        retryable=False,
    )
