"""Pretrained weights by name, from the libraries' own local caches; never a download.

``weights: torchvision:IMAGENET1K_V2`` is read where ``torchvision.models.resnet50(weights="IMAGENET1K_V2")``
would have put it: ``$TORCH_HOME/hub/checkpoints/resnet50-11ad3fa6.pth`` (``TORCH_HOME`` defaults to
``$XDG_CACHE_HOME/torch``, then ``~/.cache/torch``). The 8 hex digits in that name are the start of the file's
sha256, as ``torch.hub`` names its downloads: a file that does not hash to them is refused.

``weights: timm:fb_in1k`` on ``deit_tiny`` is the Hugging Face hub repo ``timm/deit_tiny_patch16_224.fb_in1k``
in the hub cache (``$HF_HUB_CACHE``, else ``$HF_HOME/hub``, else ``$XDG_CACHE_HOME/huggingface/hub``, else
``~/.cache/huggingface/hub``):
``models--timm--deit_tiny_patch16_224.fb_in1k/snapshots/<rev>/model.safetensors`` (or ``pytorch_model.bin``),
where ``refs/main`` says which revision. The file must load.

A missing entry is one line naming the path looked in and the command that fills it on a host with network.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Literal

import torch

from .protocol import RequestError

__all__ = [
    "NAMED_WEIGHTS",
    "is_named",
    "locate",
    "resolve",
    "read_hub_file",
    "torchvision_table",
    "timm_table",
]

NAMED_WEIGHTS = re.compile(r"^(torchvision|timm):([A-Za-z0-9_.\-]+)$")
"""``<library>:<tag>``; anything else in ``weights`` is a path."""

_HASH = re.compile(r"-([a-f0-9]{8,})\.")
"""torch.hub's HASH_REGEX, at least 8 digits: the sha256 prefix in a checkpoint's file name."""

HUB_FILES = ("model.safetensors", "pytorch_model.bin")
"""What timm reads from a hub repo, in its order of preference."""

FIELD = "model.weights"


def is_named(weights: str | None) -> bool:
    return weights is not None and NAMED_WEIGHTS.match(weights) is not None


def torch_home() -> Path:
    """``torch.hub``'s rule, read now (a worker's environment, not this module's import time)."""
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join("~", ".cache")
    return Path(os.path.expanduser(os.environ.get("TORCH_HOME") or os.path.join(xdg, "torch")))


def hf_hub_cache() -> Path:
    """``huggingface_hub``'s rule for the hub cache, read now."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.path.expanduser(os.environ["HF_HUB_CACHE"]))
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join("~", ".cache")
    home = os.environ.get("HF_HOME") or os.path.join(xdg, "huggingface")
    return Path(os.path.expanduser(home)) / "hub"


Kind = Literal["torch", "safetensors"]


def locate(
    model_name: str, weights: str, torchvision_names: list[str], timm_names: list[str]
) -> tuple[Path, Kind]:
    """The local file that ``weights`` (``torchvision:<TAG>`` / ``timm:<tag>``) of ``model_name`` names,
    unverified: cheap enough for a cache key. RequestError naming ``model.weights`` when it is not there."""
    match = NAMED_WEIGHTS.match(weights)
    assert match is not None
    library, tag = match.groups()
    if library == "torchvision":
        if model_name not in torchvision_names:
            raise RequestError(
                FIELD, f"{weights!r} names torchvision weights; {model_name!r} is not a torchvision model"
            )
        return _torchvision_file(model_name, tag), "torch"
    if model_name not in timm_names:
        raise RequestError(FIELD, f"{weights!r} names timm weights; {model_name!r} is not a timm model")
    return _timm_file(model_name, tag)


def resolve(
    model_name: str, weights: str, torchvision_names: list[str], timm_names: list[str]
) -> tuple[Path, Kind]:
    """:func:`locate`, then verified: a torchvision checkpoint must hash to the prefix in its name."""
    path, kind = locate(model_name, weights, torchvision_names, timm_names)
    expected = _HASH.search(path.name)
    if kind == "torch" and expected is not None:
        digest = _sha256(path)
        if not digest.startswith(expected.group(1)):
            tag = weights.split(":", 1)[1]
            raise RequestError(
                FIELD,
                f"{str(path)!r} is not torchvision's {tag} of {model_name}: its name says sha256 "
                f"{expected.group(1)}..., the file hashes to {digest[: len(expected.group(1))]}...",
            )
    return path, kind


def torchvision_table(names: list[str]) -> dict[str, dict[str, str]]:
    """``{model: {tag: checkpoint file name}}``: what ``torchvision:<tag>`` may name (src/core/model-spec.ts
    holds the same table for the client's pre-flight)."""
    import torchvision

    return {
        name: {w.name: w.url.rsplit("/", 1)[-1] for w in torchvision.models.get_model_weights(name)}
        for name in names
    }


def timm_table(names: list[str]) -> dict[str, list[str]]:
    """``{model: [pretrained tags]}`` with a Hugging Face hub repo, for ``timm:<tag>``."""
    import timm

    out: dict[str, list[str]] = {}
    for name in names:
        tags = []
        for full in timm.list_pretrained(name):
            arch, _, tag = full.partition(".")
            cfg = timm.models.get_pretrained_cfg(full)
            if arch == name and cfg is not None and cfg.hf_hub_id:
                tags.append(tag)
        out[name] = tags
    return out


def _torchvision_file(model_name: str, tag: str) -> Path:
    table = torchvision_table([model_name])[model_name]
    if tag not in table:
        known = ", ".join(table) or "none"
        raise RequestError(FIELD, f"torchvision has no weights {tag!r} for {model_name}; known: {known}")
    file_name = table[tag]
    path = torch_home() / "hub" / "checkpoints" / file_name
    if not path.is_file():
        raise RequestError(
            FIELD,
            f"torchvision weights {tag} of {model_name} are not in the local cache: {str(path)!r} does not "
            f"exist; fill it on a host with network: TORCH_HOME={torch_home()} python -c "
            f"\"import torchvision; torchvision.models.{model_name}(weights='{tag}')\" "
            f"(or copy {file_name} there)",
        )
    return path


def _timm_file(model_name: str, tag: str) -> tuple[Path, Kind]:
    tags = timm_table([model_name])[model_name]
    if tag not in tags:
        raise RequestError(
            FIELD, f"timm has no pretrained tag {tag!r} for {model_name}; known: {', '.join(tags) or 'none'}"
        )
    # Belt and braces: nothing below downloads, and huggingface_hub must not either if imported on the way.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from huggingface_hub import try_to_load_from_cache

    repo = f"timm/{model_name}.{tag}"
    cache = hf_hub_cache()
    for file_name in HUB_FILES:
        found = try_to_load_from_cache(repo, file_name, cache_dir=cache)
        if isinstance(found, str) and Path(found).is_file():
            return Path(found), "safetensors" if file_name.endswith(".safetensors") else "torch"
    folder = cache / f"models--{repo.replace('/', '--')}"
    raise RequestError(
        FIELD,
        f"timm weights {tag} of {model_name} are not in the local cache: no {' or '.join(HUB_FILES)} under "
        f'{str(folder)!r}; fill it on a host with network: HF_HUB_CACHE={cache} python -c "import timm; '
        f"timm.create_model('{model_name}.{tag}', pretrained=True)\"",
    )


def read_hub_file(path: Path) -> dict[str, torch.Tensor]:
    """A hub ``model.safetensors``; RequestError naming the path when it does not load."""
    from safetensors.torch import load_file

    try:
        return load_file(str(path))
    except Exception as e:  # noqa: BLE001 - a truncated or foreign file is the request's fault
        raise RequestError(
            FIELD, f"{str(path)!r} does not load as safetensors ({type(e).__name__})"
        ) from None


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
