"""agentic-pruner's compute kernel.

Pure compute over PyTorch: profile, prune, finetune, evaluate, export. It knows nothing about
Temporal, S3 or the LLM; it reads one JSON request per job and writes JSON-line events on stdout
(see :mod:`agentic_engine.protocol`). Logs go to stderr.
"""

PROTOCOL_VERSION = 1

__all__ = ["PROTOCOL_VERSION"]
