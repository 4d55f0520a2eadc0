"""finetune: learning, exact resume, checkpoints, pruned models, distillation, every bad input."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

from agentic_engine import pruned_folder
from agentic_engine.dataset import run as make_dataset
from agentic_engine.finetune import plan as finetune_plan
from agentic_engine.finetune import run as finetune
from agentic_engine.models import build_model
from agentic_engine.protocol import Emitter, EngineError, RequestError, sha256_file

ENGINE = Path(__file__).resolve().parents[1]

# A tiny model with BatchNorm and Dropout, so the exact-resume test also covers BN buffers and the
# global RNG that dropout draws from. Loaded through models.py's `file:<path>:<function>` factory.
TINY_MODEL = '''
import torch
from torch import nn


def build(num_classes=4):
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, 2, 1), nn.BatchNorm2d(8), nn.ReLU(), nn.Dropout(0.2),
        nn.Conv2d(8, 8, 3, 2, 1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, num_classes),
    )


class _Greedy(nn.Module):
    """Runs out of memory as soon as it trains (the eval-mode shape probe passes)."""

    def __init__(self, num_classes):
        super().__init__()
        self.head = nn.Linear(3, num_classes)

    def forward(self, x):
        if self.training:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 80.00 GiB")
        return self.head(x.mean(dim=(2, 3)))


def greedy(num_classes=4):
    return _Greedy(num_classes)
'''


class Recorder(Emitter):
    """Collects events instead of writing JSON lines."""

    def __init__(self) -> None:
        super().__init__(stream=io.StringIO())
        self.events: list[dict[str, Any]] = []

    def emit(self, event: str, **fields: Any) -> None:
        super().emit(event, **fields)
        self.events.append({"event": event, **fields})

    def of(self, event: str, **match: Any) -> list[dict[str, Any]]:
        return [
            e for e in self.events if e["event"] == event and all(e.get(k) == v for k, v in match.items())
        ]


class Crash(Exception):
    pass


class CrashAfterCheckpoint(Recorder):
    """Dies right after the checkpoint of ``step`` is announced, like a worker killed mid-run."""

    def __init__(self, step: int) -> None:
        super().__init__()
        self.step = step

    def emit(self, event: str, **fields: Any) -> None:
        super().emit(event, **fields)
        if event == "artifact" and fields.get("kind") == "checkpoint" and fields.get("step") == self.step:
            raise Crash


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> str:
    out = tmp_path_factory.mktemp("data") / "shapes"
    request = {"out": str(out), "classes": 4, "trainPerClass": 24, "valPerClass": 10, "imageSize": 32}
    return make_dataset(request, Emitter(stream=io.StringIO()))["root"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("factory") / "tiny.py"
    path.write_text(TINY_MODEL)
    return str(path)


def request(dataset: str, tmp: Path, **over: Any) -> dict[str, Any]:
    recipe = {"epochs": 1, "batchSize": 16, "lr": 0.003, "optimizer": "adamw", "weightDecay": 0.01}
    req = {
        "model": {"name": "democnn", "numClasses": 4},
        "dataset": {"root": dataset},
        "recipe": {**recipe, **over.pop("recipe", {})},
        "checkpointDir": str(tmp / "ckpt"),
        "checkpointEverySteps": 10,
        "outDir": str(tmp / "out"),
        "device": "cpu",
    }
    req.update(over)
    return req


def test_short_finetune_reduces_training_loss(dataset: str, tmp_path: Path) -> None:
    emit = Recorder()
    res = finetune(request(dataset, tmp_path, recipe={"epochs": 5, "maxSteps": 24}), emit)
    losses = [p["loss"] for p in res["lossCurve"]]
    assert res["steps"] == 24 and len(losses) == 24
    assert sum(losses[-5:]) / 5 < 0.8 * sum(losses[:5]) / 5
    assert res["trainLoss"]["last"] == losses[-1]

    progress = emit.of("progress", stage="train")
    assert [p["step"] for p in progress] == list(range(1, 25))
    last = progress[-1]
    assert last["totalSteps"] == 24 and last["fraction"] == 1.0 and last["etaSec"] == 0
    assert last["epoch"] == pytest.approx(4.0) and last["imagesPerSec"] > 0 and last["lr"] >= 0

    ckpts = emit.of("artifact", kind="checkpoint")
    assert [c["step"] for c in ckpts] == [10, 20, 24]
    for c in ckpts:
        assert sha256_file(c["path"]) == c["sha256"] and os.path.getsize(c["path"]) == c["sizeBytes"]
    assert res["finalCheckpoint"]["path"] == ckpts[-1]["path"] and res["finalCheckpoint"]["step"] == 24
    assert not list((tmp_path / "ckpt").glob(".*")), "no temp files left"

    # The result's modelSpec rebuilds the trained model.
    model, _ = build_model(res["modelSpec"])
    saved = torch.load(res["model"]["path"], weights_only=True)
    assert all(torch.equal(v, saved[k]) for k, v in model.state_dict().items())
    assert sha256_file(res["model"]["path"]) == res["model"]["sha256"]


def _final_state(res: dict[str, Any]) -> dict[str, torch.Tensor]:
    return torch.load(res["model"]["path"], weights_only=True)


@pytest.mark.parametrize(
    "recipe, total",
    [
        # 96 images, batch 16: 6 steps an epoch.
        ({"epochs": 1}, 6),
        ({"epochs": 2.5}, 15),
        # Two micro-batches a step: 3 steps an epoch, 1.5 epochs -> ceil(4.5) = 5.
        ({"epochs": 1.5, "gradAccumSteps": 2}, 5),
        ({"epochs": 10, "maxSteps": 7}, 7),
    ],
)
def test_plan_is_the_fine_tunes_step_count(
    dataset: str, tmp_path: Path, recipe: dict[str, Any], total: int
) -> None:
    req = request(dataset, tmp_path, recipe=recipe)
    planned = finetune_plan({"dataset": req["dataset"], "recipe": req["recipe"]}, Recorder())
    assert planned["images"] == 96 and planned["totalSteps"] == total
    # The fine-tune itself reports the same count (the one the report sets the scoring's share against).
    assert finetune(req, Recorder())["totalSteps"] == total


def test_plan_bad_input_names_the_field(dataset: str, tmp_path: Path) -> None:
    recipe = request(dataset, tmp_path)["recipe"]
    with pytest.raises(RequestError) as err:
        finetune_plan({"dataset": {"root": dataset}, "recipe": {**recipe, "batchSize": 500}}, Recorder())
    assert err.value.field == "recipe.batchSize" and "96 training images" in str(err.value)
    with pytest.raises(RequestError) as err:
        finetune_plan({"dataset": {"root": str(tmp_path / "none")}, "recipe": recipe}, Recorder())
    assert err.value.field == "dataset.root"


def test_resume_is_bit_exact(dataset: str, tiny: str, tmp_path: Path) -> None:
    # 96 images / batch 8 = 12 micro-batches = 6 optimizer steps per epoch (gradAccumSteps 2): the run
    # crosses epoch boundaries, and the resume starts mid-epoch (step 8 = epoch 1, batch 4).
    recipe = {
        "epochs": 3, "batchSize": 8, "gradAccumSteps": 2, "lr": 0.05, "optimizer": "sgd", "momentum": 0.9,
        "weightDecay": 1e-4, "warmupEpochs": 0.5, "schedule": "cosine", "labelSmoothing": 0.1, "seed": 7,
    }  # fmt: skip
    spec = {"name": f"file:{tiny}:build", "numClasses": 4}

    def req(name: str, **over: Any) -> dict[str, Any]:
        return request(dataset, tmp_path / name, model=spec, recipe=recipe, checkpointEverySteps=4, **over)

    straight = finetune(req("straight"), Recorder())
    assert straight["steps"] == 18

    with pytest.raises(Crash):
        finetune(req("crashed"), CrashAfterCheckpoint(step=8))
    ckpt = tmp_path / "crashed" / "ckpt" / "ckpt-8.pt"
    assert ckpt.is_file() and not (tmp_path / "crashed" / "out").exists()
    saved = torch.load(ckpt, weights_only=True)
    assert saved["sampler"] == {"seed": 7, "microBatch": 16, "epoch": 1, "batchInEpoch": 4}

    resumed_emit = Recorder()
    resumed = finetune(req("resumed", resumeFrom=str(ckpt)), resumed_emit)
    assert resumed["resumedFromStep"] == 8 and resumed["steps"] == 18
    assert [p["step"] for p in resumed_emit.of("progress", stage="train")] == list(range(9, 19))

    a, b = _final_state(straight), _final_state(resumed)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert straight["lossCurve"] == resumed["lossCurve"]
    opt_a = torch.load(straight["finalCheckpoint"]["path"], weights_only=True)["optimizer"]["state"]
    opt_b = torch.load(resumed["finalCheckpoint"]["path"], weights_only=True)["optimizer"]["state"]
    assert all(torch.equal(opt_a[i]["momentum_buffer"], opt_b[i]["momentum_buffer"]) for i in opt_a)


def test_checkpoint_from_another_architecture_is_refused(dataset: str, tiny: str, tmp_path: Path) -> None:
    first = finetune(request(dataset, tmp_path / "a", recipe={"maxSteps": 1}), Recorder())
    other = {"name": f"file:{tiny}:build", "numClasses": 4}
    with pytest.raises(RequestError) as e:
        finetune(
            request(dataset, tmp_path / "b", model=other, resumeFrom=first["finalCheckpoint"]["path"]),
            Recorder(),
        )
    assert e.value.type == "CheckpointMismatch" and e.value.field == "resumeFrom"
    # A file that is not a checkpoint at all is refused the same way.
    with pytest.raises(RequestError) as e:
        finetune(request(dataset, tmp_path / "c", resumeFrom=first["model"]["path"]), Recorder())
    assert e.value.type == "CheckpointMismatch"


def test_keep_checkpoints_prunes_old_ones(dataset: str, tmp_path: Path) -> None:
    res = finetune(
        request(dataset, tmp_path, recipe={"maxSteps": 5}, checkpointEverySteps=1, keepCheckpoints=2),
        Recorder(),
    )
    assert sorted(p.name for p in (tmp_path / "ckpt").iterdir()) == ["ckpt-4.pt", "ckpt-5.pt"]
    assert res["finalCheckpoint"]["step"] == 5


def _pruned_democnn(directory: Path) -> dict[str, Any]:
    """A pruned democnn saved the way `prune` saves one (history.json + state_dict.pt + strategy.json)."""
    import torch_pruning as tp

    model, shape = build_model({"name": "democnn", "numClasses": 4})
    graph = tp.DependencyGraph().build_dependency(model, example_inputs=torch.zeros(shape))
    graph.get_pruning_group(model.stage2[0].conv1, tp.prune_conv_out_channels, idxs=list(range(16))).prune()
    directory.mkdir(parents=True)
    torch.save(model.state_dict(), directory / "state_dict.pt")
    history = {
        "format": pruned_folder.FORMAT,
        "model": {"name": "democnn", "numClasses": 4, "inputSize": 32},
        "inputShape": shape,
        "history": graph.pruning_history(),
    }
    (directory / "history.json").write_text(json.dumps(history))
    (directory / "strategy.json").write_text('{"pruningRatio": 0.1}')
    return {"name": "democnn", "pruned": str(directory)}


def test_pruned_model_round_trips_through_out_dir(dataset: str, tmp_path: Path) -> None:
    spec = _pruned_democnn(tmp_path / "pruned")
    res = finetune(request(dataset, tmp_path, model=spec, recipe={"maxSteps": 2}), Recorder())
    out = tmp_path / "out"
    assert sorted(p.name for p in out.iterdir()) == ["history.json", "state_dict.pt", "strategy.json"]
    assert res["modelSpec"] == {"name": "democnn", "pruned": str(out.resolve())}
    assert res["model"]["path"] == str(out.resolve() / "state_dict.pt")
    model, _ = build_model(res["modelSpec"])
    assert model.stage2[0].conv1.out_channels == 48
    saved = torch.load(out / "state_dict.pt", weights_only=True)
    assert all(torch.equal(v, saved[k]) for k, v in model.state_dict().items())


def test_distillation_from_a_teacher(dataset: str, tmp_path: Path) -> None:
    teacher = finetune(request(dataset, tmp_path / "t", recipe={"maxSteps": 2}), Recorder())["modelSpec"]
    res = finetune(
        request(
            dataset,
            tmp_path / "s",
            teacher=teacher,
            recipe={"maxSteps": 3, "kdAlpha": 0.7, "kdTemperature": 2},
        ),
        Recorder(),
    )
    assert res["steps"] == 3 and all(p["loss"] > 0 for p in res["lossCurve"])


def test_out_of_memory_says_to_lower_the_batch_size(dataset: str, tiny: str, tmp_path: Path) -> None:
    with pytest.raises(EngineError) as e:
        finetune(
            request(dataset, tmp_path, model={"name": f"file:{tiny}:greedy", "numClasses": 4}), Recorder()
        )
    assert e.value.type == "OutOfMemory" and e.value.retryable is False and "batchSize" in str(e.value)


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda r, d: r["dataset"].update(root=str(d / "nowhere")), "dataset.root"),
        (lambda r, d: r["dataset"].update(root=str(d)), "dataset.root"),  # exists, but no train/<class>/
        (lambda r, d: r["recipe"].update(lr=0), "recipe.lr"),
        (lambda r, d: r["recipe"].update(epochs=-1), "recipe.epochs"),
        (lambda r, d: r["recipe"].update(batchSize=0), "recipe.batchSize"),
        (lambda r, d: r["recipe"].update(batchSize=4096), "recipe.batchSize"),  # more than the train split
        (lambda r, d: r["recipe"].update(optimizer="rmsprop"), "recipe.optimizer"),
        (lambda r, d: r["recipe"].update(labelSmoothing=1.0), "recipe.labelSmoothing"),
        (lambda r, d: r["recipe"].update(kdAlpha=1.5), "recipe.kdAlpha"),
        (lambda r, d: r["recipe"].update(kdAlpha=0.5), "recipe.kdAlpha"),  # no teacher
        (lambda r, d: r["recipe"].update(kdTemperature=0), "recipe.kdTemperature"),
        (lambda r, d: r["recipe"].update(gradAccumSteps=0), "recipe.gradAccumSteps"),
        (lambda r, d: r["recipe"].update(weightDecay=-0.1), "recipe.weightDecay"),
        (lambda r, d: r["recipe"].update(warmupEpochs=-1), "recipe.warmupEpochs"),
        (lambda r, d: r["recipe"].update(lr=float("nan")), "recipe.lr"),
        (lambda r, d: r["recipe"].update(lrr=0.1), "recipe.lrr"),
        (lambda r, d: r.update(checkpointEverySteps=0), "checkpointEverySteps"),
        (lambda r, d: r.update(resumeFrom=str(d / "ckpt-404.pt")), "resumeFrom"),
        (lambda r, d: r["model"].update(name="resnet5O"), "model.name"),
        (lambda r, d: r["model"].update(numClasses=7), "model.numClasses"),  # dataset has 4
        (lambda r, d: r.update(teacher={"name": "democnn", "weights": str(d / "no.pt")}), "teacher.weights"),
        (lambda r, d: r.pop("outDir"), "outDir"),
    ],
)
def test_bad_input_names_the_field(dataset: str, tmp_path: Path, mutate: Any, field: str) -> None:
    req = request(dataset, tmp_path)
    mutate(req, tmp_path)
    with pytest.raises(RequestError) as e:
        finetune(req, Recorder())
    assert e.value.field == field
    assert e.value.type == "RequestError"


@pytest.mark.skipif(torch.cuda.is_available(), reason="only meaningful without a GPU")
def test_cuda_without_gpu_is_a_request_error(dataset: str, tmp_path: Path) -> None:
    with pytest.raises(RequestError) as e:
        finetune(request(dataset, tmp_path, device="cuda"), Recorder())
    assert e.value.field == "device"


def _cli(req: dict[str, Any]) -> tuple[int, list[dict[str, Any]]]:
    proc = subprocess.run(
        [sys.executable, "-m", "agentic_engine", "finetune", "--request", json.dumps(req)],
        cwd=ENGINE, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    return proc.returncode, [json.loads(line) for line in proc.stdout.splitlines()]


def test_cli_bad_recipe_exits_2_with_the_field(dataset: str, tmp_path: Path) -> None:
    req = request(dataset, tmp_path)
    req["recipe"]["lr"] = -1
    code, events = _cli(req)
    assert code == 2
    assert events == [
        {
            "event": "error",
            "type": "RequestError",
            "message": events[0]["message"],
            "field": "recipe.lr",
            "retryable": False,
        }
    ]
    assert "greater than 0" in events[0]["message"]


def test_cli_missing_dataset_exits_2(tmp_path: Path) -> None:
    code, events = _cli(request(str(tmp_path / "absent"), tmp_path))
    assert code == 2 and events[-1]["event"] == "error" and events[-1]["field"] == "dataset.root"


@pytest.mark.skipif(
    os.environ.get("AGENTIC_SLOW_TESTS") != "1",
    reason="starts 2 torchrun ranks (~20 s); set AGENTIC_SLOW_TESTS=1",
)
def test_two_process_ddp_on_cpu(dataset: str, tmp_path: Path) -> None:
    emit = Recorder()
    res = finetune(
        request(dataset, tmp_path, gpus=2, recipe={"batchSize": 8, "maxSteps": 4}, checkpointEverySteps=2),
        emit,
    )
    assert res["worldSize"] == 2 and res["steps"] == 4
    assert [c["step"] for c in emit.of("artifact", kind="checkpoint")] == [2, 4]
    assert build_model(res["modelSpec"])[0] is not None
