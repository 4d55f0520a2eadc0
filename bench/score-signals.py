"""Diagnostic for issue 12: which signal of a short recovery fine-tune orders a run's candidates?

For every candidate of a bench/accuracy campaign folder (``WORK/campaign/<id>/attempt-<n>``, the pruned models the
campaign scored) and every recovery length, repeats the engine's ``score`` (mode ``recovery``: the same train/
slices, the KD fine-tune through ``finetune``'s loop, batch-norm recalibration) and measures on the held-out slice,
beside the engine's top-1 and cross-entropy, two signals against the dense teacher: the mean KL divergence
KL(teacher || candidate) of the softmax outputs, and the fraction of images on which the candidate's top class is
the teacher's. ``val/`` is never read.

Before anything else it runs the engine's own ``score`` job on the first candidate and length, and stops at the
first row unless that row's top-1 and loss equal the job's, so the figures are the campaign's. Top-1 and loss are
the engine's own held-out metrics (``score.score_held_out``); only the two teacher signals are computed here.

With ``--reprune l1`` (or ``l2``) each candidate is first rebuilt as its shape alone: the dense teacher pruned to the
candidate's layer widths, each group's channels chosen anew by the group's L1 (L2) magnitude, so that every
candidate is scored with one channel criterion and the score compares the shapes (same MACs and parameters as the
candidate; the check against the engine's job is then made on the rebuilt first candidate). With ``--finals`` the
recovery rows are paired with the candidates' finals by MACs and parameters, and after the rows of each kdAlpha and
lr one line per length gives every signal's Spearman's rho and the regret of its first pick (3 or more paired).

With ``--zero-cost`` it runs no recovery and measures instead the training-free signals of ``bench/zero_cost.py``
(parameters, NASWOT, SynFlow, gradient norm, SNIP, kept widths, the recalibrated zero-shot figures), with
``--finals`` paired with each candidate's final top-1 and ranked against it.

Usage (the engine's environment; one JSON line per candidate, length, kdAlpha and lr):
  PYTHONPATH=engine engine/.venv/bin/python bench/score-signals.py --campaign WORK/campaign/<id> \\
      --dataset WORK/dataset-c100-200x15 --teacher WORK/dense-democnn-16e-c100-200x15/model.pt \\
      --classes 100 --steps 10,40,160,640 --kd-alpha 0.5,1.0 --lr 0.002,0.01 > signals.jsonl
Each candidate's shape alone, judged against its finals (rows, then one rho line per length):
  ... --model resnet18 --steps 40,160,320 --reprune l1 --finals NEW-VAL.jsonl --final-steps 10000
The recovery's batch size, calibration (4 x 32), score images (1000) and seed (0) default to bench/accuracy's.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from agentic_engine import score as S
from agentic_engine import training as T
from agentic_engine.macs import count_macs
from agentic_engine.protocol import Emitter


def _numbers(text: str, kind: type) -> list[Any]:
    return [kind(x) for x in text.split(",") if x]


def _request(
    a: argparse.Namespace, attempt: Path, steps: int, alpha: float, lr: float, work: str
) -> dict:
    return {
        "model": {"name": a.model, "numClasses": a.classes, "pruned": str(attempt)},
        "teacher": {"name": a.model, "numClasses": a.classes, "weights": a.teacher},
        "dataset": {"root": a.dataset, "imageSize": a.image_size},
        "mode": "recovery",
        "calibration": {"batches": 4, "batchSize": 32},
        "recovery": {
            "steps": steps,
            "batchSize": a.batch_size,
            "lr": lr,
            "kdAlpha": alpha,
        },
        "scoreImages": a.score_images,
        "seed": a.seed,
        "workDir": work,
        "device": "cpu",
    }


# The recovery rows' signals, for their rho lines; the loss and the KL are better when lower.
RECOVERY_SIGNALS = ("top1", "loss", "teacherKl", "teacherAgreement")
RECOVERY_LOWER_IS_BETTER = {"loss", "teacherKl"}


def reprune(attempt: Path, dst: Path, teacher_spec: dict, p: int) -> Path:
    """``attempt``'s shape rebuilt on the dense teacher: its pruning history replayed group by group, each group
    dropping as many channels as the candidate's did, but the ones of least group L``p`` magnitude in the
    teacher's weights. The same layer widths (so the same MACs and parameters), one criterion for all."""
    import torch_pruning as tp
    from agentic_engine import pruned_folder
    from agentic_engine.graph import build_graph

    saved = pruned_folder.read(attempt, "--campaign")
    if saved.attention or not all(out for _, out, _ in saved.history):
        raise SystemExit(
            f"bench/score-signals: {attempt}: --reprune rebuilds out-channel pruning of CNNs only"
        )
    model, shape = T.load_model(teacher_spec, "--teacher")
    graph = build_graph(model, saved.input_shape or shape)
    modules = dict(model.named_modules())
    magnitude = tp.importance.GroupMagnitudeImportance(p=p)
    history = []
    for name, _, idxs in saved.history:
        module = modules[name]
        prune_out = graph.get_pruner_of_module(module).prune_out_channels
        whole = graph.get_pruning_group(
            module, prune_out, list(range(graph.get_out_channels(module)))
        )
        drop = sorted(int(i) for i in torch.argsort(magnitude(whole))[: len(idxs)])
        graph.get_pruning_group(module, prune_out, drop).prune()
        history.append([name, True, drop])
    rebuilt = pruned_folder.SavedPruning(
        saved.dense_spec, history, saved.input_shape, {}, saved.torch_pruning
    )
    pruned_folder.write(dst, model.state_dict(), rebuilt, {"reprune": f"l{p}"})
    return dst


def signals(
    request: dict, teacher: torch.nn.Module, quiet: Emitter
) -> dict[str, float]:
    """The engine's score of ``request``, step by step (its own functions: the same slices, recovery loop,
    recalibration and held-out metrics), plus the two teacher signals on the same held-out images."""
    req = S.ScoreRequest.model_validate(request)
    data = S.score_data(
        req.dataset, req.calibration, req.score_images, req.seed, None, None
    )
    model, _ = S._recover(req, data.index, data.slices, quiet)
    device = torch.device("cpu")
    S.recalibrate_batch_norm(model, data.batches(), device)
    held_out = data.slices.held_out
    metrics = S.score_held_out(
        model, data.index, held_out, data.image_size, req.batch_size, device
    )
    images = T.AugmentedImageFolder(data.index, data.image_size, train=False)
    agree = 0
    kl = 0.0
    with torch.no_grad():
        for i in range(0, len(held_out), req.batch_size):
            x = torch.stack([images[j][0] for j in held_out[i : i + req.batch_size]])
            s, t = model(x), teacher(x)
            kl += F.kl_div(
                F.log_softmax(s, 1),
                F.log_softmax(t, 1),
                log_target=True,
                reduction="sum",
            ).item()
            agree += int((s.argmax(1) == t.argmax(1)).sum())
    n = len(held_out)
    count = count_macs(
        model.eval(), torch.zeros(1, 3, data.image_size, data.image_size)
    )
    return {
        "macs": count.macs,
        "params": count.params,
        "top1": metrics["top1"],
        "loss": metrics["loss"],
        "teacherKl": kl / n,
        "teacherAgreement": agree / n,
        "count": metrics["count"],
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument(
        "--campaign", required=True, help="WORK/campaign/<id>: its attempt-<n> folders"
    )
    p.add_argument("--dataset", required=True)
    p.add_argument("--teacher", required=True, help="the dense model.pt")
    p.add_argument("--model", default="democnn")
    p.add_argument("--classes", type=int, required=True)
    p.add_argument("--image-size", type=int, default=32)
    p.add_argument("--steps", default="10,40,160")
    p.add_argument("--kd-alpha", default="0.5")
    p.add_argument("--lr", default="0.002")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--score-images", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--attempts", default="", help="only these attempt numbers (comma-separated)"
    )
    p.add_argument(
        "--zero-cost",
        action="store_true",
        help="no recovery: the training-free signals of bench/zero_cost.py",
    )
    p.add_argument(
        "--finals",
        default="",
        help="bench/accuracy-new-val outputs (comma-separated): rho and regret per length",
    )
    p.add_argument(
        "--reprune",
        choices=("l1", "l2"),
        help="score each candidate's shape with its channels chosen anew by this group magnitude",
    )
    p.add_argument("--final-steps", type=int, default=2442)
    p.add_argument("--kl-images", type=int, default=256)
    a = p.parse_args()
    only = {int(x) for x in a.attempts.split(",") if x}
    attempts = sorted(
        (
            d
            for d in Path(a.campaign).glob("attempt-*")
            if not only or int(d.name.split("-")[1]) in only
        ),
        key=lambda d: int(d.name.split("-")[1]),
    )
    if a.zero_cost and a.reprune:
        print(
            "bench/score-signals: --reprune rebuilds the candidates for a recovery; --zero-cost runs none",
            file=sys.stderr,
        )
        return 2
    missing = [f for f in (a.dataset, a.teacher) if not Path(f).exists()]
    if not attempts or missing:
        what = [f"{a.campaign}: no attempt-<n> folders"] if not attempts else []
        print(
            f"bench/score-signals: {'; '.join(what + [f'{f}: not found' for f in missing])}",
            file=sys.stderr,
        )
        return 2
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    quiet = Emitter(open(os.devnull, "w"))  # noqa: SIM115 - lives as long as the process
    teacher, _ = T.load_model(
        {"name": a.model, "numClasses": a.classes, "weights": a.teacher}, "teacher"
    )
    teacher.eval()
    if a.zero_cost:
        import zero_cost  # bench/, beside this script

        return zero_cost.run(a, attempts, teacher)
    if not a.reprune:
        return recovery_rows(a, attempts, teacher, quiet)
    with tempfile.TemporaryDirectory() as rebuilt:
        spec = {"name": a.model, "numClasses": a.classes, "weights": a.teacher}
        p = int(a.reprune[1])
        attempts = [reprune(d, Path(rebuilt) / d.name, spec, p) for d in attempts]
        return recovery_rows(a, attempts, teacher, quiet)


def recovery_rows(
    a: argparse.Namespace,
    attempts: list[Path],
    teacher: torch.nn.Module,
    quiet: Emitter,
) -> int:
    """One row per kdAlpha, lr, candidate and length; with ``a.finals`` pairing 3 or more candidates, a rho line
    after each kdAlpha, lr and length's rows. 1 when the first row is not the engine's own score."""
    import zero_cost  # bench/, beside this script

    steps, alphas, lrs = (
        _numbers(a.steps, int),
        _numbers(a.kd_alpha, float),
        _numbers(a.lr, float),
    )
    finals = zero_cost.finals_of([f for f in a.finals.split(",") if f], a.final_steps)

    # The engine's own score job on the first request: the first row must equal it.
    with tempfile.TemporaryDirectory() as work:
        engine = S.run(
            _request(a, attempts[0], steps[0], alphas[0], lrs[0], work), quiet
        )
    for alpha in alphas:
        for lr in lrs:
            judged: dict[int, list[dict[str, Any]]] = {n: [] for n in steps}
            for attempt in attempts:
                for n in steps:
                    with tempfile.TemporaryDirectory() as work:
                        row = signals(
                            _request(a, attempt, n, alpha, lr, work), teacher, quiet
                        )
                    if engine is not None:
                        if (
                            engine["top1"] != row["top1"]
                            or engine["loss"] != row["loss"]
                        ):
                            print(
                                f"bench/score-signals: the engine's score gives top-1 {engine['top1']}, loss "
                                f"{engine['loss']}; this script {row['top1']}, {row['loss']}: not the same "
                                "measurement",
                                file=sys.stderr,
                            )
                            return 1
                        engine = None
                    line = {
                        "attempt": int(attempt.name.split("-")[1]),
                        "steps": n,
                        "kdAlpha": alpha,
                        "lr": lr,
                    }
                    seeds = finals.get((row["macs"], row["params"]))
                    if seeds:
                        row |= {
                            "final": float(sum(seeds) / len(seeds)),
                            "finalSeeds": len(seeds),
                        }
                        judged[n].append(row)
                    print(json.dumps({**line, **row}), flush=True)
            for n in steps:
                if len(judged[n]) >= 3:
                    v = zero_cost.verdict(
                        judged[n], RECOVERY_SIGNALS, RECOVERY_LOWER_IS_BETTER
                    )
                    print(
                        json.dumps({"steps": n, "kdAlpha": alpha, "lr": lr, **v}),
                        flush=True,
                    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
