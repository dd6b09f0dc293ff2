"""Hangs: inputs that used to block for ever now get a clean answer in bounded time.

An image path that is a FIFO or a link to ``/dev/zero`` was hashed before it was checked;
``--workers -1`` started a cluster of no workers; an unreachable scheduler waited. Each
case runs under a hard timeout (``SIGALRM`` in this process, ``timeout=`` for a
subprocess), so a regression fails instead of hanging the suite.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import simkit.cli.app as cli

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX FIFOs needed")

FAST = ["--weights", "random:0", "--size", "32"]


@pytest.fixture
def hard_timeout():
    """Fail (instead of hanging) when the test body runs past ``seconds``."""
    def expire(signum, frame):
        raise TimeoutError("hung: the hard timeout expired")

    old = signal.signal(signal.SIGALRM, expire)
    signal.alarm(60)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


@pytest.fixture
def study(tmp_path):
    from simkit.study.demo import make_demo_study
    make_demo_study(tmp_path / "study", groups_per_genre=1, image_size=64)
    return tmp_path / "study"


def replace_image(study: Path, how: str) -> tuple[str, Path]:
    """Turn the study's first image into a FIFO or a link to /dev/zero; (image id, path)."""
    line = (study / "images.csv").read_text().splitlines()[1]
    image_id, rel = line.split(",")[:2]
    path = study / rel
    path.unlink()
    if how == "fifo":
        os.mkfifo(path)
        return image_id, path
    # a link inside the study to /dev/zero is refused as leaving the study; an absolute
    # path in images.csv is allowed by design, so that is how a device reaches the reader
    csv = study / "images.csv"
    csv.write_text(csv.read_text().replace(f"{image_id},{rel},", f"{image_id},/dev/zero,", 1))
    return image_id, Path("/dev/zero")


KINDS = [("fifo", "a FIFO"), ("zero", "a character device")]


@pytest.mark.parametrize("how, kind", KINDS)
def test_features_refuses_a_fifo_or_device_image_naming_it(study, tmp_path, capsys,
                                                           hard_timeout, how, kind):
    _, path = replace_image(study, how)
    out = tmp_path / "f.npz"
    assert cli.main(["features", str(study), "--out", str(out), *FAST,
                     "--cache-dir", str(tmp_path / "cache")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "error: " in err
    named = [line for line in err.splitlines() if str(path) in line]
    assert named and f"not a regular file ({kind})" in named[0]
    assert not out.exists()


@pytest.mark.parametrize("how, kind", KINDS)
def test_hashing_and_decoding_refuse_before_reading(tmp_path, hard_timeout, how, kind):
    from simkit.features.cache import content_hash
    from simkit.features.engine import content_keys
    from simkit.features.images import ImageError, image_aspect, load_rgb
    from simkit.paths import NotRegularFileError

    path = tmp_path / "img.png"
    os.mkfifo(path) if how == "fifo" else path.symlink_to("/dev/zero")
    with pytest.raises(NotRegularFileError, match=kind):
        content_hash(path)
    keys, errors = content_keys(["img"], [path])
    assert keys == {} and kind in errors["img"] and str(path) in errors["img"]
    with pytest.raises(ImageError, match=kind):
        load_rgb(path)
    assert np.isnan(image_aspect(path))


def test_a_fifo_with_a_writer_is_still_refused(tmp_path, hard_timeout):
    """Non-blocking open: even a FIFO someone writes to is never read."""
    from simkit.features.cache import content_hash
    from simkit.paths import NotRegularFileError

    path = tmp_path / "busy.png"
    os.mkfifo(path)
    writer = subprocess.Popen(["sh", "-c", f"yes > '{path}'"])
    try:
        with pytest.raises(NotRegularFileError, match="FIFO"):
            content_hash(path)
    finally:
        writer.kill()
        writer.wait()


def test_a_huge_file_is_refused_by_size_before_it_is_read(tmp_path):
    from simkit.paths import NotRegularFileError, open_regular

    path = tmp_path / "big.png"
    with open(path, "wb") as fh:
        fh.truncate(10_000)  # sparse: costs no disk
    with pytest.raises(NotRegularFileError, match="more than the limit of 1,000"):
        open_regular(path, max_bytes=1000)


def test_index_refuses_a_fifo_image_naming_it(study, tmp_path, capsys, hard_timeout):
    pytest.importorskip("zarr")
    image_id, path = replace_image(study, "fifo")
    rc = cli.main(["index", str(study), "--workers", "0", "--no-progress", *FAST,
                   "--cache-dir", str(tmp_path / "cache")])
    err = capsys.readouterr().err
    # the collection loader refuses it (2), or the job lists it as unusable (1)
    assert rc in (1, 2) and "Traceback" not in err
    assert str(path) in err or f"unusable: {image_id}:" in err


def test_index_collection_lists_a_fifo_image_as_unusable(tmp_path, hard_timeout):
    pytest.importorskip("zarr")
    from simkit.scale.cluster import index_collection

    path = tmp_path / "img.png"
    os.mkfifo(path)
    res = index_collection({"img": path}, weights="random:0", size=32, workers=0,
                           store_root=tmp_path / "zarr", progress=False)
    assert "not a regular file (a FIFO)" in res.errors["img"] and len(res.features) == 0


def test_index_collection_refuses_negative_workers_from_python(study, hard_timeout):
    pytest.importorskip("distributed")
    from simkit.errors import UsageError
    from simkit.scale.cluster import index_collection

    with pytest.raises(UsageError, match="workers=-1"):
        index_collection(study, weights="random:0", size=32, workers=-1, progress=False,
                         store_root=study / "zarr")


def test_an_unreachable_scheduler_is_one_line_in_bounded_time(study, tmp_path, capsys,
                                                              hard_timeout):
    dask = pytest.importorskip("dask")
    pytest.importorskip("distributed")
    start = time.monotonic()
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        rc = cli.main(["index", str(study), "--scheduler", "tcp://127.0.0.1:1", *FAST,
                       "--cache-dir", str(tmp_path / "cache")])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert "tcp://127.0.0.1:1" in err and "--scheduler" in err
    assert time.monotonic() - start < 45


def test_perceptual_scalars_from_a_fifo_are_refused(tmp_path, hard_timeout):
    from simkit.errors import SimkitError
    from simkit.methods.perceptual.metrics import load_scalars

    path = tmp_path / "w.npz"
    os.mkfifo(path)
    with pytest.raises(SimkitError, match="FIFO"):
        load_scalars(path)


def test_the_console_never_waits_on_a_fifo(study, tmp_path):
    """The whole command in a fresh process, with a hard timeout (importing torch on a busy
    machine takes most of it)."""
    _, path = replace_image(study, "fifo")
    repo = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(repo)}
    r = subprocess.run([sys.executable, "-m", "simkit", "features", str(study), "--out",
                        str(tmp_path / "f.npz"), *FAST, "--cache-dir", str(tmp_path / "c")],
                       capture_output=True, text=True, timeout=240, env=env)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert str(path) in r.stderr and "FIFO" in r.stderr
