"""The engine's JSON-lines protocol.

Every job writes events to stdout, one JSON object per line, each with an ``event`` field:

- ``progress``: ``{"event": "progress", "stage": str, "fraction": float | None, ...}``
- ``artifact``: ``{"event": "artifact", "kind": str, "path": str, "sha256": str, "sizeBytes": int}``
  (written only after the file is complete on disk)
- ``result``:   ``{"event": "result", "data": {...}}`` exactly once on success
- ``error``:    ``{"event": "error", "type": str, "message": str, "field": str | None}`` on failure

In warm (``serve``) mode every event also carries the request's ``id``.
Logs never go to stdout: use :func:`log` (stderr).
"""

from __future__ import annotations

import hashlib
import json
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import ConfigDict
from pydantic.alias_generators import to_camel

__all__ = [
    "EngineError",
    "RequestError",
    "Emitter",
    "request_config",
    "field_path",
    "sha256_file",
    "log",
]


def request_config(*, populate_by_name: bool = True, camel: bool = True) -> ConfigDict:
    """The pydantic config of every request model: strict and finite.

    Unknown keys are errors; JSON types are taken as they are (``"0.3"`` is not a number, ``true`` is not
    1, ``"yes"`` is not a boolean; an int is still a valid float); NaN and +-Infinity are refused, so a
    range check can never be passed by a NaN. The first problem becomes a RequestError naming the field.
    """
    return ConfigDict(
        extra="forbid",
        alias_generator=to_camel if camel else None,
        populate_by_name=populate_by_name,
        strict=True,
        allow_inf_nan=False,
    )


def field_path(loc: tuple[Any, ...]) -> str | None:
    """A pydantic error location as a dotted field path, on one line: an empty key or one holding a newline
    or another unprintable character is shown JSON-quoted (``""``, ``"a\\nb"``)."""
    return ".".join(_segment(str(p)) for p in loc) or None


def _segment(key: str) -> str:
    return key if key != "" and key.isprintable() else json.dumps(key)


class EngineError(Exception):
    """Raised by a job for a failure that is not the request's fault (e.g. a forward pass gives NaN).

    ``type`` is a stable machine-readable name the TS side branches on; ``retryable`` says whether
    running the same request again could succeed.
    """

    def __init__(self, message: str, type: str = "EngineError", retryable: bool = False) -> None:
        super().__init__(message)
        self.type = type
        self.retryable = retryable


class RequestError(EngineError):
    """Raised when a request is invalid; ``field`` names the offending field (dotted path)."""

    def __init__(self, field: str | None, message: str) -> None:
        super().__init__(f"{field}: {message}" if field else message, type="RequestError", retryable=False)
        self.field = field


def sha256_file(path: str | Path, chunk_bytes: int = 1 << 20) -> str:
    """Hex sha256 of a file, streamed."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(chunk_bytes):
            h.update(chunk)
    return h.hexdigest()


def log(*parts: object) -> None:
    """Write a log line to stderr (stdout is reserved for protocol events)."""
    print(*parts, file=sys.stderr, flush=True)


class Emitter:
    """Writes protocol events to a stream, tagging each with the request id in warm mode."""

    _lock = threading.Lock()

    def __init__(self, stream: Any = None, request_id: str | None = None) -> None:
        self._stream = stream if stream is not None else sys.stdout
        self._request_id = request_id

    def emit(self, event: str, **fields: Any) -> None:
        payload: dict[str, Any] = {"event": event, **fields}
        if self._request_id is not None:
            payload["id"] = self._request_id
        line = json.dumps(payload, separators=(",", ":"), allow_nan=False, default=_json_default)
        with Emitter._lock:
            self._stream.write(line + "\n")
            self._stream.flush()

    def progress(self, stage: str, fraction: float | None = None, **fields: Any) -> None:
        self.emit("progress", stage=stage, fraction=fraction, **fields)

    def artifact(self, kind: str, path: str | Path, **fields: Any) -> dict[str, Any]:
        """Announce a complete file; returns the reference ``{path, sha256, sizeBytes}``."""
        p = Path(path)
        ref = {
            "kind": kind,
            "path": str(p.resolve()),
            "sha256": sha256_file(p),
            "sizeBytes": p.stat().st_size,
        }
        self.emit("artifact", **ref, **fields)
        return ref

    def result(self, data: dict[str, Any]) -> None:
        self.emit("result", data=data)

    def error(self, err: BaseException) -> None:
        if isinstance(err, RequestError):
            self.emit("error", type=err.type, message=str(err), field=err.field, retryable=False)
        elif isinstance(err, EngineError):
            self.emit("error", type=err.type, message=str(err), field=None, retryable=err.retryable)
        else:
            self.emit("error", type=type(err).__name__, message=str(err), field=None, retryable=False)


def _json_default(obj: Any) -> Any:
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "item"):
        return obj.item()
    if isinstance(obj, (set, tuple)):
        return list(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


JobFn = Callable[[dict[str, Any], Emitter], dict[str, Any]]
