"""The pruned-model folder: what ``prune`` writes, ``build_model`` rebuilds, ``finetune`` carries along.

A pruned model is not a state_dict alone: its layers have other widths than the dense model's, so it is
saved as the recipe to rebuild the architecture plus the tensors. Layout (one flat folder)::

    <dir>/state_dict.pt   the pruned model's state_dict (torch.save)
    <dir>/history.json    how to rebuild the architecture (below)
    <dir>/strategy.json   the Strategy that produced it (metadata: not needed to rebuild)
    <dir>/model.onnx      optional ONNX export (prune ``exportOnnx``; finetune does not carry it)

``history.json``, worked example (democnn, one conv lost channels 3 and 7)::

    {"format": "agentic-pruner/pruned-model@1", "torchPruning": "1.6.1",
     "model": {"name": "democnn", "numClasses": 10, "inputSize": 32},     # the *dense* ModelSpec
     "inputShape": [1, 3, 32, 32],
     "history": [["stage1.0.conv1", true, [3, 7]]],      # torch-pruning's [layer, out-channels?, idxs]
     "attention": {}}                                    # timm attention: {name: {numHeads, headDim}}

Rebuilding (``models.build_model``): dense model from ``model`` -> dependency graph at ``inputShape`` ->
replay ``history`` -> set ``attention`` shapes -> load ``state_dict.pt``. Pruning a pruned model again
appends to its history and keeps the dense ``model``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import atomic
from .protocol import RequestError

__all__ = [
    "FORMAT",
    "WEIGHTS_FILE",
    "HISTORY_FILE",
    "STRATEGY_FILE",
    "ONNX_FILE",
    "SavedPruning",
    "folder_of",
    "weights_path",
    "read",
    "write",
    "copy_folder",
]

FORMAT = "agentic-pruner/pruned-model@1"
WEIGHTS_FILE = "state_dict.pt"
HISTORY_FILE = "history.json"
STRATEGY_FILE = "strategy.json"
ONNX_FILE = "model.onnx"


@dataclass(frozen=True)
class SavedPruning:
    """``history.json``, parsed: the dense spec and the pruning to replay on it."""

    dense_spec: dict[str, Any]
    history: list[list[Any]]
    input_shape: list[int] | None = None
    attention: dict[str, dict[str, int]] = field(default_factory=dict)
    torch_pruning: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "torchPruning": self.torch_pruning,
            "model": self.dense_spec,
            "inputShape": self.input_shape,
            "history": self.history,
            "attention": self.attention,
        }


def folder_of(spec: Any) -> str | None:
    """The pruned folder a ModelSpec (object or JSON) names: ``pruned``, or ``weights`` that is a folder."""
    if isinstance(spec, Mapping):
        pruned, weights = spec.get("pruned"), spec.get("weights")
    else:
        pruned, weights = spec.pruned, spec.weights
    if pruned:
        return str(pruned)
    if weights and Path(weights).is_dir():
        return str(weights)
    return None


def weights_path(directory: str | Path) -> Path:
    return Path(directory) / WEIGHTS_FILE


def read(directory: str | Path, field: str) -> SavedPruning:
    """Parse ``<directory>/history.json``; a RequestError naming ``field`` when it is missing or foreign."""
    history_path = Path(directory) / HISTORY_FILE
    if not history_path.is_file():
        raise RequestError(field, f"{str(directory)!r} is not a saved pruned model (no {HISTORY_FILE})")
    try:
        saved = json.loads(history_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise RequestError(field, f"cannot read {history_path}: {e}") from None
    if saved.get("format") != FORMAT:
        raise RequestError(field, f"{history_path} has format {saved.get('format')!r}, expected {FORMAT!r}")
    shape = saved.get("inputShape")
    return SavedPruning(
        dense_spec=saved["model"],
        history=[[str(n), bool(out), [int(i) for i in idxs]] for n, out, idxs in saved.get("history", [])],
        input_shape=[int(v) for v in shape] if shape is not None else None,
        attention={
            name: {"numHeads": int(a["numHeads"]), "headDim": int(a["headDim"])}
            for name, a in saved.get("attention", {}).items()
        },
        torch_pruning=saved.get("torchPruning"),
    )


def write(
    directory: str | Path, state_dict: dict[str, Any], saved: SavedPruning, strategy: dict[str, Any]
) -> dict[str, Path]:
    """Write the folder's three files atomically; their paths as ``{stateDict, history, strategy}``."""
    out = Path(directory)
    return {
        "stateDict": atomic.torch_save(state_dict, out / WEIGHTS_FILE),
        "history": atomic.write_json(out / HISTORY_FILE, saved.to_json()),
        "strategy": atomic.write_json(out / STRATEGY_FILE, strategy, indent=2),
    }


def copy_folder(src: str | Path, dst: str | Path, state_dict: dict[str, Any]) -> Path:
    """A pruned folder at ``dst`` with ``src``'s rebuild files and new weights; returns the weights' path.

    Every file of ``src`` but the weights and ONNX exports is copied (a new state_dict invalidates them).
    """
    src_dir, dst_dir = Path(src), Path(dst)
    dst_dir.mkdir(parents=True, exist_ok=True)
    if src_dir.resolve() != dst_dir.resolve():
        for f in sorted(src_dir.iterdir()):
            if f.is_file() and f.name != WEIGHTS_FILE and not f.name.endswith(".onnx"):
                atomic.copy_file(f, dst_dir / f.name)
    return atomic.torch_save(state_dict, weights_path(dst_dir))
