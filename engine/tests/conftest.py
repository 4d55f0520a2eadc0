"""Shared helpers: run a job in-process and collect its events; a tiny dataset root for calibration."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
import torch

from agentic_engine import cache
from agentic_engine.jobs import run_job
from agentic_engine.protocol import Emitter

torch.set_num_threads(2)


class JobRun:
    def __init__(self, code: int, events: list[dict[str, Any]]) -> None:
        self.code = code
        self.events = events

    @property
    def result(self) -> dict[str, Any]:
        results = [e for e in self.events if e["event"] == "result"]
        assert results, f"no result; events: {self.events[-3:]}"
        return results[0]["data"]

    @property
    def error(self) -> dict[str, Any]:
        errors = [e for e in self.events if e["event"] == "error"]
        assert errors, f"no error; events: {self.events[-3:]}"
        return errors[0]

    def artifacts(self, kind: str | None = None) -> list[dict[str, Any]]:
        return [e for e in self.events if e["event"] == "artifact" and (kind is None or e["kind"] == kind)]


def run(job: str, request: dict[str, Any]) -> JobRun:
    stream = io.StringIO()
    code = run_job(job, request, Emitter(stream=stream))
    events = [json.loads(line) for line in stream.getvalue().splitlines()]
    return JobRun(code, events)


@pytest.fixture
def job():
    return run


@pytest.fixture
def fresh_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(scope="session")
def image_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A dataset root of random 32x32 PNGs, 10 classes: ``train/`` 4 per class, ``val/`` 1 per class.

    Enough for taylor gradients and an accuracy proxy on democnn (calibration reads ``train/``).
    """
    from PIL import Image

    root = tmp_path_factory.mktemp("imagefolder")
    gen = torch.Generator().manual_seed(0)
    for split, per_class in (("train", 4), ("val", 1)):
        for c in range(10):
            (root / split / f"class{c}").mkdir(parents=True)
            for i in range(per_class):
                pixels = torch.randint(0, 256, (32, 32, 3), generator=gen, dtype=torch.uint8).numpy()
                Image.fromarray(pixels).save(root / split / f"class{c}" / f"{i}.png")
    return root


def train_democnn(
    tmp: Path, dataset: dict[str, Any], recipe: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``make-dataset`` of ``dataset`` at ``<tmp>/shapes``, then democnn (one output per class) fine-tuned
    on it with ``recipe`` on the cpu, its model written to ``<tmp>/out``: (make-dataset, finetune) results."""
    from agentic_engine.dataset import run as make_dataset
    from agentic_engine.finetune import run as finetune

    quiet = Emitter(stream=io.StringIO())
    data = make_dataset({"out": str(tmp / "shapes"), **dataset}, quiet)
    res = finetune(
        {
            "model": {"name": "democnn", "numClasses": dataset["classes"]},
            "dataset": {"root": data["root"]},
            "recipe": recipe,
            "checkpointDir": str(tmp / "ckpt"),
            "checkpointEverySteps": 1000,
            "outDir": str(tmp / "out"),
            "device": "cpu",
        },
        quiet,
    )
    return data, res


@pytest.fixture(scope="session")
def trained_democnn(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """democnn trained 47 steps (~10-25 s) on 10 synthetic classes, 100 train / 30 val images each.

    One and a half passes over plenty of images: train and val accuracy stay close (no overfitting), so
    a score on train/ is comparable to the val accuracy. Trained once per session, shared by the modules
    that need a model that learned something (calibration, score).
    """
    data, res = train_democnn(
        tmp_path_factory.mktemp("trained-democnn"),
        {"classes": 10, "trainPerClass": 100, "valPerClass": 30},
        {"epochs": 1.5, "batchSize": 32, "lr": 0.003, "optimizer": "adamw", "weightDecay": 5e-4},
    )
    return {"root": Path(data["root"]), "classes": data["classes"], "spec": res["modelSpec"]}
