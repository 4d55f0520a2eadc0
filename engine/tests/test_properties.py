"""Bad-input properties of the engine's requests (issue 16, item 2), with hypothesis on a fixed seed.

For every job, 2,000 requests — a valid one, broken in one to three places (a key deleted, a value
replaced by junk, an unknown key added) — go through the job's own pydantic request model via
:func:`agentic_engine.jobs.parse_request`. Only two outcomes are allowed: a request model (that is then
really valid: it dumps to finite JSON and validates again to itself), or a :class:`RequestError` whose
``field`` is a path in the request (all of it, or all but its last key when that key is missing) and whose
message starts with it. Requests the model refuses also go through :func:`run_job` in-process (exit 2,
one ``error`` event naming the same field); a table of bad requests goes through the real
``agentic-engine`` command (one warm ``serve`` process, and one-shot runs for exit codes).
bench/bad-input-engine.py runs the same generators with more examples and counts the outcomes.
"""

from __future__ import annotations

import copy
import io
import json
import math
import subprocess
import sys
from typing import Any

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from agentic_engine.dataset import MakeDatasetRequest
from agentic_engine.dry_run import DryRunRequest
from agentic_engine.evaluate import EvaluateRequest
from agentic_engine.export import ExportRequest
from agentic_engine.finetune import FinetunePlanRequest, FinetuneRequest
from agentic_engine.jobs import JOBS, parse_request, run_job
from agentic_engine.models import ModelSpec
from agentic_engine.ping import PingRequest
from agentic_engine.predict import PredictRequest
from agentic_engine.profile import ProfileRequest
from agentic_engine.protocol import Emitter, RequestError
from agentic_engine.prune import PruneRequest
from agentic_engine.score import ScoreRequest
from agentic_engine.sensitivity import SensitivityRequest
from agentic_engine.sensitivity import _strategy as sensitivity_strategy

NUM_EXAMPLES = 2000
SEED = 16

_MODEL = {"name": "democnn", "numClasses": 10, "inputSize": 32}
_STRATEGY = {
    "pruningRatio": 0.3,
    "importance": "l2",
    "globalPruning": True,
    "isomorphic": True,
    "roundTo": 8,
    "maxLayerRatio": 0.9,
    "stageRatios": {"features.3": 0.4},
    "ignoredLayers": ["classifier"],
    "iterativeSteps": 1,
    "vit": {"pruneHeads": True, "pruneHeadDims": False, "headRatio": 0.25},
    "rationale": "between #1 and #2",
}

# One valid request per job, with most optional fields present so there is much to break.
VALID: dict[str, tuple[type[BaseModel], dict[str, Any]]] = {
    "ping": (PingRequest, {"echo": "hi", "sleepMs": 0}),
    "profile": (
        ProfileRequest,
        {"model": _MODEL, "inputShape": [1, 3, 32, 32], "exportOnnx": "/w/m.onnx", "opset": 17},
    ),
    "prune": (
        PruneRequest,
        {
            "model": _MODEL,
            "strategy": _STRATEGY,
            "inputShape": [1, 3, 32, 32],
            "outDir": "/w/out",
            "exportOnnx": False,
            "calibration": {"dataset": "/data/shapes", "batches": 1, "batchSize": 8},
            "seed": 0,
        },
    ),
    "export": (
        ExportRequest,
        {"model": _MODEL, "inputShape": [1, 3, 32, 32], "out": "/w/m.onnx", "opset": 17},
    ),
    "finetune": (
        FinetuneRequest,
        {
            "model": _MODEL,
            "dataset": {"root": "/data/shapes", "imageSize": 32},
            "recipe": {"epochs": 1, "batchSize": 16, "lr": 0.01, "maxSteps": 10, "kdAlpha": 0, "seed": 0},
            "checkpointDir": "/w/ckpt",
            "checkpointEverySteps": 5,
            "keepCheckpoints": 3,
            "outDir": "/w/out",
            "device": "cpu",
        },
    ),
    "finetune-plan": (
        FinetunePlanRequest,
        {
            "dataset": {"root": "/data/shapes"},
            "recipe": {"epochs": 2.5, "batchSize": 16, "lr": 0.01, "gradAccumSteps": 2, "maxSteps": 10},
            "gpus": 2,
        },
    ),
    "evaluate": (
        EvaluateRequest,
        {
            "model": _MODEL,
            "dataset": {"root": "/data/shapes", "split": "val"},
            "batchSize": 8,
            "maxImages": 10,
        },
    ),
    "make-dataset": (
        MakeDatasetRequest,
        {"out": "/w/ds", "classes": 10, "trainPerClass": 4, "valPerClass": 2, "imageSize": 32, "seed": 0},
    ),
    "predict": (
        PredictRequest,
        {"model": _MODEL, "dataset": {"root": "/data/shapes"}, "count": 4, "out": "/w/p.json"},
    ),
    "score": (
        ScoreRequest,
        {
            "model": _MODEL,
            "teacher": _MODEL,
            "dataset": {"root": "/data/shapes", "imageSize": 32},
            "mode": "recovery",
            "calibration": {"batches": 2, "batchSize": 16},
            "recovery": {"steps": 20, "batchSize": 16, "lr": 0.001, "kdAlpha": 0.5},
            "scoreImages": 64,
            "seed": 0,
            "workDir": "/w/score",
            "checkpointEverySteps": 10,
            "device": "cpu",
        },
    ),
    "sensitivity": (
        SensitivityRequest,
        {
            "model": _MODEL,
            "inputShape": [1, 3, 32, 32],
            "dataset": {"root": "/data/shapes"},
            "calibration": {"batches": 1, "batchSize": 16},
            "ratios": [0.3, 0.6],
            "baseStrategy": {"importance": "l2", "roundTo": 8},
            "scoreImages": 64,
            "seed": 0,
            "device": "cpu",
        },
    ),
    "prune-dry-run": (
        DryRunRequest,
        {
            "model": _MODEL,
            "strategies": [_STRATEGY, {**_STRATEGY, "pruningRatio": 0.5, "isomorphic": False}],
            "inputShape": [1, 3, 32, 32],
            "calibration": {"dataset": "/data/shapes", "batches": 1, "batchSize": 8},
            "seed": 0,
        },
    ),
}

# Values that break a field: wrong JSON types, strings that look like numbers or booleans, non-finite and
# huge numbers, paths that climb out, nesting.
junk = st.one_of(
    st.sampled_from(
        [None, True, False, 0, -1, 0.5, 1e308, "0.3", "yes", "", "../../evil", "/etc/shadow"]
        + [[], {}, [1, 2, 3]]
    ),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.text(max_size=10),
    st.lists(st.integers(min_value=-3, max_value=10**6), max_size=5),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
)

Path = tuple[Any, ...]


def paths_of(value: Any, prefix: Path = ()) -> list[Path]:
    """Every path to a value inside ``value`` (dict keys, list indices), the root excluded."""
    out: list[Path] = []
    if isinstance(value, dict):
        for k, v in value.items():
            out += [(*prefix, k), *paths_of(v, (*prefix, k))]
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += [(*prefix, i), *paths_of(v, (*prefix, i))]
    return out


def existing_prefix(value: Any, path: list[str]) -> int:
    """How many leading segments of a dotted field path exist in ``value`` (a key may hold dots itself;
    an empty or unprintable key is JSON-quoted)."""
    node, i = value, 0
    while i < len(path):
        if isinstance(node, dict):
            # The longest run of segments that is one key (`stageRatios.features.3` has the key `features.3`).
            for j in range(len(path), i, -1):
                key = ".".join(path[i:j])
                if len(key) >= 2 and key[0] == key[-1] == '"':
                    key = json.loads(key)  # an empty or unprintable key, quoted by jobs.field_path
                if key in node:
                    node, i = node[key], j
                    break
            else:
                return i
        elif isinstance(node, list) and path[i].isdigit() and int(path[i]) < len(node):
            node, i = node[int(path[i])], i + 1
        else:
            return i
    return len(path)


@st.composite
def broken(draw: st.DrawFn, base: dict[str, Any]) -> Any:
    """``base`` broken in 0-3 places (0 for about one case in four), or junk in place of the request."""
    if draw(st.integers(min_value=0, max_value=7)) == 0:
        return copy.deepcopy(draw(junk))
    data: Any = copy.deepcopy(base)
    for _ in range(draw(st.sampled_from([0, 0, 1, 1, 1, 1, 2, 3]))):
        paths = paths_of(data)
        op = draw(st.sampled_from(["delete", "replace", "replace", "add"]))
        if not paths or op == "add":
            parents = [()] + [p for p in paths if isinstance(get(data, p), dict)]
            parent = get(data, draw(st.sampled_from(parents)))
            if isinstance(parent, dict):
                odd_keys = st.sampled_from(["typo", "ratio", "__class__", "model_config"])
                key = draw(odd_keys | st.text(max_size=5))
                parent[key] = copy.deepcopy(draw(junk))
            continue
        p = draw(st.sampled_from(paths))
        parent = get(data, p[:-1])
        if op == "delete":
            del parent[p[-1]]
        else:
            parent[p[-1]] = copy.deepcopy(draw(junk))
    return data


def get(value: Any, path: Path) -> Any:
    for k in path:
        value = value[k]
    return value


def judge(model: type[BaseModel], raw: Any) -> str:
    """``valid`` or ``typed-error``; an AssertionError for any other outcome."""
    try:
        req = parse_request(model, raw)
    except RequestError as e:
        assert e.type == "RequestError" and e.retryable is False
        if e.field is None:
            assert not isinstance(raw, dict), f"a RequestError naming no field for an object request: {e}"
            return "typed-error"
        segments = e.field.split(".")
        assert existing_prefix(raw, segments) >= len(segments) - 1, (
            f"field {e.field!r} is not a path of the request {raw!r}"
        )
        assert str(e).startswith(f"{e.field}: "), str(e)
        assert "\n" not in str(e), f"not one line: {e}"
        return "typed-error"
    for nested in (getattr(req, "model", None), getattr(req, "teacher", None)):
        # Jobs taking `model` as a plain dict parse it as a ModelSpec later (models._as_spec).
        if isinstance(nested, dict):
            try:
                ModelSpec.model_validate(nested)
            except Exception:  # noqa: BLE001 - refused later with a RequestError naming model.<field>
                return "typed-error"
    strategy = getattr(req, "strategy", None)
    if strategy is not None:
        try:
            strategy.check()
        except RequestError as e:
            assert e.field is not None and existing_prefix(raw, e.field.split(".")) >= 2, str(e)
            return "typed-error"
    base = getattr(req, "base_strategy", None)
    if base is not None:
        # sensitivity lays baseStrategy over the defaults before any work: refused there, naming the field.
        try:
            sensitivity_strategy(base, None, 0.0)
        except RequestError as e:
            assert e.field is not None and existing_prefix(raw, e.field.split(".")) >= 1, str(e)
            assert "\n" not in str(e), f"not one line: {e}"
            return "typed-error"
    # Really valid: finite JSON that validates again to the same request.
    dumped = req.model_dump(mode="json", by_alias=True)
    json.dumps(dumped, allow_nan=False)
    assert model.model_validate(dumped) == req
    return "valid"


def run_in_process(job: str, raw: Any) -> tuple[int, list[dict[str, Any]]]:
    stream = io.StringIO()
    code = run_job(job, raw, Emitter(stream=stream))
    return code, [json.loads(line) for line in stream.getvalue().splitlines()]


_OUTCOMES: dict[str, dict[str, int]] = {}


@pytest.mark.parametrize("job", sorted(VALID))
def test_each_request_is_valid_or_a_request_error_naming_its_field(job: str) -> None:
    model, base = VALID[job]
    seen = {"valid": 0, "typed-error": 0}

    @seed(SEED)
    @settings(
        max_examples=NUM_EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(broken(base))
    def prop(raw: Any) -> None:
        outcome = judge(model, raw)
        seen[outcome] += 1
        if outcome == "typed-error" and job != "ping":
            try:
                parse_request(model, raw)
            except RequestError as e:
                # The same request through run_job: exit 2, one error event naming the same field.
                code, events = run_in_process(job, raw)
                assert code == 2, events
                assert [ev["event"] for ev in events] == ["error"], events
                assert events[0]["type"] == "RequestError" and events[0]["field"] == e.field, events

    prop()
    # Both sides of the line are reached.
    assert seen["valid"] >= NUM_EXAMPLES * 0.02, seen
    assert seen["typed-error"] >= NUM_EXAMPLES * 0.3, seen


def test_every_job_has_a_generated_request() -> None:
    assert sorted(VALID) == sorted(JOBS)


# A table of bad requests through the real command: (job, request, the field the error must name).
def _with(job: str, **fields: Any) -> dict[str, Any]:
    return {**VALID[job][1], **fields}


def _strategy(**fields: Any) -> dict[str, Any]:
    return _with("prune", strategy={**_STRATEGY, **fields})


CLI_TABLE: list[tuple[str, Any, str | None]] = [
    ("prune", _strategy(pruningRatio=math.nan), "strategy.pruningRatio"),
    ("prune", _strategy(pruningRatio="0.3"), "strategy.pruningRatio"),
    ("prune", _strategy(globalPruning="yes"), "strategy.globalPruning"),
    ("prune", _strategy(stageRatios={"x": 2}), "strategy.stageRatios"),
    ("finetune", _with("finetune", recipe={"epochs": 1, "batchSize": 0, "lr": 0.01}), "recipe.batchSize"),
    ("finetune", _with("finetune", checkpointEverySteps=math.inf), "checkpointEverySteps"),
    ("evaluate", _with("evaluate", typo=1), "typo"),
    ("make-dataset", _with("make-dataset", classes=True), "classes"),
    ("profile", _with("profile", inputShape=[1, 3, "32", 32]), "inputShape.2"),
    ("export", {"model": _MODEL}, "out"),
    ("predict", [], None),
    ("no-such-job", {}, "job"),
]


def _engine(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "agentic_engine", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def test_bad_requests_through_the_warm_engine_each_get_one_error_naming_the_field() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "agentic_engine", "serve"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        assert json.loads(proc.stdout.readline())["event"] == "ready"
        for i, (job, req, field) in enumerate(CLI_TABLE):
            # One at a time, stdin kept open: EOF during a job means the worker is gone, and serve exits.
            proc.stdin.write(json.dumps({"id": f"r{i}", "job": job, "request": req}) + "\n")
            proc.stdin.flush()
            event = json.loads(proc.stdout.readline())
            assert event["id"] == f"r{i}" and event["event"] == "error", event
            assert event["type"] == "RequestError" and event["field"] == field, event
        proc.stdin.close()
        assert proc.wait(timeout=60) == 0
        assert "Traceback" not in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.mark.parametrize("index", [7, 11])
def test_a_bad_request_through_the_one_shot_command_exits_2(index: int) -> None:
    job, req, field = CLI_TABLE[index]
    r = _engine(job, "--request", json.dumps(req))
    assert r.returncode == 2, (r.stdout, r.stderr)
    (event,) = [json.loads(line) for line in r.stdout.splitlines()]
    assert event["event"] == "error" and event["field"] == field
    assert "Traceback" not in r.stderr
