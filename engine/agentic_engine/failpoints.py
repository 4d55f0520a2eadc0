"""Failpoints: a pause at the start of a named job, set from the environment, for the fault suite.

``AP_ENGINE_FAILPOINTS="prune=60,evaluate=60"`` makes each named job sleep that many seconds before it
starts (a line on stderr says so), so a test can SIGKILL a worker, or the engine itself, while
that job is known to be in flight; the activity keeps heartbeating meanwhile, as it does for a slow job.
With ``AP_ENGINE_FAILPOINT_MARKS=<dir>`` each failpoint fires once per folder, across every engine process
and worker that shares it (the first hit creates ``<dir>/<job>``), so the retry of a job on a fresh engine
runs at once. Unset (the default, and in production), nothing happens.

A malformed setting is an error at the job's start, naming the variable: a fault test that arms nothing
would prove nothing.
"""

from __future__ import annotations

import os
import time

from .protocol import EngineError, log

__all__ = ["failpoint_pause", "parse_failpoints"]

ENV = "AP_ENGINE_FAILPOINTS"
MARKS_ENV = "AP_ENGINE_FAILPOINT_MARKS"


def parse_failpoints(raw: str) -> dict[str, float]:
    """``"prune=60,evaluate=2.5"`` -> ``{"prune": 60.0, "evaluate": 2.5}``; an EngineError naming the variable
    for anything else."""
    out: dict[str, float] = {}
    for item in (p.strip() for p in raw.split(",")):
        if not item:
            continue
        job, sep, seconds = item.partition("=")
        try:
            value = float(seconds)
        except ValueError:
            value = float("nan")
        if not sep or not job.strip() or not (0 <= value < float("inf")):
            raise EngineError(
                f"{ENV}: {item!r}: expected <job>=<seconds>, e.g. prune=60", type="BadFailpoint"
            )
        out[job.strip()] = value
    return out


def _first_hit(marks: str, job: str) -> bool:
    os.makedirs(marks, exist_ok=True)
    try:
        fd = os.open(os.path.join(marks, job), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    os.close(fd)
    return True


def failpoint_pause(job: str) -> None:
    """Sleep at the start of ``job`` if a failpoint names it (once per marks folder when one is set)."""
    raw = os.environ.get(ENV)
    if not raw:
        return
    seconds = parse_failpoints(raw).get(job)
    if seconds is None:
        return
    marks = os.environ.get(MARKS_ENV)
    if marks and not _first_hit(marks, job):
        return
    log(f"failpoint: {job} paused for {seconds:g} s ({ENV})")
    time.sleep(seconds)
