"""``make-dataset``: a small labelled image dataset in ImageFolder layout, generated from a seed.

The demo and the tests need images a small CNN can learn in about a minute on a CPU, without any
download. Each class is a shape or texture (disc, square, triangle, plus, ring, horizontal/vertical/
diagonal stripes, checker patch, X) drawn at a random position and size, in a random colour, on a
random contrasting background with Gaussian noise; with more than 10 classes each shape is split into
hue bands (``classes=20`` -> 10 shapes x 2 hue bands). Nothing about a class is constant per pixel, so
a model has to learn shape, not a colour lookup.

Layout::

    <out>/manifest.json          request, sha256 over all files, class names, counts
    <out>/train/<class>/<i>.png
    <out>/val/<class>/<i>.png

Image ``i`` of class ``c`` in a split depends only on ``(seed, split, c, i)``, so a bigger dataset
extends a smaller one. Idempotent: when ``<out>`` already holds the same request with an intact hash,
it is returned as is (``reused: true``); otherwise it is regenerated in a sibling temp folder and
swapped in, so ``<out>`` is never half-written.

Preset ``hard`` (for benchmarks where pruning choices must show in the accuracy): the object varies more in
scale (0.12-0.36 of the image) and contrast (foreground and background values may be close), the background
is a random texture (a sinusoidal grating in two colours plus blotches) instead of a flat colour, and one or
two distractors (smaller shapes of other classes, in other colours) are drawn behind the object, so the class
is the largest shape, not any shape. ``easy`` (the default) is the original set, image for image.

Request ``{out, classes=10, trainPerClass, valPerClass, imageSize=32, seed=0, preset="easy"}``;
result ``{root, train, val, classes, trainCount, valCount, imageSize, sha256, reused}``.
"""

from __future__ import annotations

import colorsys
import hashlib
import json
import shutil
from pathlib import Path
from typing import Any, Literal

import numpy as np
from PIL import Image
from pydantic import BaseModel, Field

from . import atomic
from .jobs import parse_request
from .protocol import Emitter, RequestError, request_config

__all__ = ["MakeDatasetRequest", "PATTERNS", "run", "render_image"]

MANIFEST = "manifest.json"
MANIFEST_FORMAT = "agentic-synthetic-dataset/1"
PATTERNS = ("disc", "square", "triangle", "plus", "ring", "hstripes", "vstripes", "checker", "dstripes", "x")
SPLITS = ("train", "val")


class MakeDatasetRequest(BaseModel):
    model_config = request_config(populate_by_name=False)

    out: str = Field(min_length=1)
    classes: int = Field(10, ge=2, le=100)
    train_per_class: int = Field(ge=1, le=100_000)
    val_per_class: int = Field(ge=1, le=100_000)
    image_size: int = Field(32, ge=8, le=512)
    seed: int = Field(0, ge=0)
    preset: Literal["easy", "hard"] = "easy"


def class_names(classes: int) -> list[str]:
    bands = -(-classes // len(PATTERNS))
    names = []
    for c in range(classes):
        pattern = PATTERNS[c % len(PATTERNS)]
        suffix = f"-hue{c // len(PATTERNS)}" if bands > 1 else ""
        names.append(f"{c:02d}-{pattern}{suffix}")
    return names


def _hsv(h: float, s: float, v: float) -> np.ndarray:
    return np.array(colorsys.hsv_to_rgb(h % 1.0, s, v), dtype=np.float32)


def _mask(
    pattern: str, size: int, rng: np.random.Generator, scale: tuple[float, float] = (0.18, 0.32)
) -> np.ndarray:
    """A float mask in [0, 1] of ``pattern`` at a random centre and a radius of ``scale`` x size."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    r = size * rng.uniform(*scale)
    cy, cx = rng.uniform(r, size - r, size=2)
    dy, dx = yy - cy, xx - cx
    inside_box = (np.abs(dy) <= r) & (np.abs(dx) <= r)
    period = max(2.0, r * rng.uniform(0.45, 0.65))
    arm = r * rng.uniform(0.25, 0.38)
    if pattern == "disc":
        m = dx**2 + dy**2 <= r**2
    elif pattern == "square":
        m = (np.abs(dy) <= r * 0.85) & (np.abs(dx) <= r * 0.85)
    elif pattern == "triangle":
        # Apex up: rows widen linearly from the apex to the base.
        t = (dy + r) / (2 * r)
        m = (t >= 0) & (t <= 1) & (np.abs(dx) <= t * r)
    elif pattern == "plus":
        m = inside_box & ((np.abs(dy) <= arm / 2) | (np.abs(dx) <= arm / 2))
    elif pattern == "ring":
        d = np.sqrt(dx**2 + dy**2)
        m = (d <= r) & (d >= r * 0.55)
    elif pattern == "hstripes":
        m = inside_box & (np.floor(dy / (period / 2)) % 2 == 0)
    elif pattern == "vstripes":
        m = inside_box & (np.floor(dx / (period / 2)) % 2 == 0)
    elif pattern == "checker":
        m = inside_box & ((np.floor(dy / (period / 2)) + np.floor(dx / (period / 2))) % 2 == 0)
    elif pattern == "dstripes":
        m = inside_box & (np.floor((dx + dy) / (period / 1.4)) % 2 == 0)
    elif pattern == "x":
        m = inside_box & ((np.abs(dx - dy) <= arm / 1.4) | (np.abs(dx + dy) <= arm / 1.4))
    else:  # pragma: no cover - PATTERNS is closed
        raise ValueError(pattern)
    return m.astype(np.float32)


def _class_hue(class_index: int, classes: int, rng: np.random.Generator) -> float:
    """The foreground hue: free with 10 classes or fewer, else inside the class's hue band."""
    bands = -(-classes // len(PATTERNS))
    if bands > 1:
        # Keep a gap between hue bands so neighbouring classes stay separable.
        return (class_index // len(PATTERNS) + rng.uniform(0.1, 0.9)) / bands
    return rng.uniform()


def render_image(
    class_index: int, classes: int, size: int, rng: np.random.Generator, preset: str = "easy"
) -> np.ndarray:
    """One ``size x size x 3`` uint8 image of ``class_index``, drawing everything from ``rng``."""
    if preset == "hard":
        return _render_hard(class_index, classes, size, rng)
    pattern = PATTERNS[class_index % len(PATTERNS)]
    hue = _class_hue(class_index, classes, rng)
    dark_background = rng.uniform() < 0.5
    bg_v = rng.uniform(0.05, 0.35) if dark_background else rng.uniform(0.65, 0.95)
    fg_v = rng.uniform(0.7, 1.0) if dark_background else rng.uniform(0.1, 0.4)
    bg = _hsv(rng.uniform(), rng.uniform(0.0, 0.5), bg_v)
    fg = _hsv(hue, rng.uniform(0.55, 1.0), fg_v)
    m = _mask(pattern, size, rng)[..., None]
    img = bg * (1 - m) + fg * m
    img = img + rng.normal(0.0, rng.uniform(0.03, 0.09), size=img.shape).astype(np.float32)
    return (np.clip(img, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def _texture(size: int, rng: np.random.Generator, v: float) -> np.ndarray:
    """A ``size x size x 3`` background: a grating between two colours of value about ``v``, plus blotches."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    angle = rng.uniform(0, np.pi)
    freq = rng.uniform(0.5, 3.0) * 2 * np.pi / size
    wave = 0.5 + 0.5 * np.sin(freq * (np.cos(angle) * xx + np.sin(angle) * yy) + rng.uniform(0, 2 * np.pi))
    c1 = _hsv(rng.uniform(), rng.uniform(0.0, 0.6), np.clip(v + rng.uniform(-0.15, 0.15), 0, 1))
    c2 = _hsv(rng.uniform(), rng.uniform(0.0, 0.6), np.clip(v + rng.uniform(-0.15, 0.15), 0, 1))
    img = c1 * wave[..., None] + c2 * (1 - wave[..., None])
    for _ in range(int(rng.integers(1, 4))):
        cy, cx = rng.uniform(0, size, size=2)
        r = size * rng.uniform(0.1, 0.3)
        blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r * r))[..., None]
        img = img * (1 - 0.5 * blob) + _hsv(rng.uniform(), rng.uniform(0, 0.6), v) * 0.5 * blob
    return img.astype(np.float32)


def _render_hard(class_index: int, classes: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """The ``hard`` preset: textured background, distractors behind, the class's shape largest, on top."""
    pattern = PATTERNS[class_index % len(PATTERNS)]
    hue = _class_hue(class_index, classes, rng)
    dark_background = rng.uniform() < 0.5
    bg_v = rng.uniform(0.1, 0.45) if dark_background else rng.uniform(0.55, 0.9)
    # Contrast from clear to faint: the value gap is 0.2-0.7.
    gap = rng.uniform(0.2, 0.7)
    fg_v = float(np.clip(bg_v + gap if dark_background else bg_v - gap, 0.0, 1.0))
    img = _texture(size, rng, bg_v)
    for _ in range(int(rng.integers(1, 3))):
        other = PATTERNS[(class_index + int(rng.integers(1, len(PATTERNS)))) % len(PATTERNS)]
        d = _mask(other, size, rng, scale=(0.08, 0.13))[..., None]
        colour = _hsv(rng.uniform(), rng.uniform(0.3, 1.0), rng.uniform(0.2, 1.0))
        img = img * (1 - d) + colour * d
    fg = _hsv(hue, rng.uniform(0.45, 1.0), fg_v)
    m = _mask(pattern, size, rng, scale=(0.16, 0.36))[..., None]
    img = img * (1 - m) + fg * m
    img = img + rng.normal(0.0, rng.uniform(0.03, 0.1), size=img.shape).astype(np.float32)
    return (np.clip(img, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def _split_id(split: str) -> int:
    return SPLITS.index(split)


def _content_hash(root: Path) -> str:
    """sha256 over ``relative path NUL sha256(file)`` of every file but the manifest, in sorted order."""
    h = hashlib.sha256()
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.name != MANIFEST)
    for p in files:
        h.update(p.relative_to(root).as_posix().encode())
        h.update(b"\0")
        h.update(hashlib.sha256(p.read_bytes()).digest())
    return h.hexdigest()


def _request_json(req: MakeDatasetRequest) -> dict[str, Any]:
    data = req.model_dump(by_alias=True)
    data["out"] = str(Path(req.out).resolve())
    return data


def _result(root: Path, manifest: dict[str, Any], reused: bool) -> dict[str, Any]:
    return {
        "root": str(root),
        "train": str(root / "train"),
        "val": str(root / "val"),
        "classes": manifest["classes"],
        "trainCount": manifest["trainCount"],
        "valCount": manifest["valCount"],
        "imageSize": manifest["request"]["imageSize"],
        "sha256": manifest["sha256"],
        "reused": reused,
    }


def _existing(root: Path, request: dict[str, Any]) -> dict[str, Any] | None:
    """The manifest of ``root`` when it holds exactly this request, intact; else None."""
    try:
        manifest = json.loads((root / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    if manifest.get("format") != MANIFEST_FORMAT or manifest.get("request") != request:
        return None
    return manifest if _content_hash(root) == manifest.get("sha256") else None


def run(request: dict[str, Any], emit: Emitter) -> dict[str, Any]:
    req = parse_request(MakeDatasetRequest, request)
    root = Path(req.out).resolve()
    wanted = _request_json(req)
    if root.exists():
        if not root.is_dir():
            raise RequestError("out", f"{str(root)!r} exists and is not a folder")
        manifest = _existing(root, wanted)
        if manifest is not None:
            emit.progress("make-dataset", 1.0, reused=True)
            return _result(root, manifest, reused=True)
        if any(root.iterdir()) and not (root / MANIFEST).is_file():
            # Never delete a folder this job did not make.
            raise RequestError("out", f"{str(root)!r} is not empty and holds no dataset made by make-dataset")

    names = class_names(req.classes)
    counts = {"train": req.train_per_class, "val": req.val_per_class}
    total = req.classes * (req.train_per_class + req.val_per_class)
    tmp = atomic.temp_path(root)
    if tmp.exists():
        shutil.rmtree(tmp)
    done = 0
    try:
        for split in SPLITS:
            for c, name in enumerate(names):
                folder = tmp / split / name
                folder.mkdir(parents=True)
                for i in range(counts[split]):
                    rng = np.random.default_rng([req.seed, _split_id(split), c, i])
                    pixels = render_image(c, req.classes, req.image_size, rng, req.preset)
                    Image.fromarray(pixels, mode="RGB").save(folder / f"{i:05d}.png", format="PNG")
                    done += 1
                emit.progress("make-dataset", done / total, split=split, className=name)
        manifest = {
            "format": MANIFEST_FORMAT,
            "request": wanted,
            "sha256": _content_hash(tmp),
            "classes": names,
            "trainCount": req.classes * req.train_per_class,
            "valCount": req.classes * req.val_per_class,
        }
        # Inside the temp folder, which is swapped in whole: the manifest needs no write of its own.
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        atomic.replace_dir(tmp, root)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return _result(root, manifest, reused=False)
