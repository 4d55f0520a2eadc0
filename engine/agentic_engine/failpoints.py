"""Failpoints: a pause (or a failure) at the start of a named job, set from the environment, for tests.

``AP_ENGINE_FAILPOINTS="prune=60,evaluate=60"`` makes each named job sleep that many seconds before it
starts (a line on stderr says so), so a test can SIGKILL a worker, or the engine itself, while
that job is known to be in flight; the activity keeps heartbeating meanwhile, as it does for a slow job.
``<job>=fail`` makes that job fail at once with an EngineError of type ``Failpoint`` (what a caller does
when one job of a warm engine fails while the others work). Unset (the default, and in production),
nothing happens.

A malformed setting is an error at the job's start, naming the variable: a fault test that arms nothing
would prove nothing.
"""

from __future__ import annotations

import os
import time

from .protocol import EngineError, log

__all__ = ["failpoint_pause", "parse_failpoints"]

ENV = "AP_ENGINE_FAILPOINTS"


FAIL = "fail"


def parse_failpoints(raw: str) -> dict[str, float | str]:
    """``"prune=60,evaluate=2.5,score=fail"`` -> ``{"prune": 60.0, "evaluate": 2.5, "score": "fail"}``; an
    EngineError naming the variable for anything else."""
    out: dict[str, float | str] = {}
    for item in (p.strip() for p in raw.split(",")):
        if not item:
            continue
        job, sep, seconds = item.partition("=")
        if sep and job.strip() and seconds.strip() == FAIL:
            out[job.strip()] = FAIL
            continue
        try:
            value = float(seconds)
        except ValueError:
            value = float("nan")
        if not sep or not job.strip() or not (0 <= value < float("inf")):
            raise EngineError(
                f"{ENV}: {item!r}: expected <job>=<seconds> or <job>=fail, e.g. prune=60",
                type="BadFailpoint",
            )
        out[job.strip()] = value
    return out


def failpoint_pause(job: str) -> None:
    """Sleep at the start of ``job`` if a failpoint names it (or fail, if it says ``fail``)."""
    raw = os.environ.get(ENV)
    if not raw:
        return
    action = parse_failpoints(raw).get(job)
    if action is None:
        return
    if action == FAIL:
        raise EngineError(f"failpoint: {job} failed ({ENV})", type="Failpoint")
    seconds = float(action)
    log(f"failpoint: {job} paused for {seconds:g} s ({ENV})")
    time.sleep(seconds)
