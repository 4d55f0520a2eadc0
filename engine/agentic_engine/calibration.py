"""The calibration sample: a fixed, seeded subset of a dataset's ``train/`` split, with its real labels.

``prune`` uses it for Taylor importance (gradients of the cross-entropy on real labels) and for the
accuracy proxy (top-1/top-5 of the pruned model before any fine-tuning). It never reads ``val/``: that split
is the final evaluation's alone, so nothing the search chooses has seen it (DESIGN.md, "Data splits mean
what they say").

Worked example: dataset root ``/data/shapes`` (``train/00-disc/..``, ``train/01-square/..``, ... ``val/..``),
2 batches of 8, seed 0 -> ``randperm(len(train), seed 0)[:16]`` picks 16 images of ``/data/shapes/train``;
the same 16 on every call with seed 0 and count 16 (a larger count extends them); labels are the
positions of the sorted class folders, the same indices ``finetune`` trains and ``evaluate`` scores with.
Images go through the eval transform (:func:`training.eval_view`), so the proxy on train/ and the
evaluation on val/ see images the same way.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import torch

from . import training as T
from .protocol import RequestError

__all__ = [
    "SPLIT",
    "Slices",
    "sample_indices",
    "score_slices",
    "train_index",
    "check_classes",
    "calibration_batches",
]

SPLIT = "train"

# A warm engine runs many prune trials on one dataset: listing train/ (1.28 M files on ImageNet) and
# decoding the same sample for every trial is repeated I/O on the search's hot path. The last few split
# listings and samples are kept, keyed by what they were made from and by the split's folders' identity and
# mtimes, so a regenerated or changed dataset is read again.
_CACHE_SIZE = 2
_index_cache: OrderedDict[tuple, T.SplitIndex] = OrderedDict()
_cache: OrderedDict[tuple, tuple[T.SplitIndex, list[tuple[torch.Tensor, torch.Tensor]]]] = OrderedDict()


def _split_fingerprint(split_dir: Path) -> tuple:
    """Identity and mtime of the split folder and each class folder: changes when files come or go."""
    st = split_dir.stat()
    classes = []
    with os.scandir(split_dir) as it:
        for e in it:
            if e.is_dir():
                cst = e.stat()
                classes.append((e.name, cst.st_ino, cst.st_mtime_ns))
    return (st.st_ino, st.st_mtime_ns, tuple(sorted(classes)))


def sample_indices(n: int, count: int, seed: int) -> list[int]:
    """``count`` distinct positions in ``0..n-1`` (all if ``count >= n``), a pure function of the seed.

    Not the first files: a split is sorted by class, so its head is one class.
    """
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()
    return order[:count]


@dataclass(frozen=True)
class Slices:
    """Disjoint positions of one ``train/`` split for scoring a candidate (:func:`score_slices`)."""

    calibration: list[int]  # batch-norm recalibration / Taylor gradients: the calibration sample itself
    held_out: list[int]  # scored, never trained or calibrated on
    train: list[int]  # a recovery fine-tune's images: every position but the held-out ones (sorted)


DEFAULT_SCORE_IMAGES = 256
"""The held-out slice's floor when a request names none (a split small enough is scored on less)."""

SCORE_IMAGES_PER_CLASS = 10
"""The held-out images per class a request that names none gets (between 256 and 1,000 in all)."""

MAX_DEFAULT_SCORE_IMAGES = 1000
"""The held-out slice's ceiling when a request names none."""


def default_score_count(n: int, calibration_count: int, classes: int | None = None) -> int:
    """The held-out slice when a request names none: 10 images per class of the split, at least 256 and at
    most 1,000, but never more than a quarter of what the calibration sample leaves of a split of ``n`` (at
    least 1), so a small dataset is still scored and most of it is left for a recovery fine-tune. 256 images
    are 2.6 per class of a 100-class set, too few to order candidates a point apart; the accuracy benches
    scored 100 classes on 1,000 (bench/RESULTS.md). ``classes`` None: 256.

    Examples: ``n = 5000, calibration 128`` -> 256 (10 classes: 256; 50: 500; 100 or 1000: 1000);
    ``n = 64, calibration 16`` -> 12; ``n = 20000, calibration 128, 100 classes`` -> 1000.
    """
    wanted = DEFAULT_SCORE_IMAGES
    if classes is not None:
        wanted = min(MAX_DEFAULT_SCORE_IMAGES, max(DEFAULT_SCORE_IMAGES, SCORE_IMAGES_PER_CLASS * classes))
    return min(wanted, max(1, (n - calibration_count) // 4))


def score_slices(
    n: int, calibration_count: int, score_count: int | None, seed: int, classes: int | None = None
) -> Slices:
    """The calibration sample, a held-out slice and the rest of a split of ``n`` images, all seeded.

    One permutation ``randperm(n, seed)``: its head is the calibration sample (the very images
    :func:`sample_indices` and :func:`calibration_batches` pick for that seed and count), its tail the
    ``score_count`` held-out images, so the two never meet while ``calibration_count + score_count <= n``,
    and the held-out slice stays the same when the calibration sample grows. ``train`` is everything but
    the held-out slice (the calibration images included: they are not scored).

    Worked example: ``n = 10, calibration 3, score 4, seed 0``: ``order = randperm(10)``,
    ``calibration = order[:3]``, ``held_out = order[6:]``, ``train = sorted(order[:6])``.

    ``score_count`` None: :func:`default_score_count` (of the split's ``classes``). A RequestError naming
    ``calibration.batches`` or ``scoreImages`` when they do not fit in the split.
    """
    if calibration_count > n:
        raise RequestError(
            "calibration.batches",
            f"batches x batchSize = {calibration_count} images, more than the {n} of the {SPLIT}/ split",
        )
    if score_count is None:
        score_count = default_score_count(n, calibration_count, classes)
    if score_count > n - calibration_count:
        raise RequestError(
            "scoreImages",
            f"{score_count} held-out images and {calibration_count} calibration images do not fit "
            f"in the {n} of the {SPLIT}/ split (they must be disjoint)",
        )
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()
    return Slices(
        calibration=order[:calibration_count],
        held_out=order[n - score_count :],
        train=sorted(order[: n - score_count]),
    )


V = TypeVar("V")


def _cached(cache: OrderedDict[tuple, V], key: tuple, make: Callable[[], V]) -> V:
    """``cache[key]``, made by ``make()`` on a miss; the least recently used entries beyond the size go."""
    if key in cache:
        cache.move_to_end(key)
        return cache[key]
    value = cache[key] = make()
    while len(cache) > _CACHE_SIZE:
        cache.popitem(last=False)
    return value


def _split_dir(root: str, field: str) -> tuple[Path, Path]:
    """``(root, <root>/train)``; a RequestError naming ``field`` when either is not a folder."""
    base = Path(root)
    if not base.is_dir():
        raise RequestError(field, f"{root!r} is not a directory")
    split_dir = base / SPLIT
    if not split_dir.is_dir():
        raise RequestError(
            field,
            f"{str(split_dir)!r} does not exist: calibration reads the dataset's {SPLIT}/ split "
            f"(<root>/{SPLIT}/<class>/<image>; {root!r} is the dataset root)",
        )
    return base, split_dir


def _index(base: Path, fingerprint: tuple, field: str) -> T.SplitIndex:
    key = (str(base.resolve()), fingerprint)
    return _cached(_index_cache, key, lambda: T.index_split(base, SPLIT, field=field))


def train_index(root: str, field: str = "calibration.dataset") -> T.SplitIndex:
    """The split index of ``<root>/train``, listed once per state of the split (cached as the samples are).

    A RequestError naming ``field`` when ``root`` is not a folder, or ``<root>/train`` is missing, has no
    class folders or no images.
    """
    base, split_dir = _split_dir(root, field)
    return _index(base, _split_fingerprint(split_dir), field)


def check_classes(index: T.SplitIndex, num_classes: int, field: str) -> None:
    """A RequestError naming ``field`` when the split's class count is not the model's ``num_classes``."""
    if len(index.classes) != num_classes:
        raise RequestError(
            field,
            f"{str(index.root / SPLIT)!r} has {len(index.classes)} classes "
            f"but the model predicts {num_classes}",
        )


def calibration_batches(
    root: str,
    batches: int,
    batch_size: int,
    input_shape: list[int],
    seed: int,
    field: str = "calibration.dataset",
) -> tuple[T.SplitIndex, list[tuple[torch.Tensor, torch.Tensor]]]:
    """The split index of ``<root>/train`` (:func:`train_index`) and up to ``batches`` batches
    ``(images, labels)`` of its sample. RequestErrors as :func:`train_index`.
    """
    base, split_dir = _split_dir(root, field)
    fingerprint = _split_fingerprint(split_dir)
    height, width = input_shape[2], input_shape[3]

    def make() -> tuple[T.SplitIndex, list[tuple[torch.Tensor, torch.Tensor]]]:
        index = _index(base, fingerprint, field)
        take = sample_indices(len(index.samples), batches * batch_size, seed)
        out = []
        for start in range(0, len(take), batch_size):
            picks = [index.samples[i] for i in take[start : start + batch_size]]
            images = torch.stack([T.eval_tensor(path, height, width) for path, _ in picks])
            out.append((images, torch.tensor([label for _, label in picks])))
        return index, out

    key = (str(base.resolve()), batches, batch_size, height, width, seed, fingerprint)
    return _cached(_cache, key, make)
