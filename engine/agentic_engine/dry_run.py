"""``prune-dry-run``: the exact MACs and params that ``prune`` would measure, for many strategies, without
pruning the model.

Why it is exact: a prune trial is torch-pruning's BasePruner on a copy of the dense model. Its ``_prune``
first ranks every group on the unpruned weights and only then yields the groups to prune, each with its
channel indices; with one iterative step, pruning a group changes nothing a later group's indices are
computed from (each output dimension belongs to one group). So the dry run builds the same pruner
(:func:`prune.build_pruner`: the same criterion, scopes, ratios, roundTo, maxLayerRatio, ignored and protected
layers, heads), takes the groups it yields without pruning them, and applies them with torch-pruning's own
pruning functions to a copy of the model on the ``meta`` device, whose tensors have shapes but no data. The
engine's one MAC counter then runs on that copy. Shapes, not arithmetic re-derived per layer type: every
module torch-pruning handles (depthwise convs, norms, MultiheadAttention, timm attention, loose parameters
such as ``cls_token``) counts as it would after a real prune.

What it saves per strategy: the deep copy of real weights, tracing the dependency graph (one graph per
request), the weight surgery, the forward check on real data, writing the state dict. Group importances of a
deterministic criterion (l1, l2, lamp, bn_scale; taylor on one request's calibration gradients) are computed
once per request and shared by every strategy with that criterion; ``random`` is drawn per strategy from the
request's seed, as ``prune`` draws it. A strategy with ``iterativeSteps > 1`` re-ranks on pruned weights
between steps, so it is pruned for real on a copy (``method: "surgery"``), still without the forward check
on data or the saving.

Request::

    {"model": {"name": "resnet50"}, "inputShape": [1, 3, 224, 224],
     "strategies": [{"pruningRatio": 0.3, "importance": "l2", "globalPruning": true, "isomorphic": true},
                    {"pruningRatio": 0.4, "importance": "l1", "globalPruning": false, "isomorphic": false}],
     "calibration": {"dataset": "/data/imagenet", "batches": 2, "batchSize": 16}, "seed": 0}

Result: ``denseMacs``, ``denseParams``, and per strategy, in order, ``{macs, params, stages, keptChannels,
method}`` or ``{error: {field, message}}`` when ``prune`` would refuse that strategy (e.g. it would empty a
group); ``wallMs``.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
import torch.nn as nn
import torch_pruning as tp
from pydantic import BaseModel, Field
from torch_pruning.dependency import index_mapping

from .attention import attention_modules, set_attention_shape
from .cache import DenseModel, load_model
from .graph import build_graph
from .jobs import parse_request
from .macs import MacCount, count_macs, stage_table
from .models import ModelSpec, stage_roots
from .protocol import Emitter, RequestError, request_config
from .prune import (
    Calibration,
    _accumulate_gradients,
    _guard_empty_groups,
    apply_strategy,
    build_pruner,
    check_strategy_names,
    kept_channels,
    load_calibration,
)
from .strategy import Strategy

__all__ = ["DryRunRequest", "MAX_STRATEGIES", "run"]

MAX_STRATEGIES = 1000
"""The most strategies one request may screen."""


class DryRunRequest(BaseModel):
    model_config = request_config()

    model: ModelSpec
    strategies: list[Strategy] = Field(min_length=1, max_length=MAX_STRATEGIES)
    input_shape: list[int] | None = None
    calibration: Calibration | None = None
    seed: int = 0


class _SharedImportance(tp.importance.Importance):
    """A criterion whose per-group scores are computed once and reused by every pruner of one request.

    Keyed by the group's root (module and pruning function): a group enumerated on the unpruned graph always
    holds the same layers with all their channels, whatever the strategy ignores or how it scopes ranking.
    """

    def __init__(self, inner: tp.importance.Importance, scores: dict[Any, torch.Tensor]) -> None:
        self.inner = inner
        self.scores = scores

    def __call__(self, group: Any) -> torch.Tensor:
        root = group[0].dep
        key = (root.target.module, root.handler)
        if key not in self.scores:
            self.scores[key] = self.inner(group)
        return self.scores[key]


@contextmanager
def _planning_on(graph: tp.DependencyGraph) -> Iterator[None]:
    """Within this block BasePruner gets ``graph`` instead of tracing a new one in its constructor, and
    ``get_pruning_group`` skips re-deriving the graph's index mappings before every group.

    Sound because the graph is never pruned: it depends only on the model and the example input (no strategy
    field reaches the trace; ignored layers apply when groups are enumerated), and its index mappings
    (concat offsets, split sizes, reshapes) depend only on its unchanged channel counts, derived once when
    the planner is made.
    """
    build, remap = tp.DependencyGraph.build_dependency, index_mapping.update_index_mapping
    tp.DependencyGraph.build_dependency = lambda self, *args, **kwargs: graph  # type: ignore[method-assign]
    index_mapping.update_index_mapping = lambda g: None if g is graph else remap(g)
    try:
        yield
    finally:
        tp.DependencyGraph.build_dependency = build  # type: ignore[method-assign]
        index_mapping.update_index_mapping = remap


def _memoize_groups(graph: tp.DependencyGraph) -> None:
    """Every pruner enumerates the graph's groups twice; on an unpruned graph the same ignored layers give
    the same groups, so they are enumerated once per set of ignored layers (an attribute of this graph)."""
    enumerate_groups = graph.get_all_groups
    memo: dict[Any, list[Any]] = {}

    def get_all_groups(ignored_layers: Any = (), root_module_types: Any = ()) -> list[Any]:
        key = (frozenset(id(m) for m in ignored_layers), tuple(root_module_types))
        if key not in memo:
            memo[key] = list(enumerate_groups(list(ignored_layers), root_module_types))
        return memo[key]

    graph.get_all_groups = get_all_groups  # type: ignore[method-assign]


def _apply_to_meta(
    groups: list[Any], graph: tp.DependencyGraph, meta: nn.Module, num_heads: dict[str, int]
) -> None:
    """Apply the groups' channel removals to ``meta`` (modules matched by name), as ``Group.prune`` does."""
    modules = dict(meta.named_modules())
    for group in groups:
        for dep, idxs in group:
            if dep.target.type == tp.ops.OPTYPE.PARAMETER:
                *path, attr = graph._param_to_name[dep.target.module].split(".")
                parent = meta
                for part in path:
                    parent = getattr(parent, part)
                setattr(parent, attr, dep.handler(getattr(parent, attr), idxs))
                continue
            name = graph._module2name.get(dep.target.module)
            if name is not None:  # graph-only ops (add, cat, reshape) hold no weights
                dep.handler(modules[name], idxs)
    for name, attn in attention_modules(meta).items():
        heads = num_heads.get(name, int(attn.num_heads))
        set_attention_shape(attn, heads, attn.qkv.out_features // 3 // heads)


def _result(model: nn.Module, dense: DenseModel, count: MacCount) -> dict[str, Any]:
    """What ``prune`` reports of the pruned ``model``, from its MAC count."""
    return {
        "macs": count.macs,
        "params": count.params,
        "stages": stage_table(model, count, stage_roots(dense.spec.name)),
        "keptChannels": kept_channels(model, dense.ensure_groups()),
    }


_NORMS = (nn.modules.batchnorm._BatchNorm, nn.LayerNorm, nn.GroupNorm)


def _identity(x: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
    return x


class _MetaCopy:
    """A weightless copy of the dense model, pruned per strategy and put back as it was afterwards.

    Putting back beats a deep copy per strategy (~0.1 s for resnet50): torch-pruning's functions never change
    a tensor in place, they assign new parameters and attributes, so restoring each module's attribute dicts
    (shallow copies taken once) restores the model. Norm layers (not counted, shape-preserving) forward as
    the identity while counting, since on ``meta`` a batch norm runs as a slow Python decomposition.
    """

    def __init__(self, model: nn.Module) -> None:
        self.model = copy.deepcopy(model).to("meta")
        self.saved = [(m, self._copy(m.__dict__)) for m in self.model.modules()]

    @staticmethod
    def _copy(attributes: dict[str, Any]) -> dict[str, Any]:
        out = dict(attributes)
        for key in ("_parameters", "_buffers"):
            out[key] = dict(attributes[key])
        return out

    def count(self, example: torch.Tensor) -> MacCount:
        for m in self.model.modules():
            if isinstance(m, _NORMS):
                m.forward = _identity  # type: ignore[method-assign]
        return count_macs(self.model, example)

    def restore(self) -> None:
        for m, d in self.saved:
            m.__dict__.clear()
            m.__dict__.update(self._copy(d))


class _Planner:
    """Screens strategies against one dense model: one graph, one meta template, shared importances."""

    def __init__(
        self, dense: DenseModel, calibration: list[tuple[torch.Tensor, torch.Tensor]] | None, seed: int
    ) -> None:
        self.dense = dense
        self.calibration = calibration
        self.seed = seed
        self.protected = [p["layer"] for p in dense.protected]
        self.graph = build_graph(dense.model, dense.input_shape)
        index_mapping.update_index_mapping(self.graph)
        _memoize_groups(self.graph)
        self.meta = _MetaCopy(dense.model)
        self.scores: dict[str, dict[Any, torch.Tensor]] = {}
        self.has_gradients = False

    def plan(self, strategy: Strategy) -> dict[str, Any]:
        if strategy.iterative_steps > 1:
            return self._surgery(strategy)
        if strategy.importance == "taylor" and not self.has_gradients:
            # The gradients prune accumulates on its copy, here on the pristine model (cleared in close()).
            assert self.calibration is not None
            _accumulate_gradients(self.dense.model, self.calibration)
            self.has_gradients = True
        torch.manual_seed(self.seed)  # as prune seeds before building its pruner: random draws the same
        with _planning_on(self.graph):
            pruner, attentions = build_pruner(
                self.dense.model, strategy, self.dense.input_shape, self.protected
            )
            if strategy.importance != "random":
                scores = self.scores.setdefault(strategy.importance, {})
                pruner.importance = _SharedImportance(pruner.importance, scores)
            _guard_empty_groups(pruner, strategy)
            try:
                groups = list(pruner.step(interactive=True))
            finally:
                self.graph.__dict__.pop("check_pruning_group", None)  # the guard's per-pruner patch
        heads = {name: int(pruner.num_heads.get(a.qkv, a.num_heads)) for name, a in attentions.items()}
        try:
            _apply_to_meta(groups, self.graph, self.meta.model, heads)
            count = self.meta.count(torch.zeros(1, *self.dense.input_shape[1:], device="meta"))
            return {**_result(self.meta.model, self.dense, count), "method": "plan"}
        finally:
            self.meta.restore()

    def _surgery(self, strategy: Strategy) -> dict[str, Any]:
        self._clear_gradients()
        torch.manual_seed(self.seed)
        model = copy.deepcopy(self.dense.model)
        taylor = self.calibration if strategy.importance == "taylor" else None
        apply_strategy(model, strategy, self.dense.input_shape, self.protected, None, taylor)
        model.eval()
        count = count_macs(model, torch.zeros(1, *self.dense.input_shape[1:]))
        return {**_result(model, self.dense, count), "method": "surgery"}

    def _clear_gradients(self) -> None:
        if self.has_gradients:
            self.dense.model.zero_grad(set_to_none=True)
            self.has_gradients = False
            self.scores.pop("taylor", None)

    def close(self) -> None:
        self._clear_gradients()


def _refield(error: RequestError, index: int) -> dict[str, Any]:
    field = error.field or "strategy"
    if field == "strategy" or field.startswith("strategy."):
        field = f"strategies.{index}" + field[len("strategy") :]
    message = str(error)
    if error.field and message.startswith(error.field + ": "):
        message = message[len(error.field) + 2 :]
    return {"field": field, "message": message}


def run(request: dict[str, Any], emit: Emitter) -> dict[str, Any]:
    started = time.perf_counter()
    req = parse_request(DryRunRequest, request)
    dense, warm = load_model(req.model, req.input_shape, emit, with_groups=True)
    modules = dict(dense.model.named_modules())
    for i, strategy in enumerate(req.strategies):
        field = f"strategies.{i}"
        strategy.check(field)
        check_strategy_names(strategy, modules, field)
        if strategy.importance == "taylor" and req.calibration is None:
            raise RequestError(
                "calibration", f"{field} uses importance 'taylor', which needs calibration data"
            )
    calibration = None
    if req.calibration is not None and any(s.importance == "taylor" for s in req.strategies):
        emit.progress("calibrating", None)
        shape = [req.input_shape[0] if req.input_shape else 1, *dense.input_shape[1:]]  # as prune reads it
        calibration = load_calibration(req.calibration, shape, req.seed, dense.num_classes)

    planner = _Planner(dense, calibration, req.seed)
    results: list[dict[str, Any]] = []
    try:
        for i, strategy in enumerate(req.strategies):
            emit.progress("screening", i / len(req.strategies), step=i + 1, of=len(req.strategies))
            try:
                results.append(planner.plan(strategy))
            except RequestError as e:
                results.append({"error": _refield(e, i)})
    finally:
        planner.close()
    return {
        "denseMacs": dense.count.macs,
        "denseParams": dense.count.params,
        "results": results,
        "wallMs": int((time.perf_counter() - started) * 1000),
        "warm": warm,
    }
