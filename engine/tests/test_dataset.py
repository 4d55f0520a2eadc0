"""make-dataset: layout, determinism, idempotence, bad input."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from agentic_engine.dataset import PATTERNS, class_names
from agentic_engine.dataset import run as make_dataset
from agentic_engine.protocol import Emitter, RequestError


def _make(out: Path, **fields) -> dict:
    request = {"out": str(out), "trainPerClass": 3, "valPerClass": 2, "classes": 4, "imageSize": 16, **fields}
    return make_dataset(request, Emitter(stream=io.StringIO()))


def test_layout_counts_and_classes(tmp_path: Path) -> None:
    res = _make(tmp_path / "ds")
    root = Path(res["root"])
    assert res["classes"] == ["00-disc", "01-square", "02-triangle", "03-plus"]
    assert (res["trainCount"], res["valCount"]) == (12, 8)
    assert res["train"] == str(root / "train") and res["val"] == str(root / "val")
    for split, per_class in (("train", 3), ("val", 2)):
        assert sorted(p.name for p in (root / split).iterdir()) == res["classes"]
        for name in res["classes"]:
            files = sorted((root / split / name).glob("*.png"))
            assert len(files) == per_class
            with Image.open(files[0]) as im:
                assert im.size == (16, 16) and im.mode == "RGB"
    manifest = json.loads((root / "manifest.json").read_text())
    assert manifest["sha256"] == res["sha256"] and manifest["request"]["classes"] == 4
    assert res["reused"] is False


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    a = _make(tmp_path / "a")
    b = _make(tmp_path / "b")
    c = _make(tmp_path / "c", seed=1)
    assert a["sha256"] == b["sha256"] != c["sha256"]
    rel = "train/02-triangle/00001.png"
    assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes()


def test_images_of_a_class_vary(tmp_path: Path) -> None:
    # Not a colour lookup: images of one class differ in colour and position.
    root = Path(_make(tmp_path / "ds", trainPerClass=6)["root"])
    pixels = [
        np.asarray(Image.open(p), dtype=np.float32) for p in sorted((root / "train/00-disc").glob("*.png"))
    ]
    means = np.array([p.mean(axis=(0, 1)) for p in pixels])
    assert means.std(axis=0).max() > 10


def test_more_classes_than_patterns_use_hue_bands() -> None:
    names = class_names(len(PATTERNS) * 2)
    assert names[0] == "00-disc-hue0" and names[len(PATTERNS)] == f"{len(PATTERNS):02d}-disc-hue1"
    assert len(set(names)) == len(names)


def test_idempotent_then_regenerates_on_change(tmp_path: Path) -> None:
    out = tmp_path / "ds"
    first = _make(out)
    probe = out / "val/01-square/00000.png"
    mtime = probe.stat().st_mtime_ns
    again = _make(out)
    assert again["reused"] is True and again["sha256"] == first["sha256"]
    assert probe.stat().st_mtime_ns == mtime

    probe.write_bytes(b"corrupt")  # a damaged dataset is rebuilt, not trusted
    repaired = _make(out)
    assert repaired["reused"] is False and repaired["sha256"] == first["sha256"]

    bigger = _make(out, valPerClass=3)
    assert bigger["reused"] is False and bigger["valCount"] == 12
    # Image i of a class depends only on (seed, split, class, i): a bigger dataset extends a smaller one.
    assert (out / "val/01-square/00000.png").read_bytes() == (
        tmp_path / "ds" / "val/01-square/00000.png"
    ).read_bytes()
    assert not list(tmp_path.glob(".ds.*")), "no temp folders left behind"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"classes": 1}, "classes"),
        ({"trainPerClass": 0}, "trainPerClass"),
        ({"imageSize": 4}, "imageSize"),
        ({"seed": -1}, "seed"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_request_names_the_field(tmp_path: Path, fields: dict, field: str) -> None:
    with pytest.raises(RequestError) as e:
        _make(tmp_path / "ds", **fields)
    assert e.value.field == field


def test_refuses_to_overwrite_a_foreign_folder(tmp_path: Path) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.tex").write_text("precious")
    with pytest.raises(RequestError) as e:
        _make(out)
    assert e.value.field == "out"
    assert (out / "thesis.tex").read_text() == "precious"


# The easy preset is the original set image for image: this hash was made by make-dataset before the hard
# preset existed (classes 12, 3 train / 2 val per class, 24 px, seed 5).
EASY_SHA256 = "0af17c7045f20d31868a807a3405edcf7e7a444d1292d07d3dcc33a4d522288d"


def test_easy_preset_is_the_original_set(tmp_path: Path) -> None:
    fields = {"classes": 12, "trainPerClass": 3, "valPerClass": 2, "imageSize": 24, "seed": 5}
    assert _make(tmp_path / "a", **fields)["sha256"] == EASY_SHA256
    assert _make(tmp_path / "b", preset="easy", **fields)["sha256"] == EASY_SHA256


def test_hard_preset_is_deterministic_and_harder(tmp_path: Path) -> None:
    fields = {"classes": 10, "trainPerClass": 6, "valPerClass": 2, "imageSize": 32}
    a = _make(tmp_path / "a", preset="hard", **fields)
    b = _make(tmp_path / "b", preset="hard", **fields)
    easy = _make(tmp_path / "e", **fields)
    assert a["sha256"] == b["sha256"] != easy["sha256"]
    assert a["classes"] == easy["classes"]

    def stats(root: str) -> tuple[float, float]:
        """Mean over images of: background structure (std of 4x4-block means along the border, so pixel
        noise averages out), distinct colours."""
        rough, colours = [], []
        for p in sorted(Path(root, "train").rglob("*.png")):
            x = np.asarray(Image.open(p), dtype=np.float32) / 255.0
            blocks = x.reshape(8, 4, 8, 4, 3).mean(axis=(1, 3))
            border = np.concatenate([blocks[0], blocks[-1], blocks[1:-1, 0], blocks[1:-1, -1]])
            rough.append(float(border.std(axis=0).mean()))
            q = (x * 7).round().astype(int).reshape(-1, 3)
            colours.append(len({tuple(c) for c in q}))
        return float(np.mean(rough)), float(np.mean(colours))

    hard_rough, hard_colours = stats(a["root"])
    easy_rough, easy_colours = stats(easy["root"])
    # Textured backgrounds and distractors: rougher borders and more colours per image than flat ones.
    assert hard_rough > 1.3 * easy_rough
    assert hard_colours > 1.3 * easy_colours


def test_unknown_preset_is_refused_naming_the_field(tmp_path: Path) -> None:
    with pytest.raises(RequestError) as err:
        _make(tmp_path / "x", preset="extreme")
    assert err.value.field == "preset"
