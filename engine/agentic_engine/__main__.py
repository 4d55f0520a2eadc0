"""Command line: ``python -m agentic_engine <job> [--request JSON | --request-file PATH]`` or ``serve``.

One-shot mode reads the request from ``--request``, ``--request-file`` or stdin, runs the job and exits:
0 on success, 2 on a bad request, 1 on any other failure (an ``error`` event says which).

``serve`` is the warm mode: one JSON object per stdin line, ``{"id": str, "job": str, "request": {...}}``;
events carry the id; the process keeps its imports and caches between jobs and keeps serving after a
failed job. It starts by emitting ``{"event": "ready", "protocol": N}``.
"""

from __future__ import annotations

import argparse
import json
import sys

from . import PROTOCOL_VERSION
from .jobs import JOBS, run_job
from .protocol import Emitter, RequestError

__all__ = ["main", "serve"]


def serve() -> int:
    """Warm mode: take jobs as JSON lines on stdin until EOF."""
    Emitter().emit("ready", protocol=PROTOCOL_VERSION)
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            msg = json.loads(line)
        except json.JSONDecodeError as e:
            Emitter().error(RequestError(None, f"stdin line is not JSON: {e}"))
            continue
        request_id = msg.get("id") if isinstance(msg, dict) else None
        emit = Emitter(request_id=str(request_id) if request_id is not None else None)
        if not isinstance(msg, dict) or not isinstance(request_id, str):
            emit.error(
                RequestError("id", "each line must be an object with a string id, a job and a request")
            )
            continue
        run_job(msg.get("job"), msg.get("request", {}), emit)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="agentic_engine", description=__doc__.splitlines()[0])
    parser.add_argument("job", help=f"one of: serve, {', '.join(sorted(JOBS))}")
    parser.add_argument("--request", help="the request as a JSON string")
    parser.add_argument("--request-file", help="path to a JSON file holding the request")
    args = parser.parse_args(argv)
    if args.job == "serve":
        return serve()
    emit = Emitter()
    try:
        if args.request is not None:
            raw = args.request
        elif args.request_file is not None:
            with open(args.request_file, encoding="utf-8") as f:
                raw = f.read()
        else:
            raw = sys.stdin.read() if not sys.stdin.isatty() else "{}"
        request = json.loads(raw) if raw.strip() else {}
    except (OSError, json.JSONDecodeError) as e:
        emit.error(RequestError("request", f"cannot read the request: {e}"))
        return 2
    return run_job(args.job, request, emit)


if __name__ == "__main__":
    sys.exit(main())
