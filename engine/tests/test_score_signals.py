"""``bench/score-signals.py``, the issue-12 diagnostic, on a trained democnn and two pruned candidates.

It must measure what the campaign measures: its first row equals the engine's ``score`` job on the same
request (it checks so itself and stops otherwise), one row per candidate and length in that order, the
teacher signals in range; and a folder without candidates or a missing file is refused before any work,
naming it. ``--zero-cost`` (bench/zero_cost.py) on three known cuts: rows keyed by the prune's own MACs and
parameters, joined with a finals file, and Spearman's rho on a known order.
"""

from __future__ import annotations

import importlib.util
import io
import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from agentic_engine.protocol import Emitter

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "score-signals.py"
ENGINE = Path(__file__).resolve().parents[1]


def _campaign(trained: dict[str, Any], folder: Path, ratios: dict[int, float]) -> dict[str, Any]:
    """A bench/accuracy campaign folder: ``attempt-<n>`` pruned (global l2, isomorphic) at ``ratios[n]``;
    ``pruned`` each prune's result (its MACs and params)."""
    from agentic_engine.prune import run as prune

    pruned = {
        index: prune(
            {
                "model": trained["spec"],
                "strategy": {
                    "importance": "l2",
                    "globalPruning": True,
                    "isomorphic": True,
                    "pruningRatio": ratio,
                },
                "outDir": str(folder / f"attempt-{index}"),
            },
            Emitter(stream=io.StringIO()),
        )
        for index, ratio in ratios.items()
    }
    return {"folder": folder, "pruned": pruned, **trained}


@pytest.fixture(scope="module")
def campaign(trained_democnn: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """``attempt-1`` pruned at 30 % of channels, ``attempt-2`` at 60 %."""
    return _campaign(trained_democnn, tmp_path_factory.mktemp("signals") / "campaign", {1: 0.3, 2: 0.6})


def _signals(
    campaign: dict[str, Any], *extra: str, folder: Path | None = None
) -> subprocess.CompletedProcess:
    args = [
        sys.executable,
        str(SCRIPT),
        "--campaign",
        str(folder or campaign["folder"]),
        "--dataset",
        str(campaign["root"]),
        "--teacher",
        campaign["spec"]["weights"],
        "--classes",
        str(len(campaign["classes"])),
        "--score-images",
        "100",
        *extra,
    ]
    env = {**os.environ, "PYTHONPATH": str(ENGINE)}
    return subprocess.run(args, capture_output=True, text=True, env=env, timeout=600, check=False)


def test_one_row_per_candidate_and_length_the_first_the_engines_own_score(job, campaign, tmp_path) -> None:
    run = _signals(campaign, "--steps", "2,4")
    assert run.returncode == 0, run.stderr
    rows = [json.loads(line) for line in run.stdout.splitlines()]
    assert [(r["attempt"], r["steps"]) for r in rows] == [(1, 2), (1, 4), (2, 2), (2, 4)]
    # The engine's score job on the first request gives the very figures of the first row.
    engine = job(
        "score",
        {
            "model": {
                "name": "democnn",
                "numClasses": len(campaign["classes"]),
                "pruned": str(campaign["folder"] / "attempt-1"),
            },
            "teacher": {
                "name": "democnn",
                "numClasses": len(campaign["classes"]),
                "weights": campaign["spec"]["weights"],
            },
            "dataset": {"root": str(campaign["root"]), "imageSize": 32},
            "mode": "recovery",
            "calibration": {"batches": 4, "batchSize": 32},
            "recovery": {"steps": 2, "batchSize": 32, "lr": 0.002, "kdAlpha": 0.5},
            "scoreImages": 100,
            "seed": 0,
            "workDir": str(tmp_path / "work"),
            "device": "cpu",
        },
    ).result
    assert (rows[0]["top1"], rows[0]["loss"], rows[0]["count"]) == (engine["top1"], engine["loss"], 100)
    for r in rows:
        assert r["kdAlpha"] == 0.5 and r["lr"] == 0.002
        assert 0 <= r["teacherAgreement"] <= 1
        assert r["teacherKl"] >= 0
    # The milder cut stays closer to its teacher than the harsher one after the same recovery.
    by = {(r["attempt"], r["steps"]): r for r in rows}
    assert by[(1, 4)]["teacherKl"] < by[(2, 4)]["teacherKl"]


def test_a_folder_without_candidates_or_a_missing_teacher_is_refused_naming_it(campaign, tmp_path) -> None:
    empty = _signals(campaign, folder=tmp_path)
    assert empty.returncode == 2
    assert f"{tmp_path}: no attempt-<n> folders" in empty.stderr
    missing = _signals({**campaign, "spec": {"weights": str(tmp_path / "none.pt")}}, "--steps", "2")
    assert missing.returncode == 2
    assert f"{tmp_path / 'none.pt'}: not found" in missing.stderr
    assert missing.stdout == ""


# --zero-cost: the training-free signals of bench/zero_cost.py.

ZERO_COST = SCRIPT.parent / "zero_cost.py"
CUTS = {1: 0.2, 2: 0.4, 3: 0.6}


def _load(name: str, path: Path) -> Any:
    """A bench script as a module (its file name need not be an identifier)."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _zero_cost() -> Any:
    return _load("zero_cost", ZERO_COST)


@pytest.fixture(scope="module")
def three_cuts(trained_democnn: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Candidates pruned at 20, 40 and 60 % of channels."""
    return _campaign(trained_democnn, tmp_path_factory.mktemp("zero-cost") / "campaign", CUTS)


def test_zero_cost_ranks_and_spearman_on_known_cases() -> None:
    m = _zero_cost()
    assert m.ranks([3.0, 1.0, 2.0, 2.0]).tolist() == [4.0, 1.0, 2.5, 2.5]
    assert m.spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert m.spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    # One swap of four: 1 - 6 * 2 / (4 * 15) = 0.8.
    assert m.spearman([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(0.8)
    assert math.isnan(m.spearman([1, 1, 1], [1, 2, 3]))


def test_zero_cost_one_row_per_candidate_paired_with_its_finals_and_rho_on_a_known_order(
    three_cuts, tmp_path
) -> None:
    # Finals that fall as the cut grows, in the new-val file's form; a line of another fine-tune length and
    # one of the run's own val split must be ignored.
    finals = tmp_path / "new-val.jsonl"
    lines = []
    for index, top1 in ((1, 0.80), (2, 0.70), (3, 0.60)):
        p = three_cuts["pruned"][index]
        ft = {"steps": 2442, "macs": p["macs"], "params": p["params"]}
        for seed, d in ((0, 0.01), (1, -0.01)):
            lines.append({"split": "new", "top1": top1 + d, "fineTune": {**ft, "seed": seed}})
        lines.append({"split": "val", "top1": 0.0, "fineTune": {**ft, "seed": 2}})
        lines.append({"split": "new", "top1": 0.0, "fineTune": {**ft, "seed": 2, "steps": 100}})
    finals.write_text("".join(json.dumps(line) + "\n" for line in lines))

    run = _signals(three_cuts, "--zero-cost", "--finals", str(finals))
    assert run.returncode == 0, run.stderr
    *rows, last = [json.loads(line) for line in run.stdout.splitlines()]
    assert [r["attempt"] for r in rows] == [1, 2, 3]
    for r in rows:
        p = three_cuts["pruned"][r["attempt"]]
        # The pairing keys are the prune's own measured MACs and parameters.
        assert (r["macs"], r["params"]) == (p["macs"], p["params"])
        assert 0 < r["minWidth"] <= r["meanWidth"] <= 1
        assert math.isfinite(r["naswot"]) and math.isfinite(r["synflow"])
        assert r["gradNorm"] > 0 and r["snip"] > 0 and r["teacherKl"] >= 0
        assert 0 <= r["zeroShotTop1"] <= 1
        assert r["finalSeeds"] == 2
    assert [r["final"] for r in rows] == pytest.approx([0.80, 0.70, 0.60])
    # A harsher cut keeps fewer parameters and narrower layers: both order the three as the finals do.
    assert rows[0]["params"] > rows[1]["params"] > rows[2]["params"]
    assert last["candidates"] == 3
    assert last["rho"]["params"] == 1.0 and last["rho"]["meanWidth"] == 1.0
    # Both rank the mildest cut, the best final, first: no regret.
    assert last["regret"]["params"] == 0.0 and last["regret"]["meanWidth"] == 0.0
    assert set(last["rho"]) == set(last["regret"]) == set(_zero_cost().SIGNALS)


def test_zero_cost_signals_on_known_models() -> None:
    import torch
    from torch import nn

    m = _zero_cost()
    # NASWOT: two images, two ReLU units; codes (1, 0) and (1, 1) agree on one unit: K = [[2, 1], [1, 2]],
    # log det 3.
    assert m.naswot(nn.Sequential(nn.ReLU()), torch.tensor([[1.0, -1.0], [1.0, 1.0]])) == pytest.approx(
        math.log(3)
    )
    # MobileNetV2's ReLU6 is a rectifier too (the same codes); a model with neither is refused, naming why.
    assert m.naswot(nn.Sequential(nn.ReLU6()), torch.tensor([[1.0, -1.0], [1.0, 1.0]])) == pytest.approx(
        math.log(3)
    )
    with pytest.raises(SystemExit, match="naswot needs ReLU or ReLU6 layers; this model has none"):
        m.naswot(nn.Sequential(nn.GELU()), torch.tensor([[1.0, -1.0]]))
    # SynFlow: one linear unit with weights -3 and 7 on an all-ones input: sum |w * dR/dw| = 3 + 7, log10 1.
    lin = nn.Sequential(nn.Flatten(), nn.Linear(3 * 2 * 2, 1, bias=False))
    with torch.no_grad():
        lin[1].weight.zero_()
        lin[1].weight[0, :2] = torch.tensor([-3.0, 7.0])
    assert m.synflow(lin, 2) == pytest.approx(1.0)
    # Gradient norm and SNIP of CE on a zero linear model: the gradient is (softmax - onehot) x^T.
    x, y = torch.tensor([[1.0, 2.0]]), torch.tensor([0])
    zero = nn.Linear(2, 2, bias=False)
    nn.init.zeros_(zero.weight)
    norm, snip = m.gradient_signals(zero, x, y)
    assert norm == pytest.approx(math.sqrt(2 * 0.25 * 5))  # rows -0.5 x and 0.5 x
    assert snip == 0.0  # every weight is zero
    # Kept widths: convs of 8 and 4 channels cut to 2 and 4: smallest 0.25, mean 0.625.
    dense = nn.Sequential(nn.Conv2d(3, 8, 1), nn.Conv2d(8, 4, 1))
    pruned = nn.Sequential(nn.Conv2d(3, 2, 1), nn.Conv2d(2, 4, 1))
    assert m.widths(pruned, dense) == (0.25, 0.625)
    # KL to its own logits is zero. The zero model outputs (1/2, 1/2); a teacher at (3/4, 1/4) is
    # 3/4 ln(3/2) + 1/4 ln(1/2) away.
    assert m.teacher_kl(zero, x, zero(x)) == pytest.approx(0.0, abs=1e-7)
    expected = 0.75 * math.log(1.5) + 0.25 * math.log(0.5)
    assert m.teacher_kl(zero, x, torch.tensor([[math.log(3.0), 0.0]])) == pytest.approx(expected)


def test_zero_cost_finals_of_one_dense_model_only(tmp_path) -> None:
    m = _zero_cost()
    line = {"split": "new", "top1": 0.8, "fineTune": {"steps": 2442, "macs": 100, "params": 10, "seed": 0}}
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.write_text(json.dumps(line) + "\n" + json.dumps({**line, "top1": 0.9}) + "\n")
    b.write_text(json.dumps({**line, "top1": 0.7}) + "\n")
    assert m.finals_of([str(a)], 2442) == {(100, 10): [0.8, 0.9]}
    assert m.finals_of([str(a)], 100) == {}
    # The same shape in the files of two dense models: refused, naming both.
    with pytest.raises(SystemExit, match=f"100 MACs, 10 params have finals in {a} and {b}"):
        m.finals_of([str(a), str(b)], 2442)


def test_zero_cost_pool_on_known_cases(tmp_path) -> None:
    m = _zero_cost()
    finals = [0.8, 0.7, 0.6]

    def case(name: str, params: list[int]) -> str:
        rows = [
            {**dict.fromkeys(m.SIGNALS, 1.0), "zeroShotLoss": float(i), "params": p, "final": f}
            for i, (p, f) in enumerate(zip(params, finals, strict=True))
        ]
        (tmp_path / name).write_text("".join(json.dumps(r) + "\n" for r in rows))
        return str(tmp_path / name)

    # params orders case a as the finals do and case b backwards (its first pick ends 20 points below);
    # the lower loss is better, and it falls as the finals rise in both.
    pooled = m.pool([case("a", [3, 2, 1]), case("b", [1, 2, 3])])
    assert pooled["cases"] == 2
    assert pooled["params"] == {"rho": 0.0, "regretMean": 10.0, "regretMax": 20.0}
    assert pooled["zeroShotLoss"] == {"rho": 1.0, "regretMean": 0.0, "regretMax": 0.0}
    with pytest.raises(SystemExit, match="1 candidates with a final, 3 needed"):
        (tmp_path / "c").write_text(json.dumps({"final": 0.5}) + "\n")
        m.pool([str(tmp_path / "c")])


def test_zero_cost_pooled_on_the_eight_committed_cases() -> None:
    """bench/RESULTS.md, "resnet18 at 0.3": the six democnn cases and the two resnet18 cases pooled.

    The zero-shot top-1 ranks at 0.31 and its picks cost a mean 0.32, at most 1.11 points; the mean kept width
    picks within 0.47 points but ranks at 0.08. On resnet18 alone both rank backwards (-0.37, -0.68)."""
    m = _zero_cost()
    sweep = Path(__file__).resolve().parents[2] / "bench" / "results" / "recovery-sweep"
    democnn = [
        sweep / f"xeon-c100-zero-cost-{c}.jsonl"
        for c in ("d16-0.5", "d16-0.4", "d16-0.3", "d16-0.15", "d24-0.15", "d24-0.3")
    ]
    resnet18 = [sweep / f"amd-c100-r18-zero-cost-{t}.jsonl" for t in ("0.5", "0.3")]
    pooled = m.pool([str(f) for f in democnn + resnet18])
    assert pooled["cases"] == 8
    assert pooled["zeroShotTop1"] == {"rho": 0.306, "regretMean": 0.32, "regretMax": 1.11}
    assert pooled["meanWidth"] == {"rho": 0.078, "regretMean": 0.21, "regretMax": 0.47}
    on_resnet18 = m.pool([str(f) for f in resnet18])
    assert on_resnet18["zeroShotTop1"] == {"rho": -0.374, "regretMean": 0.29, "regretMax": 0.38}
    assert on_resnet18["meanWidth"] == {"rho": -0.681, "regretMean": 0.39, "regretMax": 0.47}
    assert on_resnet18["params"]["rho"] == -0.618
    assert on_resnet18["naswot"] == {"rho": 0.476, "regretMean": 0.1, "regretMax": 0.21}
    # mobilenet_v2 at 0.5: its rho line is the verdict of its rows; mean kept width and zero-shot loss lead.
    mnv2 = (sweep / "amd-c100-mnv2-zero-cost-0.5.jsonl").read_text().splitlines()
    rows = [json.loads(line) for line in mnv2]
    judged = [r for r in rows if "final" in r]
    assert len(judged) == 6 and m.verdict(judged) == rows[-1]
    assert (rows[-1]["rho"]["meanWidth"], rows[-1]["rho"]["zeroShotLoss"]) == (0.771, 0.714)


def _four_candidates() -> list[dict]:
    """Four candidates that zero-shot top-1 orders 1 > 2 > 3 > 4, whose finals favour 4 (0.90), then 3
    (0.85), 1 (0.80), 2 (0.70); and a fifth row without a final, which is not a candidate."""
    return [
        {"attempt": i, "macs": 10 * i, "params": i, "zeroShotTop1": 1 - i / 10, "final": f}
        for i, f in ((1, 0.80), (2, 0.70), (3, 0.85), (4, 0.90))
    ] + [{"attempt": 9, "macs": 90, "params": 9, "zeroShotTop1": 1.0}]


def _four_recovery_scores(steps: tuple[int, ...]) -> list[dict]:
    """The four candidates' recovery scores at each of `steps`: 3 > 4 > 2 > 1 (0.6, 0.5, 0.3, 0.2); their
    losses 1 - top-1 plus the steps / 1000."""
    return [
        {"macs": 10 * i, "params": i, "scoreSteps": n, "scoreTop1": t, "scoreLoss": 1 - t + n / 1000}
        for i, t in ((1, 0.2), (2, 0.3), (3, 0.6), (4, 0.5))
        for n in steps
    ]


def test_zero_cost_screen_on_a_known_case() -> None:
    m = _zero_cost()
    # Four candidates: zero-shot top-1 orders them 1, 2, 3, 4; their 40-step scores favour 3, then 4; the
    # finals favour 4 (0.90). Keeping 3 finalists (1, 2, 3) picks 3 (0.85): 5 points below 4. Keeping 2
    # (1, 2) picks 2 (0.70): 20 points below. A row without a final is not a candidate.
    rows = _four_candidates()
    scored = _four_recovery_scores((10, 40))
    assert m.screen(rows, scored, 40, 3) == {"attempt": 3, "regret": 5.0}
    assert m.screen(rows, scored, 40, 2) == {"attempt": 2, "regret": 20.0}
    with pytest.raises(SystemExit, match=r"no 160-step score for attempts \[1, 2, 3, 4\]"):
        m.screen(rows, scored, 160, 3)


def test_zero_cost_rank_sum_on_a_known_case() -> None:
    m = _zero_cost()
    # Zero-shot top-1 orders four candidates 1 > 2 > 3 > 4 (ranks 4, 3, 2, 1); their 40-step scores
    # 3 > 4 > 2 > 1 (ranks 1, 2, 4, 3). Sums 5, 5, 6, 4: candidate 3 first, 4 last. The finals favour 4
    # (0.90), then 3 (0.85), 1 (0.80), 2 (0.70): regret 5 points. Rho of the sums' ranks (2.5, 2.5, 4, 1)
    # against the finals' (2, 1, 3, 4): deviations (0, 0, 1.5, -1.5) and (-0.5, -1.5, 0.5, 1.5), so
    # -1.5 / sqrt(4.5 x 5) = -0.316.
    rows = _four_candidates()
    scored = _four_recovery_scores((40,))
    assert m.rank_sum(rows, scored, 40) == {"rho": -0.316, "attempt": 3, "regret": 5.0}
    with pytest.raises(SystemExit, match=r"no 10-step score for attempts \[1, 2, 3, 4\]"):
        m.rank_sum(rows, scored, 10)


def _zero_cost_cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """``bench/zero_cost.py ARGS`` run in ``cwd`` in the engine's environment."""
    return subprocess.run(
        [sys.executable, str(ZERO_COST), *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ENGINE)},
        timeout=300,
        check=False,
    )


def test_zero_cost_fit_pairs_recovery_scores_and_ranks_held_out_cases_on_known_ones() -> None:
    m = _zero_cost()
    # Each candidate gets every length's recovery top-1 and loss, paired by MACs and parameters; the row
    # without a final is left out. The lower loss is the better one.
    judged = m.with_recovery(_four_candidates(), _four_recovery_scores((10, 40)), [10, 40])
    assert [r["attempt"] for r in judged] == [1, 2, 3, 4]
    assert [r["recovery40Top1"] for r in judged] == [0.2, 0.3, 0.6, 0.5]
    assert [r["recovery10Loss"] for r in judged] == pytest.approx([0.81, 0.71, 0.41, 0.51])
    signals, lower = m.fit_signals([10, 40])
    assert signals[-4:] == ("recovery10Top1", "recovery10Loss", "recovery40Top1", "recovery40Loss")
    assert {"recovery10Loss", "recovery40Loss", "zeroShotLoss"} <= lower and "recovery40Top1" not in lower
    with pytest.raises(SystemExit, match=r"no 160-step score for attempts \[1, 2, 3, 4\]"):
        m.with_recovery(_four_candidates(), _four_recovery_scores((40,)), [160])

    # Three cases of four candidates. Signal `a` rises with the finals in every case, `loss` falls with them
    # (lower is better), `noise` follows no order and `against` ranks every case backwards. Fitted on the
    # other two cases, `a` (or `loss`) ranks each held-out case exactly: rho 1, regret 0. `against` alone
    # is fitted a negative weight and so ranks them exactly too; `noise` alone cannot.
    def case(finals: list[float]) -> list[dict]:
        order = [sorted(finals).index(f) for f in finals]
        return [
            {"final": f, "a": float(o), "loss": 10.0 - o, "noise": float(j % 2), "against": -float(o)}
            for j, (f, o) in enumerate(zip(finals, order, strict=True))
        ]

    cases = [case([0.7, 0.9, 0.8, 0.6]), case([0.5, 0.55, 0.65, 0.6]), case([0.9, 0.8, 0.85, 0.7])]
    fits = ((("a",), set()), (("loss",), {"loss"}), (("a", "noise"), set()), (("against",), set()))
    for signals, lower in fits:
        got = m.fit(cases, signals, lower)
        assert got["rho"] == [1.0, 1.0, 1.0] and got["regret"] == [0.0, 0.0, 0.0], signals
        assert got["cases"] == 3 and got["inSample"]["rhoMean"] == 1.0
    assert m.fit(cases, ("against",), set())["inSample"]["weights"]["against"] < 0
    noise = m.fit(cases, ("noise",), set())
    assert noise["rhoMean"] < 0.5 and noise["regretMax"] > 0
    with pytest.raises(SystemExit, match="--fit needs 3 cases or more, got 2"):
        m.fit(cases[:2], ("a",), set())


def test_zero_cost_fit_on_the_eight_committed_cases() -> None:
    """bench/RESULTS.md, "A fitted combination of the signals": every training-free signal and the 40-step
    recovery score (then also the 10-step one) weighted by ridge fits that leave one case out rank the eight
    2,442-step cases at a mean 0.32 (0.37), no better than the 40-step score alone (0.34), and pick worse
    (regret mean 0.95, max 5.9 points, against 0.16 / 0.47). Fitted on the same cases they are judged on,
    0.58 (0.56): below 0.7 even so."""
    sweep = Path(__file__).resolve().parents[2] / "bench" / "results" / "recovery-sweep"
    cases = [
        "xeon-c100-zero-cost-d16-0.5.jsonl=xeon-c100-0.5-ft2442-seeds01.json@0.5",
        "xeon-c100-zero-cost-d16-0.4.jsonl=xeon-c100-0.4-0.3-ft2442-seeds01.json@0.4",
        "xeon-c100-zero-cost-d16-0.3.jsonl=xeon-c100-0.4-0.3-ft2442-seeds01.json@0.3",
        "xeon-c100-zero-cost-d16-0.15.jsonl=xeon-c100-0.15-ft2442-seeds012.json@0.15",
        "xeon-c100-zero-cost-d24-0.15.jsonl=xeon-c100-d24-0.15-ft2442-seeds01.json@0.15",
        "xeon-c100-zero-cost-d24-0.3.jsonl=xeon-c100-d24-0.3-ft2442-seeds01.json@0.3",
        "amd-c100-r18-zero-cost-0.5.jsonl=amd-c100-r18-0.5-ft2442-seeds01.json@0.5",
        "amd-c100-r18-zero-cost-0.3.jsonl=amd-c100-r18-0.3-ft2442-seeds01.json@0.3",
    ]

    def fitted_with(more: list[str], steps: str) -> dict:
        run = _zero_cost_cli(["--fit", steps, *cases, *more], sweep)
        assert run.returncode == 0, run.stderr
        return json.loads(run.stdout)

    def fitted(steps: str) -> dict:
        return fitted_with([], steps)

    at40 = fitted("40")
    assert at40["fit"] == "ridge on 12 signals' within-case z-scores, leave one case out"
    assert at40["cases"] == 8
    assert at40["rho"] == [0.829, 0.6, 0.314, -0.829, 0.771, 0.143, 0.783, -0.029]
    assert (at40["rhoMean"], at40["regretMean"], at40["regretMax"]) == (0.323, 0.95, 5.9)
    assert at40["inSample"]["rho"] == [0.943, 0.6, 0.886, 0.029, 0.771, 0.257, 0.783, 0.371]
    assert at40["inSample"]["rhoMean"] == 0.58
    # With mobilenet_v2 at 0.5 (RESULTS.md "mobilenet_v2 at 0.5") as a ninth case: worse both ways.
    nine = fitted_with(["amd-c100-mnv2-zero-cost-0.5.jsonl=amd-c100-mnv2-0.5-ft2442-seeds01.json@0.5"], "40")
    assert (nine["cases"], nine["rhoMean"], nine["regretMax"]) == (9, 0.222, 23.64)
    assert nine["inSample"]["rhoMean"] == 0.503
    both = fitted("10,40")
    assert (both["rhoMean"], both["regretMean"], both["regretMax"]) == (0.369, 0.95, 5.9)
    assert both["inSample"]["rhoMean"] == 0.562
    # The 40-step score alone over the same eight cases, judged by the same rows.
    m = _zero_cost()
    alone = [
        m.verdict(m.with_recovery(rows, scored, [40]), ("recovery40Top1",), set())["rho"]["recovery40Top1"]
        for rows, scored in m._cases(["=".join(str(sweep / f) for f in c.split("=")) for c in cases])
    ]
    assert round(sum(alone) / len(alone), 2) == 0.34


@pytest.mark.parametrize(
    ("args", "says"),
    [
        ([], "usage: bench/zero_cost.py FILE..."),
        (["--fit", "40"], "--fit needs STEPS[,STEPS...] and three cases or more"),
        (["--fit", "40:3", "a=b.json@0.3"], "--fit needs STEPS[,STEPS...] and three cases or more"),
        (["--fit", "40", "a=b"], "'a=b': expected FILE=RESULT.json@TARGET"),
        (["--screen", "40:3"], "--screen needs STEPS:KEEP and one case or more"),
        (["--screen", "40", "a=b.json@0.3"], "--screen needs STEPS:KEEP and one case or more"),
        (["--screen", "40:3", "a=b"], "'a=b': expected FILE=RESULT.json@TARGET"),
        (["--screen", "40:3", "a=b.json@x"], "'a=b.json@x': expected FILE=RESULT.json@TARGET"),
        (["--screen", "40:3", "none.jsonl=none.json@0.3"], "none.jsonl, none.json: not found"),
        (["--rank-sum", "40"], "--rank-sum needs STEPS and one case or more"),
        (["--rank-sum", "40:3", "a=b.json@0.3"], "--rank-sum needs STEPS and one case or more"),
        (["--rank-sum", "40", "a=b"], "'a=b': expected FILE=RESULT.json@TARGET"),
        (["none.jsonl"], "bench/zero_cost: none.jsonl: not found"),
    ],
)
def test_zero_cost_bad_arguments_are_refused_naming_them(args: list[str], says: str, tmp_path) -> None:
    run = _zero_cost_cli(args, tmp_path)
    assert run.returncode == 1 and run.stdout == ""
    assert says in run.stderr and "Traceback" not in run.stderr


def test_zero_cost_without_finals_no_rho_and_only_the_attempts_asked_for(three_cuts) -> None:
    run = _signals(three_cuts, "--zero-cost", "--attempts", "2")
    assert run.returncode == 0, run.stderr
    rows = [json.loads(line) for line in run.stdout.splitlines()]
    assert [r["attempt"] for r in rows] == [2] and "final" not in rows[0]


# --reprune: each candidate's shape, its channels chosen anew on the dense teacher.


def _script() -> Any:
    return _load("score_signals", SCRIPT)


def test_reprune_keeps_the_shape_and_drops_the_channels_of_least_magnitude(campaign, tmp_path) -> None:
    import torch

    from agentic_engine import pruned_folder
    from agentic_engine import training as T
    from agentic_engine.macs import count_macs

    attempt = campaign["folder"] / "attempt-2"
    history = pruned_folder.read(attempt, "x").history
    # A block's inner group (conv1's outputs: bn1, conv2's inputs) that the candidate cut; its first two
    # channels zeroed in every tensor of the group, so that any magnitude ranks them last.
    name, _, cut = next(e for e in history if e[0].endswith(".conv1") and len(e[2]) >= 2)
    block = name.removesuffix(".conv1")
    state = torch.load(campaign["spec"]["weights"], map_location="cpu", weights_only=True)
    state = state.get("state_dict", state)
    for key in ("conv1.weight", "bn1.weight", "bn1.bias"):
        state[f"{block}.{key}"][:2] = 0
    state[f"{block}.conv2.weight"][:, :2] = 0
    teacher = tmp_path / "teacher.pt"
    torch.save(state, teacher)
    spec = {"name": "democnn", "numClasses": len(campaign["classes"]), "weights": str(teacher)}

    dst = _script().reprune(attempt, tmp_path / "attempt-2", spec, 1)

    rebuilt = pruned_folder.read(dst, "x").history
    # Group by group, as many channels dropped as the candidate dropped: the same shape.
    assert [(n, len(i)) for n, _, i in rebuilt] == [(n, len(i)) for n, _, i in history]
    dropped = dict((n, i) for n, _, i in rebuilt)[name]
    assert {0, 1} <= set(dropped)
    model, _ = T.load_model({**spec, "weights": None, "pruned": str(dst)}, "model")
    count = count_macs(model.eval(), torch.zeros(1, 3, 32, 32))
    p = campaign["pruned"][2]
    assert (count.macs, count.params) == (p["macs"], p["params"])
    # The kept channels carry the teacher's weights, not the candidate's.
    kept = [c for c in range(state[f"{block}.conv1.weight"].shape[0]) if c not in set(dropped)]
    got = dict(model.named_modules())[name].weight
    assert len(kept) == got.shape[0] == state[f"{block}.conv1.weight"].shape[0] - len(cut)
    assert torch.equal(got, state[f"{block}.conv1.weight"][kept])


def test_reprune_rows_paired_with_finals_and_a_rho_line_per_length(three_cuts, tmp_path) -> None:
    finals = tmp_path / "new-val.jsonl"
    lines = []
    for index, top1 in ((1, 0.80), (2, 0.70), (3, 0.60)):
        p = three_cuts["pruned"][index]
        ft = {"steps": 2442, "macs": p["macs"], "params": p["params"], "seed": 0}
        lines.append({"split": "new", "top1": top1, "fineTune": ft})
    finals.write_text("".join(json.dumps(line) + "\n" for line in lines))

    run = _signals(three_cuts, "--reprune", "l1", "--steps", "2,3", "--finals", str(finals))
    assert run.returncode == 0, run.stderr
    out = [json.loads(line) for line in run.stdout.splitlines()]
    rows, verdicts = out[:6], out[6:]
    assert [(r["attempt"], r["steps"]) for r in rows] == [(a, n) for a in (1, 2, 3) for n in (2, 3)]
    for r in rows:
        p = three_cuts["pruned"][r["attempt"]]
        # Rebuilt, each candidate keeps its MACs and parameters, and so its finals.
        assert (r["macs"], r["params"]) == (p["macs"], p["params"])
        assert r["finalSeeds"] == 1
    assert [r["final"] for r in rows] == pytest.approx([0.8, 0.8, 0.7, 0.7, 0.6, 0.6])
    # One rho line per length, each the verdict of that length's three rows (the loss and KL negated).
    m = _zero_cost()
    assert [v["steps"] for v in verdicts] == [2, 3]
    for v in verdicts:
        mine = [r for r in rows if r["steps"] == v["steps"]]
        assert v["candidates"] == 3
        assert set(v["rho"]) == {"top1", "loss", "teacherKl", "teacherAgreement"}
        final = [r["final"] for r in mine]
        assert v["rho"]["top1"] == round(m.spearman([r["top1"] for r in mine], final), 3)
        assert v["rho"]["loss"] == round(m.spearman([-r["loss"] for r in mine], final), 3)
        best = max(mine, key=lambda r: r["top1"])
        assert v["regret"]["top1"] == round(100 * (0.8 - best["final"]), 2)


def test_reprune_with_zero_cost_is_refused(campaign) -> None:
    run = _signals(campaign, "--zero-cost", "--reprune", "l1")
    assert run.returncode == 2 and run.stdout == ""
    assert "--reprune" in run.stderr and "--zero-cost" in run.stderr


# The committed --reprune runs (bench/RESULTS.md, "Each candidate's shape alone"), named without their common
# ending: every rho line is the verdict of its rows, and the top-1 rho and regret per length are the figures
# the section quotes.
RESULTS = SCRIPT.parent / "results" / "recovery-sweep"
REPRUNE_QUOTED = {
    "amd-c100-r18d24-0.15-ft10000": {40: (-0.319, 0.96), 160: (0.543, 0.0), 320: (0.829, 0.0)},
    "amd-c100-r18d24-0.15-ft2442": {40: (0.406, 1.22), 160: (0.657, 0.15), 320: (0.6, 0.15)},
    "amd-c100-r18d24-0.3-ft10000": {40: (-0.6, 0.6), 160: (-0.657, 0.6), 320: (0.486, 0.56)},
    "amd-c100-r18d24-0.3-ft2442": {40: (-0.543, 0.73), 160: (-0.486, 0.73), 320: (0.486, 0.19)},
    "amd-c100-r18-0.3-ft2442": {40: (-0.143, 0.23), 160: (-0.319, 0.47), 320: (0.886, 0.21)},
    "amd-c100-r18-0.5-ft2442": {40: (0.015, 0.0), 160: (0.406, 0.29), 320: (0.261, 0.29)},
}


@pytest.mark.parametrize("name", sorted(REPRUNE_QUOTED))
def test_reprune_committed_runs_their_rho_lines_and_the_figures_quoted(name: str) -> None:
    m, script = _zero_cost(), _script()
    out = [json.loads(line) for line in (RESULTS / f"{name}-reprune-l1.jsonl").read_text().splitlines()]
    rows, verdicts = [r for r in out if "attempt" in r], [r for r in out if "rho" in r]
    for v in verdicts:
        judged = [r for r in rows if r["steps"] == v["steps"] and "final" in r]
        again = m.verdict(judged, script.RECOVERY_SIGNALS, script.RECOVERY_LOWER_IS_BETTER)
        assert {k: v[k] for k in again} == again
    quoted = {v["steps"]: (v["rho"]["top1"], v["regret"]["top1"]) for v in verdicts}
    assert quoted == REPRUNE_QUOTED[name]
