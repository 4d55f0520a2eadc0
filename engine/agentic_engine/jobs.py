"""Job registry: job name -> ``module:function``, imported lazily so a cold job pays only for what it uses;
and :func:`run_job`, which runs one and answers it with exactly one ``result`` or ``error`` event (the CLI,
warm mode and each torchrun rank all go through it).

A job function has the signature ``run(request: dict, emit: Emitter) -> dict`` and returns the
``result`` event's data. It validates its request with :func:`parse_request` (a pydantic model per job)
and raises :class:`~agentic_engine.protocol.RequestError` / ``EngineError`` on failure.
"""

from __future__ import annotations

import importlib
import traceback
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from .failpoints import failpoint_pause
from .protocol import Emitter, EngineError, JobFn, RequestError, field_path, log

__all__ = ["JOBS", "resolve_job", "run_job", "parse_request", "field_path"]

# One module per job. Add a line here when adding a job.
JOBS: dict[str, str] = {
    "ping": "agentic_engine.ping:run",
    "profile": "agentic_engine.profile:run",
    "prune": "agentic_engine.prune:run",
    "prune-dry-run": "agentic_engine.dry_run:run",
    "export": "agentic_engine.export:run",
    "finetune": "agentic_engine.finetune:run",
    "finetune-plan": "agentic_engine.finetune:plan",
    "evaluate": "agentic_engine.evaluate:run",
    "make-dataset": "agentic_engine.dataset:run",
    "predict": "agentic_engine.predict:run",
    "score": "agentic_engine.score:run",
    "sensitivity": "agentic_engine.sensitivity:run",
}

M = TypeVar("M", bound=BaseModel)


def resolve_job(name: Any) -> JobFn:
    """The job function for ``name``; a RequestError naming ``job`` if there is none."""
    if not isinstance(name, str) or name not in JOBS:
        raise RequestError("job", f"unknown job {name!r}; expected one of {sorted(JOBS)}")
    module_name, fn_name = JOBS[name].split(":")
    module = importlib.import_module(module_name)
    return getattr(module, fn_name)


def run_job(job: Any, request: Any, emit: Emitter) -> int:
    """Run one job, emitting its result or error; returns the process exit code it deserves."""
    try:
        fn = resolve_job(job)
        failpoint_pause(job)
        data = fn(request, emit)
        emit.result(data)
        return 0
    except RequestError as e:
        emit.error(e)
        return 2
    except EngineError as e:
        emit.error(e)
        return 1
    except MemoryError as e:
        emit.error(EngineError(f"out of memory: {e}", type="OutOfMemory"))
        return 1
    except Exception as e:  # noqa: BLE001 - the protocol must answer every failure with an event
        log(traceback.format_exc())
        if type(e).__name__ == "OutOfMemoryError":
            emit.error(EngineError(f"out of GPU memory: {e}", type="OutOfMemory"))
        else:
            emit.error(e)
        return 1


def parse_request(model: type[M], raw: Any, prefix: str | None = None) -> M:
    """Validate ``raw`` against ``model``; the first problem becomes a RequestError naming the field.

    ``prefix``: where ``raw`` sits in the request (``baseStrategy``), put before every field it names.
    """
    if not isinstance(raw, dict):
        raise RequestError(prefix, f"request must be a JSON object, got {type(raw).__name__}")
    try:
        return model.model_validate(raw)
    except ValidationError as e:
        errors = e.errors()
        first = errors[0]
        field = field_path(first["loc"])
        if prefix is not None:
            field = f"{prefix}.{field}" if field else prefix
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise RequestError(field, f"{first['msg']}{more}") from None
