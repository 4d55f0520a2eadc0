"""``ping``: answers with the engine's versions; used by health checks and the warm-engine handshake."""

from __future__ import annotations

import platform
from typing import Any

from pydantic import BaseModel, Field

from . import PROTOCOL_VERSION
from .jobs import parse_request
from .protocol import Emitter, request_config

__all__ = ["run"]


class PingRequest(BaseModel):
    model_config = request_config(camel=False)
    echo: str | None = None
    # Hold the job this long before answering: lets tests exercise cancellation and timeouts.
    sleepMs: int = Field(default=0, ge=0, le=600_000)


def run(request: dict[str, Any], emit: Emitter) -> dict[str, Any]:
    req = parse_request(PingRequest, request)
    import time

    import torch

    if req.sleepMs:
        emit.progress("sleeping", 0.0)
        time.sleep(req.sleepMs / 1000)

    return {
        "protocol": PROTOCOL_VERSION,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda": torch.cuda.is_available(),
        "echo": req.echo,
    }
