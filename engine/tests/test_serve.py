"""Warm mode over a real subprocess: bad requests answer an error and the engine keeps serving."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

STRATEGY = {"pruningRatio": 0.3, "importance": "l2", "globalPruning": True, "isomorphic": True}


class Engine:
    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "agentic_engine", "serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            bufsize=1,
        )
        assert self.read()["event"] == "ready"

    def read(self) -> dict[str, Any]:
        line = self.proc.stdout.readline()
        assert line, "engine closed stdout"
        return json.loads(line)

    def send_line(self, line: str) -> None:
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def call(self, id: str, job: str, request: dict[str, Any]) -> dict[str, Any]:
        """Send one job and return its final event (result or error); every event carries the id."""
        self.send_line(json.dumps({"id": id, "job": job, "request": request}))
        while True:
            event = self.read()
            assert event["id"] == id
            if event["event"] in ("result", "error"):
                return event

    def close(self) -> int:
        self.proc.stdin.close()
        return self.proc.wait(timeout=60)


def test_serve_keeps_serving_after_bad_requests(tmp_path: Path) -> None:
    engine = Engine()
    try:
        assert engine.call("1", "ping", {"echo": "hi"})["data"]["echo"] == "hi"
        bad = engine.call(
            "2",
            "prune",
            {
                "model": {"name": "democnn"},
                "outDir": str(tmp_path / "a"),
                "strategy": {**STRATEGY, "pruningRatio": 1.5},
            },
        )
        assert bad["event"] == "error" and bad["field"] == "strategy.pruningRatio"
        engine.send_line("this is not json")
        assert engine.read()["event"] == "error"
        unknown = engine.call("3", "fly", {})
        assert unknown["event"] == "error" and unknown["field"] == "job"
        first = engine.call(
            "4", "prune", {"model": {"name": "democnn"}, "strategy": STRATEGY, "outDir": str(tmp_path / "b")}
        )
        assert first["event"] == "result" and first["data"]["warm"] is False
        second = engine.call(
            "5",
            "prune",
            {
                "model": {"name": "democnn"},
                "strategy": {**STRATEGY, "pruningRatio": 0.5},
                "outDir": str(tmp_path / "c"),
            },
        )
        assert second["event"] == "result" and second["data"]["warm"] is True
        assert second["data"]["macs"] < first["data"]["macs"]
        missing = engine.call(
            "6",
            "prune",
            {
                "model": {"name": "democnn"},
                "outDir": str(tmp_path / "d"),
                "strategy": {**STRATEGY, "ignoredLayers": ["stem.9"]},
            },
        )
        assert missing["event"] == "error" and missing["field"] == "strategy.ignoredLayers"
        assert engine.call("7", "profile", {"model": {"name": "democnn"}})["data"]["macs"] == 27_362_560
    finally:
        assert engine.close() == 0
