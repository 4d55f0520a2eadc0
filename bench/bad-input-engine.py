"""Engine half of bench/bad-input.ts: the request generators of engine/tests/test_properties.py with more
examples, counting per job how many requests were tried, handled cleanly (a valid request model, or a
RequestError naming a field of the request) and failed (anything else). Does not stop at a failure.

Usage: PYTHONPATH=engine engine/.venv/bin/python bench/bad-input-engine.py [--examples 10000] [--seed 16]
Prints one JSON line per job (the fields of bench/bad-input.ts's rows).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, seed, settings

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "engine" / "tests"))
from test_properties import VALID, broken, judge  # noqa: E402


def measure(job: str, examples: int, seed_value: int) -> dict[str, Any]:
    model, base = VALID[job]
    row: dict[str, Any] = {
        "surface": f"engine request: {job}",
        "tried": 0,
        "valid": 0,
        "typedError": 0,
        "failed": 0,
    }
    failures: list[str] = []

    @seed(seed_value)
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(broken(base))
    def count(raw: Any) -> None:
        row["tried"] += 1
        try:
            outcome = judge(model, raw)
        except Exception as e:  # noqa: BLE001 - a failure is counted, not raised: the bench goes on
            row["failed"] += 1
            if len(failures) < 3:
                failures.append(
                    f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
                )
            return
        row["valid" if outcome == "valid" else "typedError"] += 1

    t0 = time.perf_counter()
    count()
    row["wallMs"] = round((time.perf_counter() - t0) * 1000)
    row["firstFailures"] = failures
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=10000)
    parser.add_argument("--seed", type=int, default=16)
    args = parser.parse_args()
    for job in sorted(VALID):
        print(json.dumps(measure(job, args.examples, args.seed)), flush=True)


if __name__ == "__main__":
    main()
