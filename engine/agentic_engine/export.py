"""``export``: write a model (dense or pruned) to ONNX, the one export function profile and prune use too.

The file keeps every Conv/Gemm/MatMul at the shape the MAC counter saw (eval mode, no BN folding or other
rewrites), so the TS ONNX profiler counts the same MACs. Input ``input`` [batch, C, H, W], output ``logits``
[batch, classes], dynamic batch axis.
"""

from __future__ import annotations

import io
import warnings
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn
from pydantic import BaseModel, Field

from . import atomic
from .cache import load_model
from .jobs import parse_request
from .models import ModelSpec
from .protocol import Emitter, EngineError, RequestError, log, request_config

__all__ = ["ExportRequest", "export_onnx", "run"]


class ExportRequest(BaseModel):
    model_config = request_config()

    model: ModelSpec
    input_shape: list[int] | None = None
    out: str = Field(min_length=1)
    opset: int = Field(default=17, ge=17)


def export_onnx(
    model: nn.Module, input_shape: list[int], path: str | Path, opset: int = 17, field: str = "out"
) -> Path:
    """Export ``model`` (left in eval mode) to ``path``, atomically (:func:`atomic.write_with`)."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise RequestError(field, f"cannot create {path.parent}: {e}") from None
    was_training = model.training
    model.eval()

    def write(tmp: Path) -> None:
        # The TorchScript exporter prints diagnostics on stdout, which belongs to the protocol.
        with warnings.catch_warnings(), redirect_stdout(io.StringIO()) as captured, torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                model,
                (torch.zeros(*input_shape),),
                str(tmp),
                dynamo=False,
                opset_version=opset,
                input_names=["input"],
                output_names=["logits"],
                dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
                do_constant_folding=True,
            )
        if captured.getvalue().strip():
            log(captured.getvalue().strip())

    try:
        atomic.write_with(path, write)
    except Exception as e:  # noqa: BLE001 - surface exporter failures as one typed error
        raise EngineError(f"ONNX export failed: {type(e).__name__}: {e}", type="ExportFailed") from e
    finally:
        model.train(was_training)
    return path


def run(request: dict[str, Any], emit: Emitter) -> dict[str, Any]:
    req = parse_request(ExportRequest, request)
    entry, _ = load_model(req.model, req.input_shape, emit)
    shape = [req.input_shape[0] if req.input_shape else 1, *entry.input_shape[1:]]
    emit.progress("exporting", None)
    path = export_onnx(entry.model, shape, req.out, req.opset)
    ref = emit.artifact("onnx", path)
    return {"onnx": ref, "macs": entry.count.macs, "params": entry.count.params}
