"""Distributed extraction on a real Dask LocalCluster (2 worker processes on 127.0.0.1)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

pytest.importorskip("distributed")
pytest.importorskip("zarr")

from simkit.cli import main  # noqa: E402
from simkit.scale.cluster import (connect, index_collection,  # noqa: E402
                                  open_collection_features)

SIZE = 64
KW = dict(weights="random:0", size=SIZE, batch_size=2, chunk_rows=2, progress=False)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from simkit.study.demo import make_demo_study
    from simkit.features.extract import extract_features
    from simkit.study.collection import load_collection

    root = tmp_path_factory.mktemp("dist") / "demo"
    make_demo_study(root, groups_per_genre=1, image_size=SIZE)  # 20 images
    col = load_collection(root)
    # the single-process reference: the ordinary extraction, no cache
    ref = extract_features(col.paths, weights="random:0", size=SIZE, batch_size=2,
                           use_cache=False, progress=False)
    return col, ref


@pytest.fixture(scope="module")
def client():
    with connect(workers=2, dashboard=":0") as c:
        assert len(c.scheduler_info()["workers"]) == 2
        yield c


def _same(features, ref):
    assert features.image_ids == ref.image_ids
    for rep, v in ref.vectors.items():
        assert np.array_equal(features.vectors(rep), v), rep  # bit for bit


def test_distributed_equals_single_process_and_survives_a_killed_worker(demo, client,
                                                                        tmp_path):
    col, ref = demo
    pids = client.run(os.getpid)
    assert len(set(pids.values())) == 2
    killed: list[int] = []

    def kill_one(res):  # after the first finished chunk, SIGKILL a worker process
        if not killed:
            killed.append(len(done))
            os.kill(next(iter(pids.values())), signal.SIGKILL)
        done.append(res)

    done: list[dict] = []
    res = index_collection(col, client=client, store_root=tmp_path, on_chunk=kill_one, **KW)
    assert killed and killed[0] < res.stats["chunks_total"]  # killed mid-run
    assert res.stats["missing"] == 0 and not res.errors
    assert res.stats["computed"] >= 20  # the killed worker's chunk may be computed twice
    _same(res.features, ref)
    # each worker process loaded the network once, however many chunks it ran
    assert set(res.stats["model_loads"].values()) == {1}
    assert len(res.stats["model_loads"]) >= 2
    # a rerun finds everything in the store
    again = index_collection(col, client=client, store_root=tmp_path, **KW)
    assert again.stats["computed"] == 0 and again.stats["chunks"] == 0
    assert again.stats["from_store"] == 20
    _same(again.features, ref)


def test_a_killed_job_leaves_a_readable_store_and_a_rerun_computes_only_the_rest(
        demo, client, tmp_path):
    col, ref = demo
    # a whole job (no Dask, one process) killed with SIGKILL after its second chunk
    script = textwrap.dedent(f"""
        import sys
        from simkit.scale.cluster import index_collection
        def said(res):
            print("chunk", res["chunk"], flush=True)
        index_collection({str(col.root)!r}, workers=0, store_root={str(tmp_path)!r},
                         on_chunk=said, weights="random:0", size={SIZE}, batch_size=2,
                         chunk_rows=2, progress=False)
        print("finished", flush=True)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if len(lines) == 2:
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL and not any("finished" in x for x in lines)

    (store_path,) = list(tmp_path.glob("*.zarr"))
    part = open_collection_features(col, store_path)  # readable as it is
    assert 4 <= len(part) < 20 and len(part.missing) == 20 - len(part)
    want = {i: k for k, i in enumerate(ref.image_ids)}
    for rep, v in ref.vectors.items():
        assert np.array_equal(part.vectors(rep), v[[want[i] for i in part.image_ids]])

    chunks_missing = len({int(r) // 2 for r in part.store.rows_of(_keys(col, part))})
    res = index_collection(col, client=client, store_root=tmp_path, **KW)
    assert res.stats["computed"] == len(part.missing)  # only what was missing
    assert res.stats["chunks"] == chunks_missing
    assert res.stats["from_store"] == len(part)
    _same(res.features, ref)


def _keys(col, part):
    from simkit.features.cache import content_hash
    paths = col.paths
    return [content_hash(paths[i]) for i in part.missing]


def test_index_command_uses_the_scheduler_from_the_environment(demo, client, tmp_path,
                                                                monkeypatch, capsys):
    col, _ = demo
    monkeypatch.setenv("SIMKIT_DASK_SCHEDULER", client.scheduler.address)
    assert main(["index", str(col.root), "--weights", "random:0", "--size", str(SIZE),
                 "--chunk", "4", "--representations", "gram",
                 "--store", str(tmp_path), "--no-progress"]) == 0
    out = capsys.readouterr()
    assert "indexed 20 images (20 distinct)" in out.out and "20 computed" in out.out
    assert client.scheduler.address in out.err and "RANDOM" in out.err
    assert main(["index", str(tmp_path / "nowhere"), "--weights", "random:0",
                 "--store", str(tmp_path)]) == 2
    assert "error:" in capsys.readouterr().err
