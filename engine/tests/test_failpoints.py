"""Failpoints (the fault suite's pause at a job's start): parsing, the pause, the job's answer."""

from __future__ import annotations

import io
import json
import time

import pytest

from agentic_engine.failpoints import ENV, parse_failpoints
from agentic_engine.jobs import run_job
from agentic_engine.protocol import Emitter, EngineError


def ping(capsys: pytest.CaptureFixture[str]) -> tuple[int, float, list[dict], str]:
    """Run the ping job through run_job; exit code, seconds taken, events, stderr."""
    out = io.StringIO()
    t0 = time.monotonic()
    code = run_job("ping", {}, Emitter(stream=out))
    took = time.monotonic() - t0
    events = [json.loads(line) for line in out.getvalue().splitlines()]
    return code, took, events, capsys.readouterr().err


def test_parse() -> None:
    assert parse_failpoints("prune=60, evaluate=2.5,") == {"prune": 60.0, "evaluate": 2.5}
    assert parse_failpoints("prune-dry-run=fail,prune=1") == {"prune-dry-run": "fail", "prune": 1.0}
    assert parse_failpoints("") == {}


def test_fail_fails_that_job_alone(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv(ENV, "ping=fail")
    code, took, events, _ = ping(capsys)
    assert code == 1 and took < 5
    assert events[-1]["event"] == "error"
    assert events[-1]["message"] == "failpoint: ping failed (AP_ENGINE_FAILPOINTS)"
    assert events[-1]["type"] == "Failpoint"
    monkeypatch.setenv(ENV, "prune=fail")
    code, _, events, _ = ping(capsys)
    assert code == 0 and events[-1]["event"] == "result"


@pytest.mark.parametrize(
    "raw",
    ["prune", "prune=", "=5", "=fail", "prune=soon", "prune=-1", "prune=inf", "prune=nan", "prune=FAIL"],
)
def test_parse_refuses_naming_the_variable(raw: str) -> None:
    with pytest.raises(EngineError, match=rf"^{ENV}: .*expected <job>=<seconds>"):
        parse_failpoints(raw)


def test_unset_or_other_job_does_not_pause(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.delenv(ENV, raising=False)
    code, _, events, err = ping(capsys)
    assert code == 0 and events[-1]["event"] == "result" and "failpoint" not in err
    monkeypatch.setenv(ENV, "prune=30")
    code, took, events, err = ping(capsys)
    assert code == 0 and took < 5 and "failpoint" not in err


def test_pause_then_the_job_runs(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv(ENV, "ping=0.3")
    for _ in range(2):  # every time
        code, took, events, err = ping(capsys)
        assert code == 0 and events[-1]["event"] == "result"
        assert took >= 0.3
        assert "failpoint: ping paused for 0.3 s (AP_ENGINE_FAILPOINTS)" in err


def test_malformed_setting_fails_the_job_naming_it(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv(ENV, "ping=later")
    code, _, events, _ = ping(capsys)
    assert code == 1
    assert events[-1]["event"] == "error"
    assert events[-1]["message"].startswith("AP_ENGINE_FAILPOINTS: 'ping=later': expected <job>=<seconds>")
