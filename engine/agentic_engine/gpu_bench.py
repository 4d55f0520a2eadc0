"""GPU throughput and latency of dense vs pruned models (``python -m agentic_engine.gpu_bench``).

Not a protocol job: a benchmark driver for ``bench/gpu-check``. For each model (dense, and pruned by the
engine's own ``prune`` job) it measures
- training throughput of the engine's ``finetune`` loop (bf16 autocast, channels_last) on a generated
  224x224 dataset, and of a plain PyTorch loop on random tensors (the reference),
- CUDA inference latency (p50/p90) at batch 1 and a larger batch.
Writes one JSON object to stdout.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from .protocol import Emitter


def _quiet() -> Emitter:
    class _Null:
        def write(self, _s: str) -> None: ...
        def flush(self) -> None: ...

    return Emitter(stream=_Null())


def plain_loop_images_per_sec(model: Any, batch: int, steps: int, device: Any) -> float:
    import torch

    model = model.to(device).to(memory_format=torch.channels_last).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = torch.randn(batch, 3, 224, 224, device=device).to(memory_format=torch.channels_last)
    y = torch.randint(0, 1000, (batch,), device=device)
    loss_fn = torch.nn.CrossEntropyLoss()
    for i in range(steps + 5):
        if i == 5:
            torch.cuda.synchronize()
            t0 = time.perf_counter()
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = loss_fn(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    torch.cuda.synchronize()
    return batch * steps / (time.perf_counter() - t0)


def latency_ms(model: Any, batch: int, runs: int, device: Any) -> dict[str, float]:
    import torch

    model = model.to(device).to(memory_format=torch.channels_last).eval()
    x = torch.randn(batch, 3, 224, 224, device=device).to(memory_format=torch.channels_last)
    times = []
    with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16):
        for i in range(runs + 10):
            torch.cuda.synchronize()
            t0 = time.perf_counter()
            model(x)
            torch.cuda.synchronize()
            if i >= 10:
                times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return {"p50Ms": statistics.median(times), "p90Ms": times[int(0.9 * (len(times) - 1))]}


def main(argv: list[str] | None = None) -> int:
    import torch

    from . import dataset, finetune, prune
    from .models import build_model

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="resnet50")
    ap.add_argument(
        "--ratio", type=float, default=0.36, help="global ratio of the pruned model (~1.77 G for resnet50)"
    )
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--latency-batch", type=int, default=64)
    args = ap.parse_args(argv)
    if not torch.cuda.is_available():
        print(json.dumps({"error": "no CUDA device visible to torch"}))
        return 1
    device = torch.device("cuda")
    work = Path(tempfile.mkdtemp(prefix="ap-gpu-bench-"))
    emit = _quiet()
    ds = dataset.run(
        {"out": str(work / "data"), "classes": 10, "trainPerClass": 64, "valPerClass": 8, "imageSize": 224},
        emit,
    )
    strategy = {
        "pruningRatio": args.ratio,
        "importance": "l2",
        "globalPruning": True,
        "isomorphic": True,
        "roundTo": 8,
    }
    # The generated dataset has 10 classes; the fine-tune refuses a model whose head predicts another count.
    dense_spec = {"name": args.model, "numClasses": 10}
    pr = prune.run({"model": dense_spec, "strategy": strategy, "outDir": str(work / "pruned")}, emit)
    out: dict[str, Any] = {
        "gpu": torch.cuda.get_device_name(0),
        "torch": torch.__version__,
        "model": args.model,
        "denseMacs": pr["denseMacs"],
        "prunedMacs": pr["macs"],
        "rows": [],
    }
    for label, spec in (
        ("dense", dense_spec),
        ("pruned", {**dense_spec, "pruned": str(work / "pruned")}),
    ):
        ft = finetune.run(
            {
                "model": spec,
                "dataset": {"root": ds["root"]},
                "recipe": {
                    "epochs": 100,
                    "batchSize": args.batch,
                    "lr": 0.01,
                    "bf16": True,
                    "channelsLast": True,
                    "maxSteps": args.steps,
                    "workers": 8,
                },
                "checkpointDir": str(work / f"ckpt-{label}"),
                "checkpointEverySteps": 10_000,
                "outDir": str(work / f"out-{label}"),
                "device": "cuda",
            },
            emit,
        )
        model, _ = build_model(spec)
        out["rows"].append(
            {
                "model": label,
                "engineFinetuneImagesPerSec": ft["imagesPerSec"],
                "plainLoopImagesPerSec": plain_loop_images_per_sec(model, args.batch, args.steps, device),
                "cudaLatencyB1": latency_ms(model, 1, 100, device),
                f"cudaLatencyB{args.latency_batch}": latency_ms(model, args.latency_batch, 30, device),
            }
        )
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
