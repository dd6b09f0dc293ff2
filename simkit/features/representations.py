"""Gram, Cosine and Gram·Cosine representations of deep feature maps (Wei et al., eqs. 1–3).

A layer's output for one image is a ``C x HW`` matrix F (row i = feature map f_i,
flattened). Then

* Gram:        ``G_ij = sum_k f_ik f_jk``                   (eq. 1, a plain sum over HW)
* Cosine:      ``C_ij = G_ij / (||f_i|| ||f_j||)``          (eq. 2; 0 where f_i or f_j is 0)
* Gram·Cosine: ``GdC_ij = G_ij * C_ij``                      (eq. 3, element-wise)

All three are symmetric, so each becomes its lower triangle with the diagonal, in
``numpy.tril_indices(C)`` order (row by row: (0,0), (1,0), (1,1), (2,0), …): for C = 512 a
131,328-dim float32 vector.

Any layer of any model gives one of three layouts, and :func:`reduce` turns each into the
representations asked for: feature maps ``(N, C, H, W)`` (the positions are the pixels),
tokens ``(N, T, D)`` of a transformer (the positions are the patch tokens, after the
class/register tokens; the channels are the D features), or one vector per image
``(N, D)`` (only pooled: a Gram matrix needs positions). *Pooled* (``gap``) is the global
average of maps, the class token of tokens (their mean when there is none), or the vector.

Everything is batched (``N x C x HW`` in, ``N x C(C+1)/2`` out) and computed in float32 with
one batched matrix product; pure computation, no I/O.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Iterable

import numpy as np

if TYPE_CHECKING:
    import torch

__all__ = ["REPRESENTATIONS", "tril_size", "tril_vector", "gram", "cosine", "gram_cosine",
           "compute", "pooled", "positions", "reduce"]

#: The methods of Wei et al., in the order used everywhere.
REPRESENTATIONS = ("gram", "cosine", "gram_cosine")


def tril_size(channels: int) -> int:
    """Length of the lower-triangle vector: ``C (C + 1) / 2`` (131,328 for 512)."""
    return channels * (channels + 1) // 2


_TRIL_CACHE: dict[int, "torch.Tensor"] = {}


def _tril_flat(channels: int) -> "torch.Tensor":
    import torch
    if channels not in _TRIL_CACHE:
        r, c = np.tril_indices(channels)
        # a normal tensor even when first made under inference mode, so that a
        # differentiable forward pass (simkit.methods.explain) can use it too
        with torch.inference_mode(False):
            _TRIL_CACHE[channels] = torch.from_numpy(r * channels + c)
    return _TRIL_CACHE[channels]


def _as_batch(features) -> "torch.Tensor":
    """Accept ``(C, HW)``, ``(N, C, HW)`` or ``(N, C, H, W)``, numpy or torch -> float32 N,C,K."""
    import torch
    t = torch.as_tensor(features)
    if t.dim() == 2:
        t = t.unsqueeze(0)
    elif t.dim() == 4:
        t = t.flatten(2)
    if t.dim() != 3:
        raise ValueError(f"feature maps must be (C, HW), (N, C, HW) or (N, C, H, W); "
                         f"got shape {tuple(t.shape)}")
    return t.to(torch.float32)


def tril_vector(matrices: "torch.Tensor") -> "torch.Tensor":
    """``(N, C, C)`` symmetric matrices -> ``(N, C(C+1)/2)`` lower triangles with diagonal."""
    n, c, _ = matrices.shape
    return matrices.reshape(n, c * c).index_select(1, _tril_flat(c))


def gram(features) -> "torch.Tensor":
    """Gram matrices ``F Fᵀ`` of a batch, ``(N, C, C)`` (eq. 1)."""
    import torch
    f = _as_batch(features)
    return torch.bmm(f, f.transpose(1, 2))


def _cosine_from_gram(g: "torch.Tensor") -> "torch.Tensor":
    import torch
    sq = torch.diagonal(g, dim1=1, dim2=2)  # ||f_i||², never negative (a sum of squares)
    live = sq > 0
    # 1 / ||f_i||, 0 for an all-zero map; the square root is taken of a safe value (1 for
    # zero maps) so that the gradient stays finite there too (simkit.methods.explain)
    safe = torch.where(live, sq, torch.ones_like(sq))
    inv = torch.where(live, 1.0 / safe.sqrt(), torch.zeros_like(sq))
    return g * inv.unsqueeze(2) * inv.unsqueeze(1)


def cosine(features) -> "torch.Tensor":
    """Cosine matrices ``G_ij / (||f_i|| ||f_j||)``, 0 where a map is all zero (eq. 2)."""
    return _cosine_from_gram(gram(features))


def gram_cosine(features) -> "torch.Tensor":
    """Gram·Cosine matrices ``G ⊙ C`` (eq. 3)."""
    g = gram(features)
    return g * _cosine_from_gram(g)


def compute(features, names: Iterable[str] = REPRESENTATIONS) -> dict[str, "torch.Tensor"]:
    """The requested representations of a batch as lower-triangle vectors.

    ``features``: ``(N, C, H, W)`` / ``(N, C, HW)`` (or one ``(C, HW)``). Returns
    ``{name: (N, C(C+1)/2) float32 tensor}``; the Gram matrix is computed once and shared.
    """
    names = list(names)
    unknown = [n for n in names if n not in REPRESENTATIONS]
    if unknown:
        raise ValueError(f"unknown representation(s) {', '.join(unknown)}; choose from "
                         f"{', '.join(REPRESENTATIONS)}")
    g = gram(features)
    out: dict[str, "torch.Tensor"] = {}
    c = _cosine_from_gram(g) if ("cosine" in names or "gram_cosine" in names) else None
    for name in names:
        if name == "gram":
            out[name] = tril_vector(g)
        elif name == "cosine":
            out[name] = tril_vector(c)
        else:
            out[name] = tril_vector(g * c)
    return out


def positions(output: "torch.Tensor", prefix_tokens: int = 0) -> "torch.Tensor":
    """A layer's output as ``(N, C, positions)``: maps flattened, patch tokens transposed."""
    if output.dim() == 4:
        return output.flatten(2)
    if output.dim() == 3:
        return output[:, prefix_tokens:, :].transpose(1, 2)
    raise ValueError(f"this layer gives one vector per image (shape {tuple(output.shape)}): "
                     f"it has no positions for a Gram matrix; use its pooled embedding "
                     f"(embed), or a layer with feature maps or tokens")


def pooled(output: "torch.Tensor", prefix_tokens: int = 0) -> "torch.Tensor":
    """``(N, C)``: the global average of maps, the class token (else the mean token) of
    tokens, or the vectors themselves."""
    if output.dim() == 4:
        return output.mean(dim=(2, 3))
    if output.dim() == 3:
        return output[:, 0] if prefix_tokens else output.mean(dim=1)
    if output.dim() == 2:
        return output
    raise ValueError(f"cannot pool a layer output of shape {tuple(output.shape)}")


def reduce(output: "torch.Tensor", kinds: Iterable[str], prefix_tokens: int = 0
           ) -> dict[str, "torch.Tensor"]:
    """``{kind: (N, dim)}`` for one layer's float32 output: the representations of
    :data:`REPRESENTATIONS` (lower triangles) and ``gap`` (pooled)."""
    kinds = list(kinds)
    reps = [k for k in kinds if k != "gap"]
    out = compute(output if output.dim() == 4 else positions(output, prefix_tokens),
                  reps) if reps else {}
    if "gap" in kinds:
        out["gap"] = pooled(output, prefix_tokens)
    return out
