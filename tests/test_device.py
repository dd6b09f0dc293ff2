"""Devices: resolving ``device=``, precisions, decoding in worker processes, the perceptual
metrics on a device, and the cluster's one-GPU-per-worker plan.

The CUDA tests skip on a machine without a GPU; the CPU ones pin down that asking for a
missing device is a clear error and that the CPU numbers are what they always were.
"""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from simkit.features import images  # noqa: E402
from simkit.features.device import (DeviceError, available_devices, precision_context,  # noqa: E402
                                    resolve_device)

HAS_CUDA = torch.cuda.is_available()
HAS_MPS = bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())
needs_cuda = pytest.mark.skipif(not HAS_CUDA, reason="needs a CUDA GPU")
no_cuda = pytest.mark.skipif(HAS_CUDA, reason="this machine has a CUDA GPU")


# -- resolve_device, precision_context ---------------------------------------------------
def test_auto_is_the_best_device_here():
    assert resolve_device("auto") == torch.device(available_devices()[0])
    assert resolve_device(None) == resolve_device("auto")
    assert available_devices()[-1] == "cpu"
    if not HAS_CUDA and not HAS_MPS:
        assert resolve_device("auto") == torch.device("cpu")
    assert resolve_device("CPU ") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")


@no_cuda
def test_cuda_without_a_gpu_is_a_clear_error():
    with pytest.raises(DeviceError, match=r"no CUDA GPU.*devices here: .*cpu"):
        resolve_device("cuda")
    with pytest.raises(DeviceError, match=r"'cuda:7'.*no CUDA GPU"):
        resolve_device("cuda:7")


def test_a_gpu_index_beyond_the_gpus_is_an_error():
    n = torch.cuda.device_count() if HAS_CUDA else 0
    with pytest.raises(DeviceError, match=r"cuda:7|cuda:99"):
        resolve_device("cuda:99" if n > 7 else "cuda:7")


@pytest.mark.skipif(HAS_MPS, reason="this machine has Apple MPS")
def test_mps_when_absent():
    with pytest.raises(DeviceError, match="Apple MPS is not available"):
        resolve_device("mps")


@pytest.mark.parametrize("name", ["banana", "gpu", "cuda:x", "meta", "tpu:0"])
def test_unknown_device_names(name):
    with pytest.raises(DeviceError, match="unknown device"):
        resolve_device(name)


def test_device_error_is_a_user_error():
    from simkit.errors import SimkitError
    assert issubclass(DeviceError, SimkitError) and issubclass(DeviceError, ValueError)


def test_precisions():
    with pytest.raises(DeviceError, match="fp16 needs a GPU"):
        precision_context("fp16", "cpu")
    with pytest.raises(DeviceError, match="unknown precision"):
        precision_context("fp8", "cpu")
    with precision_context("fp32", "cpu"):
        pass
    x = torch.randn(4, 4)
    with precision_context("bf16", "cpu"):
        assert torch.mm(x, x).dtype == torch.bfloat16


# -- iter_batches in worker processes ----------------------------------------------------
@pytest.fixture(scope="module")
def image_items(tmp_path_factory):
    """Eleven files: portrait and landscape images in runs (two shapes under keep-aspect),
    PNG and JPEG, and one corrupt file in the middle."""
    from PIL import Image

    root = tmp_path_factory.mktemp("imgs")
    rng = np.random.default_rng(0)
    shapes = [(48, 64)] * 4 + [(64, 48)] * 3 + [(48, 64)] * 3
    items = []
    for k, (h, w) in enumerate(shapes):
        path = root / f"im{k:02d}.{'png' if k % 2 else 'jpg'}"
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(path)
        items.append((10 + k, path))
    bad = root / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg")
    items.insert(5, (99, bad))
    return items


def _collect(items, **kw):
    errors, skipped = {}, []
    out = list(images.iter_batches(items, policy="keep-aspect", size=40, batch_size=3,
                                   errors=errors, on_skip=skipped.append, **kw))
    return out, errors, skipped


def test_workers_give_the_same_batches(image_items):
    ref, ref_err, ref_skip = _collect(image_items)
    got, err, skip = _collect(image_items, workers=2)
    assert [i for i, _ in got] == [i for i, _ in ref]
    assert [i for i, _ in ref] == [[10, 11, 12], [13], [14, 15, 16], [17, 18, 19]]
    for (_, a), (_, b) in zip(ref, got):
        assert a.shape == b.shape and torch.equal(a, b)
        assert b.is_contiguous(memory_format=torch.channels_last)
    assert {tuple(x.shape[2:]) for _, x in got} == {(40, 53), (53, 40)}
    assert err == ref_err and list(err) == [99] and "bad.jpg" in err[99]
    assert skip == ref_skip == [99]


def test_workers_and_pin_memory_without_cuda_change_nothing(image_items):
    ref, _, _ = _collect(image_items[:4])
    got, _, _ = _collect(image_items[:4], workers=1, pin_memory=True)
    assert all(torch.equal(a, b) for (_, a), (_, b) in zip(ref, got))
    assert len(got) == len(ref)


def test_worker_errors_surface(image_items):
    # a bug-like error inside a worker comes back with its type and message
    with pytest.raises(ValueError, match="unknown preprocessing policy"):
        list(images.iter_batches(image_items[:2], policy="bogus", workers=1))


def test_a_silent_worker_times_out(image_items, monkeypatch):
    monkeypatch.setattr(images, "WORKER_TIMEOUT", 1e-3)  # no worker answers that fast
    with pytest.raises(images.DecodeWorkerError, match="timed out.*workers"):
        list(images.iter_batches(image_items, workers=1))


class DyingItems(images.DecodeItems):
    """A dataset whose worker dies at its first item (a crash, or killed for memory)."""

    def __getitem__(self, k):
        import os
        os._exit(3)


def test_a_dead_worker_is_found_quickly(image_items, monkeypatch):
    import time

    monkeypatch.setattr(images, "DecodeItems", DyingItems)  # pickled by reference
    monkeypatch.setattr(images, "WORKER_POLL", 0.5)
    t = time.perf_counter()
    with pytest.raises(images.DecodeWorkerError, match="exited unexpectedly"):
        list(images.iter_batches(image_items, workers=1))
    assert time.perf_counter() - t < 60  # not WORKER_TIMEOUT (300 s)


def test_stopping_early_and_no_items(image_items):
    it = images.iter_batches(image_items, workers=2, batch_size=2)
    first = next(it)
    it.close()  # the workers are shut down, nothing hangs
    assert first[0] == [10, 11]
    assert list(images.iter_batches([], workers=2)) == []
    with pytest.raises(ValueError, match="workers=-1"):
        list(images.iter_batches(image_items, workers=-1))


def test_default_workers(monkeypatch):
    for cpus, want in [(1, 0), (2, 1), (4, 3), (16, 4)]:
        monkeypatch.setattr(images.os, "sched_getaffinity", lambda _pid, n=cpus: set(range(n)),
                            raising=False)
        assert images.default_workers() == want


def test_decode_items_pickle(image_items):
    import pickle

    data = images.DecodeItems(image_items[:2], "resize", 32, images.MAX_PIXELS,
                              images.IMAGENET_MEAN, images.IMAGENET_STD)
    again = pickle.loads(pickle.dumps(data))
    assert len(again) == 2 and torch.equal(again[0][1], data[0][1])


# -- the perceptual metrics on a device ------------------------------------------------------
def _pixels(n: int, size: int = 32, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    base = torch.rand(n, 3, 8, 8, generator=g)
    up = torch.nn.functional.interpolate(base, size=size, mode="bilinear", align_corners=False)
    return (up * 255).round().to(torch.uint8)


def test_perceptual_on_cpu_equals_the_default():
    from simkit.methods.perceptual.metrics import PerceptualMetric
    from simkit.methods.perceptual.networks import load_network

    a, b = _pixels(4, seed=1), _pixels(4, seed=2)
    m = PerceptualMetric.baseline("alexnet", "spatial+sort", weights="random:0", size=32)
    cpu = m.distance(a, b, device="cpu")
    default = m.distance(a, b)
    net = load_network("alexnet", "random:0", device="cpu")
    assert net.device == torch.device("cpu")
    if resolve_device("auto").type == "cpu":
        np.testing.assert_array_equal(cpu, default)
    else:  # a GPU's convolutions may use TF32 (PyTorch's default for cuDNN)
        np.testing.assert_allclose(cpu, default, rtol=1e-2)
    np.testing.assert_array_equal(cpu, m.distance(a, b, net))
    if not HAS_CUDA:
        with pytest.raises(DeviceError, match="no CUDA GPU"):
            load_network("alexnet", "random:0", device="cuda")


def test_adapt_on_cpu_equals_the_default():
    from simkit.methods.perceptual.adaptation import adapt
    from simkit.methods.perceptual.datasets import distortion_triplets
    from simkit.methods.perceptual.networks import load_network
    from simkit.methods.perceptual.twoafc import triplet_statistics

    trip = distortion_triplets(_pixels(12), "translate,rotate,zoom,brightness,hue,blur",
                               seed=0, per_image=2)
    st = triplet_statistics(trip, load_network("alexnet", "random:0", device="cpu"),
                            ["spatial"], size=32, progress=False)
    kw = dict(epochs=2, decay_epochs=1, progress=False)
    cpu = adapt(st, "spatial", device="cpu", **kw)
    if resolve_device("auto").type == "cpu":
        default = adapt(st, "spatial", **kw)
        np.testing.assert_array_equal(cpu.w, default.w)
        assert cpu.history["val_2afc"].tolist() == default.history["val_2afc"].tolist()


@no_cuda
def test_cli_device_cuda_without_a_gpu_exits_2(tmp_path, capsys):
    from simkit.cli import main

    out = tmp_path / "r.json"
    for sub in ("score", "adapt"):
        code = main(["perceptual", sub, "--data", f"distortions={tmp_path}", "--weights",
                     "random:0", "--size", "32", "--out", str(out), "--device", "cuda",
                     "--no-progress"])
        err = capsys.readouterr().err
        assert code == 2
        assert err.startswith("error: device 'cuda': this machine has no CUDA GPU")
        assert "Traceback" not in err and not out.exists()
    assert main(["perceptual", "score", "--data", f"distortions={tmp_path}", "--out",
                 str(out), "--device", "banana"]) == 2
    assert "unknown device 'banana'" in capsys.readouterr().err


@needs_cuda
class TestCuda:
    """On a CUDA GPU: the same numbers as the CPU, within float tolerance (1 %: cuDNN
    convolutions run in TF32 by default; a device mix-up would be far off)."""

    def test_perceptual_distances_match_the_cpu(self):
        from simkit.methods.perceptual.metrics import PerceptualMetric

        a, b = _pixels(6, 64, seed=1), _pixels(6, 64, seed=2)
        for comparison in ("spatial", "mean", "sort", "spatial+sort"):
            m = PerceptualMetric.baseline("alexnet", comparison, weights="random:0")
            cpu = m.distance(a, b, device="cpu")
            gpu = m.distance(a, b, device="cuda")
            np.testing.assert_allclose(gpu, cpu, rtol=1e-2)
            ec, eg = m.embed(a, device="cpu"), m.embed(a, device="cuda")
            np.testing.assert_allclose(eg, ec, rtol=1e-2, atol=1e-3 * np.abs(ec).max())
            # ‖v_a − v_b‖² = d(a, b) holds on the GPU too
            np.testing.assert_allclose(((m.embed(b, device="cuda") - eg) ** 2).sum(1), gpu,
                                       rtol=1e-3)

    def test_statistics_and_adaptation_on_cuda(self):
        from simkit.methods.perceptual.adaptation import adapt
        from simkit.methods.perceptual.datasets import distortion_triplets
        from simkit.methods.perceptual.networks import load_network
        from simkit.methods.perceptual.twoafc import triplet_statistics

        trip = distortion_triplets(_pixels(12), "translate,rotate,zoom,brightness,hue,blur",
                                   seed=0, per_image=2)
        stats = {dev: triplet_statistics(trip, load_network("vgg16", "random:0", device=dev),
                                         size=32, progress=False) for dev in ("cpu", "cuda")}
        for base in ("spatial", "mean", "sort"):
            cpu, gpu = stats["cpu"].stats[base], stats["cuda"].stats[base]
            np.testing.assert_allclose(gpu, cpu, rtol=1e-2, atol=1e-3 * np.abs(cpu).max())
            np.testing.assert_allclose(gpu.sum(1), cpu.sum(1), rtol=1e-2)
        r = adapt(stats["cuda"], "spatial", device="cuda", epochs=2, decay_epochs=1,
                  progress=False)
        assert r.w.shape == (sum(load_network("vgg16", "random:0", device="cpu").channels),)
        assert np.all(r.w >= 0) and np.isfinite(r.w).all()

    def test_pinned_batches(self, image_items):
        got, _, _ = _collect(image_items, workers=1, pin_memory=True)
        ref, _, _ = _collect(image_items)
        for (_, a), (_, b) in zip(ref, got):
            assert b.is_pinned() and torch.equal(a, b)
            assert b.is_contiguous(memory_format=torch.channels_last)


# -- the cluster's devices -----------------------------------------------------------------
def test_cluster_devices_on_this_machine():
    from simkit.scale.cluster import local_gpus, worker_device

    assert local_gpus("cpu") == []
    if not HAS_CUDA:
        assert local_gpus("auto") == []
        with pytest.raises(DeviceError, match="no CUDA GPU"):
            local_gpus("cuda")
    else:
        n = torch.cuda.device_count()
        assert local_gpus("auto") == local_gpus("cuda") == [f"cuda:{i}" for i in range(n)]
        assert local_gpus("cuda:0") == ["cuda:0"]
    # outside a Dask worker: the device as asked, or the first GPU of the plan
    assert worker_device("cpu") == "cpu"
    assert worker_device("auto", ["cuda:0", "cuda:1"]) == "cuda:0"


def test_cluster_worker_i_takes_gpu_i(monkeypatch):
    distributed = pytest.importorskip("distributed")
    from simkit.scale.cluster import worker_device

    class FakeWorker:
        name = 3

    monkeypatch.setattr(distributed, "get_worker", lambda: FakeWorker)
    assert worker_device("auto", ["cuda:0", "cuda:1"]) == "cuda:1"
    assert worker_device("auto", ["cuda:0", "cuda:1", "cuda:2", "cuda:3"]) == "cuda:3"
    FakeWorker.name = "tcp-worker-a"  # a name that is not an index: the first GPU
    assert worker_device("auto", ["cuda:0", "cuda:1"]) == "cuda:0"


def test_index_collection_here_records_its_device(tmp_path):
    from PIL import Image

    from simkit.scale.cluster import index_collection

    paths = {}
    for k in range(3):
        p = tmp_path / f"im{k}.png"
        Image.fromarray(np.full((40, 40, 3), 40 * k, np.uint8)).save(p)
        paths[f"im{k}"] = p
    res = index_collection(paths, weights="random:0", size=32, workers=0, progress=False,
                           store_root=tmp_path / "store", representations=["gram"],
                           device="cpu", dashboard=None)
    assert res.stats["computed"] == 3 and res.stats["devices"] == ["cpu"]
    if not HAS_CUDA:
        with pytest.raises(DeviceError, match="no CUDA GPU"):
            index_collection(paths, weights="random:0", size=32, workers=0, progress=False,
                             store_root=tmp_path / "store", device="cuda", dashboard=None)
