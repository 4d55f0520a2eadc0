"""``predict``: PyTorch predictions and the exact inputs on disk (for the PyTorch/ONNX Runtime agreement)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from agentic_engine import dataset, predict
from agentic_engine.models import build_model
from agentic_engine.protocol import Emitter, RequestError


class _Sink:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def write(self, s: str) -> None:
        self.lines.append(s)

    def flush(self) -> None: ...


def test_predict_writes_inputs_that_reproduce_its_predictions(tmp_path):
    ds = dataset.run(
        {"out": str(tmp_path / "data"), "classes": 3, "trainPerClass": 2, "valPerClass": 4, "imageSize": 32},
        Emitter(stream=_Sink()),
    )
    out = tmp_path / "inputs.f32"
    torch.manual_seed(0)  # random init: the same seed builds the same weights twice
    r = predict.run(
        {
            "model": {"name": "democnn", "numClasses": 3},
            "dataset": {"root": ds["root"]},
            "count": 6,
            "out": str(out),
        },
        Emitter(stream=_Sink()),
    )
    assert r["shape"] == [6, 3, 32, 32]
    assert len(r["top1"]) == 6 and len(r["labels"]) == 6
    assert sorted(set(r["labels"])) == [0, 1, 2]  # strided sample covers every class
    x = torch.from_numpy(np.fromfile(out, dtype="<f4").reshape(r["shape"]))
    torch.manual_seed(0)
    model, _ = build_model({"name": "democnn", "numClasses": 3})
    with torch.no_grad():
        again = model.eval()(x).argmax(dim=1).tolist()
    assert again == r["top1"]


def test_predict_names_a_missing_dataset(tmp_path):
    with pytest.raises(RequestError) as e:
        predict.run(
            {
                "model": {"name": "democnn"},
                "dataset": {"root": str(tmp_path / "nope")},
                "out": str(tmp_path / "x"),
            },
            Emitter(stream=_Sink()),
        )
    assert e.value.field is not None and e.value.field.startswith("dataset")
