"""``bench/score-signals.py --zero-cost``: do training-free signals of a pruned shape order a run's candidates?

The recovery score measures how fast a candidate recovers, and in two of the six 100-class cases the candidate
that ends best recovers slowest. Signals from neural-architecture search that need no training measure a
shape's capacity instead, so they might see what a short recovery does not. For every candidate of a
bench/accuracy campaign folder (``WORK/campaign/<id>/attempt-<n>``, the pruned models the campaign scored),
after the engine's batch-norm recalibration on the score's calibration sample of train/:

- ``params``: the pruned model's parameter count;
- ``naswot``: log-determinant of the kernel of the ReLUs' binary codes over one batch (Mellor et al., 2021);
- ``synflow``: log10 of sum |w * dR/dw| with |w| and an all-ones input, no data (Tanaka et al., 2020);
- ``gradNorm``, ``snip``: the L2 norm of the cross-entropy's gradient, and sum |w * g|, on that batch;
- ``minWidth``, ``meanWidth``: the smallest and the mean kept fraction of the dense model's conv channels;
- ``zeroShotTop1``, ``zeroShotLoss``, ``teacherKl``: the recalibrated model on the held-out slice (no steps).

With ``--finals`` (bench/accuracy-new-val outputs of this case's dense model) each candidate gets the mean final
top-1 of its fine-tunes of ``--final-steps`` on the new val images (matched by MACs and parameters, as
bench/accuracy pairs them), and the last line is Spearman's rho of every signal against it. ``val/`` is never read.

Usage (the engine's environment):
  PYTHONPATH=engine engine/.venv/bin/python bench/score-signals.py --zero-cost --campaign WORK/campaign/<id> \\
      --dataset WORK/dataset-c100-200x15 --teacher WORK/dense-democnn-16e-c100-200x15/model.pt --classes 100 \\
      --finals bench/results/recovery-sweep/xeon-c100-new-val.jsonl > signals.jsonl
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import sys
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from agentic_engine import score as S
from agentic_engine import training as T
from agentic_engine.macs import count_macs

SIGNALS = (
    "params",
    "naswot",
    "synflow",
    "gradNorm",
    "snip",
    "minWidth",
    "meanWidth",
    "zeroShotTop1",
    "zeroShotLoss",
    "teacherKl",
)
# Lower is better for these: their rho is taken of the negated signal, so +1 always means "orders as the finals".
LOWER_IS_BETTER = {"zeroShotLoss", "teacherKl"}


def ranks(values: list[float]) -> np.ndarray:
    """1-based ranks, ties given their mean rank (Spearman's convention)."""
    v = np.asarray(values, dtype=float)
    order = np.argsort(v, kind="stable")
    r = np.empty(len(v))
    r[order] = np.arange(1, len(v) + 1)
    for x in np.unique(v):
        tied = v == x
        r[tied] = r[tied].mean()
    return r


def spearman(a: list[float], b: list[float]) -> float:
    """Spearman's rank correlation: Pearson's of the ranks; nan when either side is constant."""
    ra, rb = ranks(a), ranks(b)
    if ra.std() == 0 or rb.std() == 0:
        return float("nan")
    return float(np.corrcoef(ra, rb)[0, 1])


def naswot(model: nn.Module, x: torch.Tensor) -> float:
    """log|K| with K[i,j] the number of ReLU units on which images i and j agree (both on or both off); ReLU6
    (MobileNetV2's) counts as one. SystemExit for a model without either."""
    codes: list[torch.Tensor] = []

    def hook(_m: nn.Module, _i: Any, out: torch.Tensor) -> None:
        codes.append((out.detach().flatten(1) > 0).float())

    handles = [
        m.register_forward_hook(hook)
        for m in model.modules()
        if isinstance(m, (nn.ReLU, nn.ReLU6))
    ]
    if not handles:
        raise SystemExit(
            "bench/zero_cost: naswot needs ReLU or ReLU6 layers; this model has none"
        )
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
    c = torch.cat(codes, 1).double()
    k = c @ c.T + (1 - c) @ (1 - c).T
    return float(torch.slogdet(k)[1])


def synflow(model: nn.Module, image_size: int) -> float:
    """log10 sum |w * dR/dw|, R the output's sum with every weight replaced by |w| and an all-ones input."""
    m = copy.deepcopy(model).double().eval()
    with torch.no_grad():
        for p in m.parameters():
            p.abs_()
    m.zero_grad()
    m(torch.ones(1, 3, image_size, image_size, dtype=torch.double)).sum().backward()
    total = sum(
        float((p.detach() * p.grad).abs().sum())
        for p in m.parameters()
        if p.grad is not None
    )
    return float(np.log10(total)) if total > 0 else float("-inf")


def gradient_signals(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor
) -> tuple[float, float]:
    """(L2 norm of the cross-entropy's gradient, sum |w * g|) on one labelled batch, batch norms frozen."""
    model.eval().zero_grad()
    F.cross_entropy(model(x), y).backward()
    grads = [(p.detach(), p.grad) for p in model.parameters() if p.grad is not None]
    norm = float(torch.sqrt(sum((g**2).sum() for _, g in grads)))
    snip = float(sum((p * g).abs().sum() for p, g in grads))
    model.zero_grad()
    return norm, snip


def widths(model: nn.Module, dense: nn.Module) -> tuple[float, float]:
    """(smallest, mean) kept fraction of the dense model's output channels over the convolutions."""
    d = {
        n: m.out_channels for n, m in dense.named_modules() if isinstance(m, nn.Conv2d)
    }
    kept = [
        m.out_channels / d[n]
        for n, m in model.named_modules()
        if isinstance(m, nn.Conv2d) and n in d
    ]
    return min(kept), float(np.mean(kept))


def teacher_kl(
    model: nn.Module, x: torch.Tensor, teacher_logits: torch.Tensor
) -> float:
    """Mean KL(teacher || model) of the softmax outputs on ``x``, the teacher's logits on it given."""
    with torch.no_grad():
        return float(
            F.kl_div(
                F.log_softmax(model(x), 1),
                F.log_softmax(teacher_logits, 1),
                log_target=True,
                reduction="batchmean",
            )
        )


def measure(
    a: argparse.Namespace,
    attempt: Path,
    teacher: nn.Module,
    data: S.ScoreData,
    kl: tuple[torch.Tensor, torch.Tensor],
) -> dict[str, Any]:
    """The signals of one candidate; ``kl`` the held-out images of the KL and the teacher's logits on them,
    decoded and computed once per case (:func:`kl_images`)."""
    model, _ = T.load_model(
        {"name": a.model, "numClasses": a.classes, "pruned": str(attempt)}, "model"
    )
    batches = data.batches()
    S.recalibrate_batch_norm(model, batches, torch.device("cpu"))
    x, y = batches[0]
    held = S.score_held_out(
        model,
        data.index,
        data.slices.held_out,
        data.image_size,
        a.batch_size,
        torch.device("cpu"),
    )
    norm, snip = gradient_signals(model, x, y)
    min_w, mean_w = widths(model, teacher)
    count = count_macs(
        model.eval(), torch.zeros(1, 3, data.image_size, data.image_size)
    )
    return {
        "attempt": int(attempt.name.split("-")[1]),
        "macs": count.macs,
        "params": count.params,
        "naswot": naswot(model, x),
        "synflow": synflow(model, data.image_size),
        "gradNorm": norm,
        "snip": snip,
        "minWidth": min_w,
        "meanWidth": mean_w,
        "zeroShotTop1": held["top1"],
        "zeroShotLoss": held["loss"],
        "teacherKl": teacher_kl(model, *kl),
    }


def finals_of(files: list[str], steps: int) -> dict[tuple[int, int], list[float]]:
    """{(macs, params): [final top-1 on the new val images, one per seed]} of fine-tunes of ``steps``.

    Each file holds the fine-tunes of one dense model. A per-layer shape has the same MACs and parameters on
    every dense model of a run, so a key found in two files cannot be paired: SystemExit naming both (give
    the file of this case's dense model only)."""
    out: dict[tuple[int, int], list[float]] = {}
    source: dict[tuple[int, int], str] = {}
    for f in files:
        for line in Path(f).read_text().splitlines():
            r = json.loads(line)
            ft = r.get("fineTune")
            if r.get("split") != "new" or not ft or ft.get("steps") != steps:
                continue
            key = (int(ft["macs"]), int(ft["params"]))
            if source.setdefault(key, f) != f:
                raise SystemExit(
                    f"bench/zero_cost: {key[0]} MACs, {key[1]} params have finals in {source[key]} and {f}: "
                    "give --finals the file of this case's dense model only"
                )
            out.setdefault(key, []).append(float(r["top1"]))
    return out


def verdict(
    judged: list[dict[str, Any]],
    signals: tuple[str, ...] = SIGNALS,
    lower: set[str] = LOWER_IS_BETTER,
) -> dict[str, Any]:
    """Per signal, Spearman's rho against the finals (the signals in ``lower`` negated) and the regret of the
    candidate it ranks first: the best final minus that candidate's, in points."""
    rho, regret = {}, {}
    for s in signals:
        rank, gap = _judge(judged, [-r[s] if s in lower else r[s] for r in judged])
        rho[s], regret[s] = round(rank, 3), round(gap, 2)
    return {"rho": rho, "regret": regret, "candidates": len(judged)}


def pool(files: list[str]) -> dict[str, Any]:
    """Several cases' outputs (one file each), their verdicts pooled: per signal the mean within-case rho,
    and the regret's mean and max, in points. Each case's verdict is taken anew from its rows."""
    cases = []
    for f in files:
        rows = [json.loads(line) for line in Path(f).read_text().splitlines()]
        judged = [r for r in rows if "final" in r]
        if len(judged) < 3:
            raise SystemExit(
                f"bench/zero_cost: {f}: {len(judged)} candidates with a final, 3 needed"
            )
        cases.append(verdict(judged))
    return {
        s: {
            "rho": round(float(np.mean([c["rho"][s] for c in cases])), 3),
            "regretMean": round(float(np.mean([c["regret"][s] for c in cases])), 2),
            "regretMax": round(float(np.max([c["regret"][s] for c in cases])), 2),
        }
        for s in SIGNALS
    } | {"cases": len(cases)}


def kl_images(
    a: argparse.Namespace, teacher: nn.Module, data: S.ScoreData
) -> tuple[torch.Tensor, torch.Tensor]:
    """The first ``a.kl_images`` held-out images (eval view) and the teacher's logits on them."""
    images = T.AugmentedImageFolder(data.index, data.image_size, train=False)
    x = torch.stack([images[j][0] for j in data.slices.held_out[: a.kl_images]])
    with torch.no_grad():
        return x, teacher(x)


def run(
    a: argparse.Namespace,
    attempts: list[Path],
    teacher: nn.Module,
    out: TextIO = sys.stdout,
) -> int:
    """One row per attempt, then (with ``a.finals`` pairing 3 or more) the rho line; ``score-signals.py``'s
    ``--zero-cost``, whose arguments ``a`` are."""
    torch.manual_seed(a.seed)
    data = S.score_data(
        S.ScoreDataset.model_validate({"root": a.dataset, "imageSize": a.image_size}),
        S.ScoreCalibration.model_validate({"batches": 4, "batchSize": a.batch_size}),
        a.score_images,
        a.seed,
        None,
        None,
    )
    finals = finals_of([f for f in a.finals.split(",") if f], a.final_steps)
    kl = kl_images(a, teacher, data)
    rows = []
    for attempt in attempts:
        row = measure(a, attempt, teacher, data, kl)
        seeds = finals.get((row["macs"], row["params"]))
        if seeds:
            row["final"] = float(np.mean(seeds))
            row["finalSeeds"] = len(seeds)
        rows.append(row)
        print(json.dumps(row), file=out, flush=True)
    judged = [r for r in rows if "final" in r]
    if len(judged) >= 3:
        print(json.dumps(verdict(judged)), file=out, flush=True)
    return 0


def screen(
    rows: list[dict[str, Any]], scored: list[dict[str, Any]], steps: int, keep: int
) -> dict[str, Any]:
    """A two-stage scoring read off a case's figures: the ``keep`` best candidates by zero-shot top-1 (the rows
    with a final), then the best of them by its recovery score of ``steps`` (``scored``: bench/accuracy's
    ``scoredCandidates`` of the same case, paired by MACs and parameters). The pick and its regret in points."""
    judged = [r for r in rows if "final" in r]
    by = _recovery_scores(judged, scored, steps)
    finalists = sorted(judged, key=lambda r: r["zeroShotTop1"], reverse=True)[:keep]
    pick = max(finalists, key=lambda r: by[(r["macs"], r["params"])])
    best = max(r["final"] for r in judged)
    return {
        "attempt": pick["attempt"],
        "regret": round(100 * (best - pick["final"]), 2),
    }


def rank_sum(
    rows: list[dict[str, Any]], scored: list[dict[str, Any]], steps: int
) -> dict[str, Any]:
    """The zero-shot top-1 and the recovery score of ``steps`` combined: each candidate's two ranks summed (the
    rows with a final; ``scored`` as in :func:`screen`). Spearman's rho of the sum against the finals, and the
    regret in points of the candidate it ranks first (the earlier row on a tie)."""
    judged = [r for r in rows if "final" in r]
    by = _recovery_scores(judged, scored, steps)
    total = ranks([r["zeroShotTop1"] for r in judged]) + ranks(
        [by[(r["macs"], r["params"])] for r in judged]
    )
    final = [r["final"] for r in judged]
    pick = judged[int(np.argmax(total))]
    return {
        "rho": round(spearman(list(total), final), 3),
        "attempt": pick["attempt"],
        "regret": round(100 * (max(final) - pick["final"]), 2),
    }


FIT_ALPHAS = (0.1, 1.0, 3.0, 10.0, 30.0, 100.0, 1000.0)


def fit_signals(steps: list[int]) -> tuple[tuple[str, ...], set[str]]:
    """The signals a fit weighs: every training-free one, then each length's recovery top-1 and loss
    (``recovery40Top1``, ``recovery40Loss``), and the ones of them lower-is-better."""
    rec = tuple(f"recovery{n}{f}" for n in steps for f in ("Top1", "Loss"))
    return SIGNALS + rec, LOWER_IS_BETTER | {f"recovery{n}Loss" for n in steps}


def with_recovery(
    rows: list[dict[str, Any]], scored: list[dict[str, Any]], steps: list[int]
) -> list[dict[str, Any]]:
    """The rows with a final, each given its recovery top-1 and loss at every length of ``steps``."""
    judged = [dict(r) for r in rows if "final" in r]
    for n in steps:
        top1 = _recovery_scores(judged, scored, n)
        loss = _recovery_scores(judged, scored, n, "scoreLoss")
        for r in judged:
            key = (r["macs"], r["params"])
            r[f"recovery{n}Top1"], r[f"recovery{n}Loss"] = top1[key], loss[key]
    return judged


def _standardized(
    rows: list[dict[str, Any]], signals: tuple[str, ...], lower: set[str]
) -> tuple[np.ndarray, np.ndarray]:
    """One case: its signals (``lower`` negated) and finals as z-scores over its own candidates, so that cases
    of other models and cuts share one scale; a constant column is left at 0."""
    x = np.array(
        [[-r[s] if s in lower else r[s] for s in signals] for r in rows], dtype=float
    )
    y = np.array([r["final"] for r in rows], dtype=float)
    sx, sy = x.std(0), y.std()
    return (x - x.mean(0)) / np.where(sx > 0, sx, 1), (y - y.mean()) / (
        sy if sy > 0 else 1
    )


def _ridge(
    cases: list[list[dict[str, Any]]],
    signals: tuple[str, ...],
    lower: set[str],
    alpha: float,
) -> np.ndarray:
    """Ridge weights of the signals' z-scores predicting the finals' z-scores over the cases' candidates."""
    xs, ys = zip(*(_standardized(c, signals, lower) for c in cases))
    x, y = np.vstack(xs), np.concatenate(ys)
    return np.linalg.solve(x.T @ x + alpha * np.eye(x.shape[1]), x.T @ y)


def _judge(rows: list[dict[str, Any]], predicted: Any) -> tuple[float, float]:
    """Spearman's rho of a predicted score against a case's finals, and the regret in points of its first pick."""
    final = [r["final"] for r in rows]
    return spearman(list(predicted), final), 100 * (
        max(final) - final[int(np.argmax(predicted))]
    )


def _loco_rho(
    cases: list[list[dict[str, Any]]],
    signals: tuple[str, ...],
    lower: set[str],
    alpha: float,
) -> float:
    """Mean rho over the cases, each ranked by the weights fitted on the others."""
    return float(
        np.mean(
            [
                _judge(
                    c,
                    _standardized(c, signals, lower)[0]
                    @ _ridge(cases[:i] + cases[i + 1 :], signals, lower, alpha),
                )[0]
                for i, c in enumerate(cases)
            ]
        )
    )


def fit(
    cases: list[list[dict[str, Any]]],
    signals: tuple[str, ...],
    lower: set[str],
    alphas: tuple[float, ...] = FIT_ALPHAS,
) -> dict[str, Any]:
    """Could a weighted sum of the signals rank the candidates, where no single signal does? Per case, ridge
    weights fitted on the other cases only (the penalty chosen among ``alphas`` by leaving one case out again
    within those), then that case's candidates ordered by the fitted score: its rho and first pick's regret.
    Also weights fitted on every case with the least penalty and judged on those same cases (``inSample``):
    what a fit reaches having seen the answers (a least-squares fit, so not a strict bound on rho)."""
    if len(cases) < 3:
        raise SystemExit(
            f"bench/zero_cost: --fit needs 3 cases or more, got {len(cases)}"
        )
    per = []
    for i, case in enumerate(cases):
        rest = cases[:i] + cases[i + 1 :]
        alpha = max(alphas, key=lambda a: _loco_rho(rest, signals, lower, a))
        w = _ridge(rest, signals, lower, alpha)
        per.append((*_judge(case, _standardized(case, signals, lower)[0] @ w), alpha))
    alpha_all = min(alphas)
    w_all = _ridge(cases, signals, lower, alpha_all)
    own = [_judge(c, _standardized(c, signals, lower)[0] @ w_all) for c in cases]
    rhos, regrets = [round(p[0], 3) for p in per], [round(p[1], 2) for p in per]
    return {
        "fit": f"ridge on {len(signals)} signals' within-case z-scores, leave one case out",
        "cases": len(cases),
        "alpha": [p[2] for p in per],
        "rho": rhos,
        "rhoMean": round(float(np.mean(rhos)), 3),
        "regret": regrets,
        "regretMean": round(float(np.mean(regrets)), 2),
        "regretMax": max(regrets),
        "inSample": {
            "alpha": alpha_all,
            "rho": [round(o[0], 3) for o in own],
            "rhoMean": round(float(np.mean([o[0] for o in own])), 3),
            "regretMean": round(float(np.mean([o[1] for o in own])), 2),
            "weights": {s: round(float(v), 3) for s, v in zip(signals, w_all)},
        },
    }


def _recovery_scores(
    judged: list[dict[str, Any]],
    scored: list[dict[str, Any]],
    steps: int,
    figure: str = "scoreTop1",
) -> dict[tuple[int, int], float]:
    """{(macs, params): recovery ``figure`` (top-1, or ``scoreLoss``) of ``steps``} of the judged rows;
    SystemExit naming the attempts without one."""
    by = {
        (s["macs"], s["params"]): s[figure] for s in scored if s["scoreSteps"] == steps
    }
    missing = [r["attempt"] for r in judged if (r["macs"], r["params"]) not in by]
    if missing:
        raise SystemExit(
            f"bench/zero_cost: no {steps}-step score for attempts {missing}"
        )
    return by


USAGE = (
    "usage: bench/zero_cost.py FILE...  (score-signals.py --zero-cost outputs: their verdicts pooled)\n"
    "       bench/zero_cost.py --screen STEPS:KEEP FILE=RESULT.json@TARGET...  (a zero-shot first stage, "
    "then STEPS of recovery for the best KEEP)\n"
    "       bench/zero_cost.py --rank-sum STEPS FILE=RESULT.json@TARGET...  (the zero-shot and the STEPS "
    "recovery ranks summed)\n"
    "       bench/zero_cost.py --fit STEPS[,STEPS...] FILE=RESULT.json@TARGET...  (every signal and the "
    "recovery scores of each STEPS weighted by a fit on the other cases)"
)


def _case(arg: str) -> tuple[Path, Path, float]:
    """``FILE=RESULT.json@TARGET``, each file existing; SystemExit naming the argument otherwise."""
    file, eq, rest = arg.partition("=")
    result, at, target = rest.rpartition("@")
    try:
        t = float(target)
    except ValueError:
        t = None
    if not (eq and at and file and result) or t is None:
        raise SystemExit(
            f"bench/zero_cost: {arg!r}: expected FILE=RESULT.json@TARGET\n{USAGE}"
        )
    missing = [f for f in (file, result) if not Path(f).is_file()]
    if missing:
        raise SystemExit(f"bench/zero_cost: {arg!r}: {', '.join(missing)}: not found")
    return Path(file), Path(result), t


def _cases(args: list[str]) -> list[tuple[list[dict[str, Any]], list[dict[str, Any]]]]:
    """Each ``FILE=RESULT.json@TARGET``: the signal rows of FILE, and RESULT's scored candidates of TARGET."""
    out = []
    for file, result, target in [_case(arg) for arg in args]:
        rows = [json.loads(line) for line in file.read_text().splitlines()]
        scored = [
            s
            for s in json.loads(result.read_text())["scoredCandidates"]
            if s["target"] == target
        ]
        out.append((rows, scored))
    return out


def main(argv: list[str]) -> int:
    """``FILE...``: the cases' verdicts pooled, one JSON line. ``--screen STEPS:KEEP FILE=RESULT.json@TARGET...``:
    per case the pick of a zero-shot screen keeping KEEP, then STEPS of recovery (:func:`screen`), and the
    regret's mean and max. ``--rank-sum STEPS FILE=RESULT.json@TARGET...``: per case the rho and the pick's
    regret of the zero-shot and recovery ranks summed (:func:`rank_sum`), and their mean (the regret's max).
    ``--fit STEPS[,STEPS...] FILE=RESULT.json@TARGET...``: every signal and those lengths' recovery scores
    weighted by ridge fits leaving one case out (:func:`fit`).
    Malformed arguments or missing files: a one-line error naming them."""
    if argv[:1] == ["--rank-sum"]:
        if len(argv) < 3 or not re.fullmatch(r"\d+", argv[1]):
            raise SystemExit(
                f"bench/zero_cost: --rank-sum needs STEPS and one case or more\n{USAGE}"
            )
        steps = int(argv[1])
        each = [rank_sum(rows, scored, steps) for rows, scored in _cases(argv[2:])]
        rhos, regrets = [c["rho"] for c in each], [c["regret"] for c in each]
        print(
            json.dumps(
                {
                    "rankSum": f"zero-shot + {steps} steps",
                    "rho": rhos,
                    "rhoMean": round(float(np.mean(rhos)), 3),
                    "regret": regrets,
                    "regretMean": round(float(np.mean(regrets)), 2),
                    "regretMax": max(regrets),
                }
            )
        )
        return 0
    if argv[:1] == ["--fit"]:
        if len(argv) < 3 or not re.fullmatch(r"\d+(,\d+)*", argv[1]):
            raise SystemExit(
                f"bench/zero_cost: --fit needs STEPS[,STEPS...] and three cases or more\n{USAGE}"
            )
        steps = [int(n) for n in argv[1].split(",")]
        signals, lower = fit_signals(steps)
        print(
            json.dumps(
                fit(
                    [
                        with_recovery(rows, scored, steps)
                        for rows, scored in _cases(argv[2:])
                    ],
                    signals,
                    lower,
                )
            )
        )
        return 0
    if argv[:1] != ["--screen"]:
        missing = [f for f in argv if not Path(f).is_file()]
        if not argv or missing:
            raise SystemExit(
                f"bench/zero_cost: {', '.join(missing)}: not found"
                if missing
                else USAGE
            )
        print(json.dumps(pool(argv)))
        return 0
    if len(argv) < 3 or not re.fullmatch(r"\d+:\d+", argv[1]):
        raise SystemExit(
            f"bench/zero_cost: --screen needs STEPS:KEEP and one case or more\n{USAGE}"
        )
    steps, keep = (int(x) for x in argv[1].split(":"))
    regrets = [
        screen(rows, scored, steps, keep)["regret"] for rows, scored in _cases(argv[2:])
    ]
    print(
        json.dumps(
            {
                "screen": f"zero-shot -> {steps} steps, keep {keep}",
                "regret": regrets,
                "regretMean": round(float(np.mean(regrets)), 2),
                "regretMax": max(regrets),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
