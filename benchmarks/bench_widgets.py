"""Benchmark of the notebooks' responsiveness (issue 4).

Run:  .venv/bin/python benchmarks/bench_widgets.py [--images 400]

Measures on the demo study (random:0 features, cached first, not timed):

* the group explorer: time to change the question (the redraw), mean and worst over
  every question, with its thumbnails already cached and not;
* UMAP of N images' Gram vectors: a first projection in a fresh Python process (imports
  and numba's compiled code from its disk cache included, after a warm-up on other data
  that fills that cache: on a new machine the warm-up is where numba compiles), then the
  same projection again in another fresh process (from simkit's projection cache).

Prints the figures and writes benchmarks/results/widgets.json.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CHILD = """
import sys, time, numpy as np
t = time.perf_counter()
from simkit.search.projection import project
X = np.load(sys.argv[1])
project(X, cache_dir=sys.argv[2], progress=False)
print(time.perf_counter() - t)
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=400, help="multiple of 20")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "widgets.json"))
    args = ap.parse_args()
    os.environ.setdefault("NUMBA_CACHE_DIR", str(ROOT / ".cache" / "numba"))

    import numpy as np

    from simkit.study.demo import make_demo_study
    from simkit.methods.choices import study_choices
    from simkit.widgets import GroupExplorer

    tmp = Path(tempfile.mkdtemp(prefix="simkit-bench-widgets-"))
    study = make_demo_study(tmp / "study", groups_per_genre=args.images // 20)
    choices, distances, fs = study_choices(study, weights="random:0", cache_dir=tmp / "cache",
                                           progress=True)
    figures: dict[str, float | int] = {"images": len(fs.image_ids)}

    explorer = GroupExplorer(study, choices, distances)
    explorer.widget  # build the view, as displaying it in a notebook does: redraws update it
    qids = list(study.questions["question_id"])
    for label in ("cold", "warm"):  # cold: thumbnails decoded on the way; warm: cached
        times = []
        for q in qids:
            t = time.perf_counter()
            explorer.select(q)
            times.append(time.perf_counter() - t)
        figures[f"explorer_redraw_{label}_mean_s"] = float(np.mean(times))
        figures[f"explorer_redraw_{label}_max_s"] = float(np.max(times))

    X = tmp / "gram.npy"
    np.save(X, fs.vectors["gram"])
    # warm numba's disk cache on other data (on a new machine this is where it compiles)
    W = tmp / "warmup.npy"
    np.save(W, np.random.default_rng(0).standard_normal((60, 64)).astype(np.float32))
    out = subprocess.run([sys.executable, "-c", CHILD, str(W), str(tmp / "warm")],
                         capture_output=True, text=True, check=True, cwd=ROOT)
    figures["umap_warmup_60_images_s"] = float(out.stdout.strip().splitlines()[-1])
    for label in ("umap_first_fresh_process_s", "umap_cached_fresh_process_s"):
        out = subprocess.run([sys.executable, "-c", CHILD, str(X), str(tmp / "proj")],
                             capture_output=True, text=True, check=True, cwd=ROOT)
        figures[label] = float(out.stdout.strip().splitlines()[-1])

    for k, v in figures.items():
        print(f"{k:34s} {v:.3f}" if isinstance(v, float) else f"{k:34s} {v}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(figures, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
