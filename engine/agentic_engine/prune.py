"""``prune``: apply a Strategy to a model with torch-pruning, check, measure and save the result.

One trial: copy the (cached) dense model -> trace its dependency graph -> MetaPruner with the strategy's
importance, ratios, protected + ignored layers (isomorphic ranking when asked) -> fix ViT attention
attributes -> forward check (shape, finite) while counting MACs -> save state_dict + pruning history +
strategy -> optional ONNX and accuracy proxy (on the train/ calibration sample, :mod:`calibration`).
See PROTOCOL.md for the request and result.
"""

from __future__ import annotations

import copy
import difflib
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch_pruning as tp
from pydantic import BaseModel, Field

from . import pruned_folder
from .attention import attention_modules, set_attention_shape
from .cache import DenseModel, load_model
from .calibration import calibration_batches, check_classes
from .export import export_onnx
from .graph import ROOT_TYPES, GroupInfo, num_heads_of, out_channels_of, quiet_unwrapped_parameters
from .jobs import parse_request
from .macs import count_macs, stage_table
from .models import ModelSpec, stage_roots
from .protocol import Emitter, EngineError, RequestError, request_config
from .strategy import Strategy, VitOptions

__all__ = [
    "PruneRequest",
    "Calibration",
    "run",
    "apply_strategy",
    "build_pruner",
    "check_strategy_names",
    "load_calibration",
    "kept_channels",
]


class Calibration(BaseModel):
    """Which images calibrate: ``batches x batchSize`` of ``<dataset>/train`` (:mod:`calibration`)."""

    model_config = request_config()

    dataset: str = Field(min_length=1)  # the dataset root (holding train/ and val/), not a split folder
    # The same bounds as the campaign file's dataset.calibrationBatches / calibrationBatchSize.
    batches: int = Field(ge=1, le=1000)
    batch_size: int = Field(ge=1, le=4096)


class PruneRequest(BaseModel):
    model_config = request_config()

    model: ModelSpec
    strategy: Strategy
    input_shape: list[int] | None = None
    out_dir: str = Field(min_length=1)
    export_onnx: bool = False
    opset: int = Field(default=17, ge=17)
    calibration: Calibration | None = None
    seed: int = 0


def _nearest(name: str, candidates: list[str]) -> str:
    near = difflib.get_close_matches(name, candidates, n=3, cutoff=0.0)
    return ", ".join(near)


def _check_names(
    names: list[str], modules: dict[str, nn.Module], field: str, leaf_types: tuple | None = None
) -> None:
    known = [n for n in modules if n]
    for name in names:
        module = modules.get(name) if name else None
        if module is None:
            raise RequestError(field, f"no layer named {name!r}; nearest: {_nearest(name, known)}")
        if leaf_types is not None and not isinstance(module, leaf_types):
            layers = [n for n, m in modules.items() if isinstance(m, leaf_types)]
            raise RequestError(
                field,
                f"{name!r} is a {type(module).__name__}, not a Conv/Linear layer; nearest layers: "
                f"{_nearest(name, layers)}",
            )


def check_strategy_names(strategy: Strategy, modules: dict[str, nn.Module], field: str = "strategy") -> None:
    """A RequestError naming ``<field>.<key>`` for a layer the model lacks or a criterion it cannot use."""
    _check_names(strategy.ignored_layers or [], modules, f"{field}.ignoredLayers")
    _check_names(list(strategy.stage_ratios or {}), modules, f"{field}.stageRatios")
    _check_names(list(strategy.layer_ratios or {}), modules, f"{field}.layerRatios", (nn.Conv2d, nn.Linear))
    if strategy.importance == "bn_scale" and not any(
        isinstance(m, nn.modules.batchnorm._BatchNorm) for m in modules.values()
    ):
        raise RequestError(f"{field}.importance", "'bn_scale' ranks by BatchNorm scales; this model has none")


def load_calibration(
    cal: Calibration, shape: list[int], seed: int, num_classes: int
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The seeded train/ calibration batches; a RequestError if the dataset's classes do not fit the model."""
    index, batches = calibration_batches(cal.dataset, cal.batches, cal.batch_size, shape, seed)
    check_classes(index, num_classes, "calibration.dataset")
    return batches


def kept_channels(model: nn.Module, groups: list[GroupInfo]) -> list[int]:
    """The output channels each dense group's root layer keeps in ``model`` (pruned), in ``groups`` order."""
    modules = dict(model.named_modules())
    return [out_channels_of(modules[g.root_layer]) for g in groups]


def _importance(name: str) -> tp.importance.Importance:
    if name == "l1":
        return tp.importance.GroupMagnitudeImportance(p=1)
    if name == "l2":
        return tp.importance.GroupMagnitudeImportance(p=2)
    if name == "taylor":
        return tp.importance.GroupTaylorImportance()
    if name == "bn_scale":
        return tp.importance.BNScaleImportance()
    if name == "lamp":
        return tp.importance.LAMPImportance(p=2)
    return tp.importance.RandomImportance()


def _accumulate_gradients(model: nn.Module, batches: list[tuple[torch.Tensor, torch.Tensor]]) -> None:
    model.zero_grad(set_to_none=True)
    with torch.enable_grad():
        for x, y in batches:
            F.cross_entropy(model(x), y).backward()


def _accuracy(model: nn.Module, batches: list[tuple[torch.Tensor, torch.Tensor]]) -> dict[str, Any]:
    top1 = top5 = count = 0
    with torch.no_grad():
        for x, y in batches:
            logits = model(x)
            k = min(5, logits.shape[-1])
            best = logits.topk(k, dim=-1).indices
            top1 += int((best[:, 0] == y).sum())
            top5 += int((best == y[:, None]).any(dim=-1).sum())
            count += int(y.numel())
    return {"top1": top1 / max(count, 1), "top5": top5 / max(count, 1), "count": count}


class _Field:
    """Which request field a too-aggressive group ratio is blamed on."""

    def __init__(self, strategy: Strategy) -> None:
        self.layers = strategy.layer_ratios or {}
        self.stages = strategy.stage_ratios or {}

    def __call__(self, layer: str) -> str:
        if layer in self.layers:
            return f"strategy.layerRatios.{layer}"
        for prefix in self.stages:
            if layer == prefix or layer.startswith(prefix + "."):
                return f"strategy.stageRatios.{prefix}"
        return "strategy.pruningRatio"


def _guard_empty_groups(pruner: tp.pruner.BasePruner, strategy: Strategy) -> None:
    """torch-pruning silently skips a group it would empty; a strategy asking for that is a bad request."""
    graph = pruner.DG
    original = graph.check_pruning_group
    blame = _Field(strategy)

    def check(group: Any) -> bool:
        if original(group):
            return True
        for dep, idxs in group:
            name = graph._module2name.get(dep.target.module)
            if name is None or not graph.is_out_channel_pruning_fn(dep.handler):
                continue
            channels = graph.get_out_channels(dep.target.module)
            if channels is not None and channels <= len(idxs):
                root = graph._module2name.get(group[0].dep.target.module, name)
                raise RequestError(
                    blame(root),
                    f"the strategy would remove every channel of the group at {name!r} ({channels} channels; "
                    f"roundTo={strategy.round_to}); lower the ratio or roundTo",
                )
        return False

    graph.check_pruning_group = check  # instance attribute shadows the method for this pruner only


def build_pruner(
    model: nn.Module, strategy: Strategy, input_shape: list[int], protected: list[str]
) -> tuple[tp.pruner.BasePruner, dict[str, nn.Module]]:
    """torch-pruning's pruner for ``strategy`` on ``model`` (nothing pruned yet), and the timm attention
    modules by name. One home for the mapping Strategy -> BasePruner, shared by ``prune`` and the dry run."""
    modules = dict(model.named_modules())
    vit = strategy.vit or VitOptions()
    ignored: list[nn.Module] = [modules[n] for n in protected]
    ignored += [modules[n] for n in strategy.ignored_layers or []]
    attentions = attention_modules(model)
    if attentions and not vit.prune_heads and not vit.prune_head_dims:
        ignored += [m.qkv for m in attentions.values()]
    ratio_dict: dict[nn.Module, float] = {}
    for prefix, ratio in (strategy.stage_ratios or {}).items():
        ratio_dict[modules[prefix]] = ratio
    for name, ratio in (strategy.layer_ratios or {}).items():
        ratio_dict[modules[name]] = ratio
    num_heads = num_heads_of(model)
    with torch.enable_grad(), quiet_unwrapped_parameters():
        pruner = tp.pruner.BasePruner(
            model,
            torch.zeros(1, *input_shape[1:]),
            importance=_importance(strategy.importance),
            global_pruning=strategy.global_pruning,
            pruning_ratio=strategy.pruning_ratio,
            pruning_ratio_dict=ratio_dict or None,
            max_pruning_ratio=strategy.max_layer_ratio if strategy.max_layer_ratio is not None else 1.0,
            iterative_steps=strategy.iterative_steps,
            ignored_layers=ignored,
            round_to=strategy.round_to if strategy.round_to > 1 else None,
            isomorphic=strategy.isomorphic,
            # Fresh dicts: torch-pruning's defaults are shared mutable dicts it writes into, which would leak
            # modules from one trial into the next in warm mode.
            in_channel_groups={},
            out_channel_groups={},
            num_heads=num_heads,
            prune_num_heads=vit.prune_heads,
            prune_head_dims=vit.prune_head_dims,
            head_pruning_ratio=vit.head_ratio or 0.0,
            root_module_types=ROOT_TYPES,
        )
    return pruner, attentions


def apply_strategy(
    model: nn.Module,
    strategy: Strategy,
    input_shape: list[int],
    protected: list[str],
    emit: Emitter | None = None,
    calibration: list[tuple[torch.Tensor, torch.Tensor]] | None = None,
) -> tuple[list[list[Any]], dict[str, dict[str, int]]]:
    """Prune ``model`` in place; returns (torch-pruning history, ``{attention: {numHeads, headDim}}``)."""
    pruner, attentions = build_pruner(model, strategy, input_shape, protected)
    _guard_empty_groups(pruner, strategy)
    for step in range(strategy.iterative_steps):
        if emit:
            emit.progress(
                "pruning", step / strategy.iterative_steps, step=step + 1, of=strategy.iterative_steps
            )
        if calibration is not None:
            _accumulate_gradients(model, calibration)
        pruner.step()
    model.zero_grad(set_to_none=True)
    attention: dict[str, dict[str, int]] = {}
    for name, attn in attentions.items():
        heads = int(pruner.num_heads.get(attn.qkv, attn.num_heads))
        head_dim = attn.qkv.out_features // 3 // heads
        set_attention_shape(attn, heads, head_dim)
        attention[name] = {"numHeads": heads, "headDim": head_dim}
    history = [[str(n), bool(out), [int(i) for i in idxs]] for n, out, idxs in pruner.pruning_history()]
    return history, attention


def _previous_history(spec: ModelSpec) -> tuple[dict[str, Any] | None, list[list[Any]]]:
    """When pruning an already pruned model, its history comes first in the new one."""
    directory = pruned_folder.folder_of(spec)
    if directory is None:
        return None, []
    saved = pruned_folder.read(directory, "model.pruned" if spec.pruned is not None else "model.weights")
    return saved.dense_spec, saved.history


def _forward_check(model: nn.Module, shape: list[int], num_classes: int, seed: int) -> Any:
    example = torch.randn(*shape, generator=torch.Generator().manual_seed(seed))
    try:
        count = count_macs(model, example)
    except RuntimeError as e:
        raise EngineError(f"pruned model's forward pass failed: {e}", type="ForwardCheckFailed") from e
    out = count.output
    expected = [shape[0], num_classes]
    if not isinstance(out, torch.Tensor) or list(out.shape) != expected:
        got = list(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise EngineError(f"pruned model's output is {got}, expected {expected}", type="ForwardCheckFailed")
    if not bool(torch.isfinite(out).all()):
        raise EngineError("pruned model's output has NaN or Inf values", type="ForwardCheckFailed")
    return count


def run(request: dict[str, Any], emit: Emitter) -> dict[str, Any]:
    started = time.perf_counter()
    req = parse_request(PruneRequest, request)
    strategy = req.strategy
    strategy.check()
    if strategy.importance == "taylor" and req.calibration is None:
        raise RequestError("calibration", "importance 'taylor' needs gradients: give calibration data")

    entry, warm = load_model(req.model, req.input_shape, emit, with_groups=True)
    dense: DenseModel = entry
    shape = [req.input_shape[0] if req.input_shape else 1, *dense.input_shape[1:]]
    modules = dict(dense.model.named_modules())
    check_strategy_names(strategy, modules)
    calibration = None
    if req.calibration is not None:
        emit.progress("calibrating", None)
        calibration = load_calibration(req.calibration, shape, req.seed, dense.num_classes)
    out_dir = Path(req.out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise RequestError("outDir", f"cannot create {req.out_dir!r}: {e}") from None

    torch.manual_seed(req.seed)
    model = copy.deepcopy(dense.model)
    history, attention = apply_strategy(
        model,
        strategy,
        dense.input_shape,
        [p["layer"] for p in dense.protected],
        emit,
        calibration if strategy.importance == "taylor" else None,
    )
    model.eval()

    emit.progress("checking", None)
    count = _forward_check(model, shape, dense.num_classes, req.seed)
    groups = dense.ensure_groups()
    kept = [
        {"groupId": g.id, "rootLayer": g.root_layer, "before": g.channels, "after": after}
        for g, after in zip(groups, kept_channels(model, groups), strict=True)
    ]

    emit.progress("saving", None)
    prior_spec, prior_history = _previous_history(req.model)
    dense_spec = prior_spec or {
        "name": req.model.name,
        "numClasses": dense.num_classes,
        "inputSize": dense.input_shape[2],
    }
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    saved = pruned_folder.SavedPruning(
        dense_spec=dense_spec,
        history=prior_history + history,
        input_shape=dense.input_shape,
        attention=attention,
        torch_pruning=tp.__version__,
    )
    paths = pruned_folder.write(out_dir, state, saved, strategy.to_json())
    state_ref = emit.artifact("state_dict", paths["stateDict"])
    history_ref = emit.artifact("pruning_history", paths["history"])
    strategy_ref = emit.artifact("strategy", paths["strategy"])

    result: dict[str, Any] = {
        "denseMacs": dense.count.macs,
        "denseParams": dense.count.params,
        "macs": count.macs,
        "params": count.params,
        "stages": stage_table(model, count, stage_roots(req.model.name)),
        "denseStages": dense.stages,
        "keptChannels": kept,
        "saved": {
            "dir": str(out_dir.resolve()),
            "stateDict": state_ref,
            "history": history_ref,
            "strategy": strategy_ref,
        },
    }
    if req.export_onnx:
        emit.progress("exporting", None)
        onnx_path = export_onnx(model, shape, out_dir / pruned_folder.ONNX_FILE, req.opset)
        result["onnx"] = emit.artifact("onnx", onnx_path)
    if calibration is not None:
        emit.progress("evaluating", None)
        result["accuracyProxy"] = _accuracy(model, calibration)
    result["forwardCheck"] = {"outputShape": list(count.output.shape), "finite": True}
    result["wallMs"] = int((time.perf_counter() - started) * 1000)
    result["warm"] = warm
    return result
