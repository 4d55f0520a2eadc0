"""``ping``: answers with the engine's versions; used by health checks and the warm-engine handshake."""

from __future__ import annotations

import platform
from typing import Any

from pydantic import BaseModel, ConfigDict

from . import PROTOCOL_VERSION
from .jobs import parse_request
from .protocol import Emitter

__all__ = ["run"]


class PingRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    echo: str | None = None


def run(request: dict[str, Any], emit: Emitter) -> dict[str, Any]:
    req = parse_request(PingRequest, request)
    import torch

    return {
        "protocol": PROTOCOL_VERSION,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda": torch.cuda.is_available(),
        "echo": req.echo,
    }
