"""Where the networks run: ``device="auto"`` and the precision they run in.

>>> resolve_device("auto")          # doctest: +SKIP
device(type='cuda', index=0)

``auto`` takes the first of CUDA, Apple MPS and the CPU that this machine has. A device
named explicitly (``cuda``, ``cuda:1``, ``mps``, ``cpu``) must exist: asking for a GPU on a
machine without one is a :class:`DeviceError`, never a silent fall back to the CPU (a
benchmark or a cluster job would otherwise run for hours on the wrong hardware).

Precision: ``fp32`` runs the network in float32 (on a GPU with TF32 switched off for the
call, so the choices are the CPU's); ``bf16`` and ``fp16`` run it under
autocast (``fp16`` on GPUs only: the CPU has no fast half-precision kernels). bf16 pays on
GPUs and on CPUs with bfloat16 instructions (AVX512-BF16, AMX: about 2x on VGG-19); on a
CPU with AVX2 only it is emulated and 8–10x *slower* than fp32. Whatever
the precision, the representations (Gram, Cosine, pooling) and every distance are computed
in float32 from the layer's output.
"""
from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from simkit.errors import SimkitError

if TYPE_CHECKING:
    import torch

__all__ = ["DEVICES", "PRECISIONS", "DeviceError", "resolve_device", "device_name",
           "precision_context", "available_devices"]

#: What ``device=`` / ``--device`` accept (``cuda:N`` too).
DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("fp32", "bf16", "fp16")


class DeviceError(SimkitError, ValueError):
    """A device that does not exist here, or a precision it cannot run."""


def _has_mps() -> bool:
    import torch

    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def available_devices() -> list[str]:
    """The devices this machine has, best first (always ends with ``cpu``)."""
    import torch

    found = [f"cuda:{i}" for i in range(torch.cuda.device_count())] if (
        torch.cuda.is_available()) else []
    if _has_mps():
        found.append("mps")
    return found + ["cpu"]


def resolve_device(device: "str | torch.device | None" = "auto") -> "torch.device":
    """The ``torch.device`` for ``device`` (``auto``: CUDA, then MPS, then CPU).

    Raises
    ------
    DeviceError
        For an unknown name, or a device this machine does not have (the message lists
        the devices it has).
    """
    import torch

    if isinstance(device, torch.device):
        device = str(device)
    spec = str(device or "auto").strip().lower()
    if spec == "auto":
        return torch.device(available_devices()[0])
    try:
        dev = torch.device(spec)
    except RuntimeError:
        raise DeviceError(f"unknown device {device!r}; use one of {', '.join(DEVICES)} or "
                          f"cuda:N") from None
    have = available_devices()
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceError(f"device {device!r}: this machine has no CUDA GPU (torch sees "
                              f"none); use --device cpu or auto (devices here: "
                              f"{', '.join(have)})")
        index = 0 if dev.index is None else dev.index
        if index >= torch.cuda.device_count():
            raise DeviceError(f"device {device!r}: there are only "
                              f"{torch.cuda.device_count()} CUDA GPU(s) here (cuda:0 … "
                              f"cuda:{torch.cuda.device_count() - 1})")
        return torch.device("cuda", index)
    if dev.type == "mps" and not _has_mps():
        raise DeviceError(f"device {device!r}: Apple MPS is not available here; use "
                          f"--device cpu or auto (devices here: {', '.join(have)})")
    if dev.type not in ("cpu", "cuda", "mps"):
        raise DeviceError(f"unknown device {device!r}; use one of {', '.join(DEVICES)} or "
                          f"cuda:N")
    return dev


def device_name(device: "torch.device") -> str:
    """A line for people: ``cpu``, ``cuda:0 (NVIDIA H200)``, ``mps``."""
    import torch

    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    return str(device)


@contextlib.contextmanager
def _strict_fp32():
    # cuDNN runs float32 convolutions in TF32 (10-bit mantissa) by default on Ampere and
    # later: fp32 means float32 here, so the GPU's choices are the CPU's
    import torch

    before = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = before


def precision_context(precision: str, device: "torch.device | str" = "cpu"
                      ) -> contextlib.AbstractContextManager:
    """The context a network runs in on ``device``: nothing for ``fp32``, autocast to
    bfloat16 / float16 for ``bf16`` / ``fp16``."""
    import torch

    if precision not in PRECISIONS:
        raise DeviceError(f"unknown precision {precision!r}; use one of "
                          f"{', '.join(PRECISIONS)}")
    kind = torch.device(device).type
    if precision == "fp32":
        return _strict_fp32() if kind == "cuda" else contextlib.nullcontext()
    if precision == "fp16" and kind == "cpu":
        raise DeviceError("precision fp16 needs a GPU (the CPU has no fast float16 "
                          "kernels); use bf16 on the CPU, or fp32")
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(kind, dtype=dtype)
