"""Gram / Cosine / Gram·Cosine (eqs. 1-3) against a plain loop implementation."""
import numpy as np
import pytest
import torch

from simkit.features.representations import (REPRESENTATIONS, compute, cosine, gram, gram_cosine,
                                    tril_size, tril_vector)


def loop_reference(F: np.ndarray) -> dict[str, np.ndarray]:
    """Eqs. 1-3 written out element by element in float64."""
    F = F.astype(np.float64)
    c = F.shape[0]
    G = np.zeros((c, c))
    C = np.zeros((c, c))
    for i in range(c):
        for j in range(c):
            G[i, j] = sum(F[i, k] * F[j, k] for k in range(F.shape[1]))
            ni, nj = np.sqrt((F[i] ** 2).sum()), np.sqrt((F[j] ** 2).sum())
            C[i, j] = 0.0 if ni == 0 or nj == 0 else G[i, j] / (ni * nj)
    r, k = np.tril_indices(c)
    return {"gram": G[r, k], "cosine": C[r, k], "gram_cosine": (G * C)[r, k]}


def test_tril_size_of_conv5_1():
    assert tril_size(512) == 131_328


def test_matches_loop_reference_including_zero_channel():
    rng = np.random.default_rng(0)
    F = np.maximum(rng.normal(size=(2, 7, 12)), 0).astype(np.float32)  # ReLU-like maps
    F[1, 3] = 0.0  # an all-zero feature map: its cosines must be 0, not NaN
    out = compute(torch.from_numpy(F))
    assert list(out) == list(REPRESENTATIONS)
    for n in range(2):
        ref = loop_reference(F[n])
        for name in REPRESENTATIONS:
            got = out[name][n].numpy()
            assert got.dtype == np.float32 and got.shape == (tril_size(7),)
            np.testing.assert_allclose(got, ref[name], rtol=1e-5, atol=1e-6)
    cos = cosine(F[1]).numpy()[0]
    assert np.all(cos[3] == 0) and np.all(cos[:, 3] == 0)
    assert not np.isnan(cos).any()
    # cosine has ones on the diagonal of non-zero maps
    assert np.allclose(np.delete(np.diag(cos), 3), 1.0, atol=1e-6)


def test_tril_order_is_numpy_tril_indices():
    m = torch.arange(16.0).reshape(1, 4, 4)
    r, c = np.tril_indices(4)
    assert tril_vector(m)[0].tolist() == m[0].numpy()[r, c].tolist()
    assert tril_vector(m)[0].tolist()[:4] == [0.0, 4.0, 5.0, 8.0]  # (0,0) (1,0) (1,1) (2,0)


def test_accepts_4d_maps_and_batches_equal_single():
    rng = np.random.default_rng(1)
    F = rng.random((3, 5, 4, 2)).astype(np.float32)
    batched = gram_cosine(F)
    for n in range(3):
        single = gram_cosine(F[n].reshape(5, 8))
        np.testing.assert_allclose(batched[n].numpy(), single[0].numpy(), rtol=1e-6)
    assert torch.allclose(gram(F), gram(F).transpose(1, 2))


def test_unknown_representation_and_bad_shape():
    with pytest.raises(ValueError, match="unknown representation"):
        compute(np.ones((1, 2, 3), np.float32), ["style"])
    with pytest.raises(ValueError, match="feature maps must be"):
        gram(np.ones(5, np.float32))
