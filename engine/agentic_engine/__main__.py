"""Command line: ``python -m agentic_engine <job> [--request JSON | --request-file PATH]`` or ``serve``.

One-shot mode reads the request from ``--request``, ``--request-file`` or stdin, runs the job and exits:
0 on success, 2 on a bad request, 1 on any other failure (an ``error`` event says which).

``serve`` is the warm mode: one JSON object per stdin line, ``{"id": str, "job": str, "request": {...}}``;
events carry the id; the process keeps its imports and caches between jobs and keeps serving after a
failed job. It starts by emitting ``{"event": "ready", "protocol": N}``.

The engine never outlives the worker that started it: on Linux it asks the kernel to SIGKILL it when its
parent dies (``PR_SET_PDEATHSIG``), and in warm mode EOF on stdin while a job runs ends the process at once
(the worker that would read the answer is gone); EOF between jobs is a clean exit.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import signal
import sys
import threading

from . import PROTOCOL_VERSION
from .jobs import JOBS, run_job
from .protocol import Emitter, RequestError, log

__all__ = ["main", "serve", "die_with_parent"]

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> bool:
    """Have the kernel SIGKILL this process when its parent dies (Linux); True if that is in place.

    The worker starts the engine in its own process group (so a cancel can kill torch's helpers too), so
    nothing else ends it when the worker is SIGKILLed: without this it finishes a job nobody will read.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) != 0:
            return False
    except (OSError, AttributeError):
        return False
    # The parent may have died before prctl: then we were already handed to init.
    if os.getppid() == 1:
        os._exit(1)
    return True


def serve() -> int:
    """Warm mode: take jobs as JSON lines on stdin until EOF; EOF in the middle of a job exits at once."""
    Emitter().emit("ready", protocol=PROTOCOL_VERSION)
    lines: queue.Queue[str | None] = queue.Queue()
    busy = threading.Event()

    def read_stdin() -> None:
        # A thread, so EOF is seen while the main thread is deep inside torch.
        for raw in sys.stdin:
            lines.put(raw)
        if busy.is_set():
            log("agentic_engine serve: stdin closed during a job (the worker is gone): exiting")
            sys.stderr.flush()
            os._exit(0)
        lines.put(None)

    threading.Thread(target=read_stdin, name="stdin-reader", daemon=True).start()
    while (raw := lines.get()) is not None:
        busy.set()
        try:
            _serve_line(raw)
        finally:
            busy.clear()
    return 0


def _serve_line(line: str) -> None:
    """Answer one stdin line of warm mode: a job, or an error saying why the line is not one."""
    line = line.strip()
    if not line:
        return
    try:
        msg = json.loads(line)
    except json.JSONDecodeError as e:
        Emitter().error(RequestError(None, f"stdin line is not JSON: {e}"))
        return
    request_id = msg.get("id") if isinstance(msg, dict) else None
    emit = Emitter(request_id=str(request_id) if request_id is not None else None)
    if not isinstance(msg, dict) or not isinstance(request_id, str):
        emit.error(RequestError("id", "each line must be an object with a string id, a job and a request"))
        return
    run_job(msg.get("job"), msg.get("request", {}), emit)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="agentic_engine", description=__doc__.splitlines()[0])
    parser.add_argument("job", help=f"one of: serve, {', '.join(sorted(JOBS))}")
    parser.add_argument("--request", help="the request as a JSON string")
    parser.add_argument("--request-file", help="path to a JSON file holding the request")
    args = parser.parse_args(argv)
    die_with_parent()
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
