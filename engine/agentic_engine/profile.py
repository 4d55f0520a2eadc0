"""``profile``: architecture, MAC distribution and pruning structure of a model (the Profiling Agent's data).

See PROTOCOL.md for the request and the Profile it returns.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from .cache import load_model
from .export import export_onnx
from .graph import isomorphic_classes
from .jobs import parse_request
from .macs import layer_rows
from .models import ModelSpec
from .protocol import Emitter, request_config

__all__ = ["ProfileRequest", "run"]


class ProfileRequest(BaseModel):
    model_config = request_config()

    model: ModelSpec
    input_shape: list[int] | None = None
    export_onnx: str | None = Field(default=None, min_length=1)
    opset: int = Field(default=17, ge=17)


def run(request: dict[str, Any], emit: Emitter) -> dict[str, Any]:
    req = parse_request(ProfileRequest, request)
    entry, _ = load_model(req.model, req.input_shape, emit, with_groups=True)
    shape = [req.input_shape[0] if req.input_shape else 1, *entry.input_shape[1:]]
    groups = entry.ensure_groups()
    layer_macs: dict[str, int] = {}
    for layer in entry.count.layers:
        layer_macs[layer.name] = layer_macs.get(layer.name, 0) + layer.macs
    result: dict[str, Any] = {
        "model": req.model.name,
        "inputShape": shape,
        "macs": entry.count.macs,
        "params": entry.count.params,
        "layers": layer_rows(entry.count),
        "stages": entry.stages,
        "groups": [g.row() for g in groups],
        "isomorphicClasses": isomorphic_classes(groups, layer_macs),
        "protected": entry.protected,
    }
    if req.export_onnx is not None:
        emit.progress("exporting", None)
        path = export_onnx(entry.model, shape, req.export_onnx, req.opset, field="exportOnnx")
        result["onnx"] = emit.artifact("onnx", path)
    return result
