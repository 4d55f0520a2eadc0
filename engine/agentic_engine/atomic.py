"""Atomic writes: a file the engine names (in an ``artifact`` event, a result, a later job) is complete.

One recipe for every artifact: write to a hidden temp file beside the target (same folder, so the same
filesystem), flush and fsync it, then ``os.replace`` it over the target. A crash leaves the old file or
the new one, never half of one, and a failed write removes its temp file. The temp name
``.<name>.tmp-<pid>`` keeps two processes writing the same target from sharing a temp file.

Example::

    write_json(out_dir / "history.json", saved)                 # json.dumps(saved), utf-8
    torch_save(state_dict, out_dir / "state_dict.pt")           # torch.save into the temp file
    write_with(path, lambda tmp: torch.onnx.export(model, args, str(tmp)))   # writers that want a path

Folders are swapped in the same spirit by :func:`replace_dir` (``make-dataset``).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

__all__ = [
    "temp_path",
    "write_stream",
    "write_with",
    "write_bytes",
    "write_json",
    "torch_save",
    "copy_file",
    "replace_dir",
]


def temp_path(path: str | Path) -> Path:
    """The temp name a write of ``path`` goes through: ``<dir>/.<name>.tmp-<pid>``."""
    target = Path(path)
    return target.with_name(f".{target.name}.tmp-{os.getpid()}")


def _fsync(path: Path) -> None:
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def write_with(path: str | Path, write: Callable[[Path], Any]) -> Path:
    """Call ``write(temp_path)`` (it creates the file), fsync it, rename it to ``path``; returns ``path``.

    For writers that take a file name (the ONNX exporter). The parent folder is created if missing.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(target)
    try:
        write(tmp)
        _fsync(tmp)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def write_stream(path: str | Path, write: Callable[[IO[bytes]], Any]) -> Path:
    """Call ``write(f)`` on the temp file opened for binary writing, fsync, rename to ``path``."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(target)
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically."""
    return write_stream(path, lambda f: f.write(data))


def write_json(path: str | Path, obj: Any, **dumps: Any) -> Path:
    """``json.dumps(obj, **dumps)`` as utf-8, atomically (no trailing newline is added)."""
    return write_bytes(path, json.dumps(obj, **dumps).encode("utf-8"))


def torch_save(obj: Any, path: str | Path) -> Path:
    """``torch.save(obj)`` into the temp file (a stream, so the bytes do not depend on the temp name)."""
    import torch

    return write_stream(path, lambda f: torch.save(obj, f))


def copy_file(src: str | Path, dst: str | Path) -> Path:
    """Copy ``src``'s bytes to ``dst`` atomically."""
    return write_stream(dst, lambda f: _copy_into(Path(src), f))


def _copy_into(src: Path, f: IO[bytes]) -> None:
    with open(src, "rb") as s:
        shutil.copyfileobj(s, f)


def replace_dir(tmp_dir: str | Path, target: str | Path) -> None:
    """Put the finished folder ``tmp_dir`` at ``target``, replacing an old ``target`` if there is one.

    A folder cannot be renamed over a non-empty one, so an old ``target`` is first moved aside to
    ``.<name>.old-<pid>`` and deleted after the swap; ``target`` is never a half-written folder.
    """
    tmp, dst = Path(tmp_dir), Path(target)
    if dst.exists():
        old = dst.with_name(f".{dst.name}.old-{os.getpid()}")
        os.replace(dst, old)
        os.replace(tmp, dst)
        shutil.rmtree(old, ignore_errors=True)
    else:
        dst.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, dst)
