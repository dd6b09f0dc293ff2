"""Benchmark of deep-feature extraction, distances and the cold/warm study (issue 3).

Run:  .venv/bin/python benchmarks/bench_features.py [--quick] [--study-only] [--out FILE]

Measures, in one run on this machine (random:0 weights: speed does not depend on them):

* the machine's own fp32 matrix-multiply peak (best of several square products);
* the forward pass to conv5_1 at 224²: FLOPs counted from the layer shapes, images/s,
  achieved FLOP/s and its ratio to the measured peak; bf16 autocast speed-up;
* the three representations' cost as a percentage of the forward time;
* all-pairs distances for 400 and 5,000 images against one matrix product of the same
  shape, and whether every row's nearest neighbour equals a float64 computation (the
  plain float32 |a|²+|b|²−2ab trick is checked too);
* a cold 400-image demo study (decode + forward + representations + store + tables) and
  a warm one (everything from the feature store), with peak memory, in a child process;
* bf16 extraction of the same study: vector error and whether every choice stays.

Prints the figures and writes them to benchmarks/results/features.json. The machine may be
shared: the load average before and after is recorded with the figures.
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

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def best_time(fn, repeat=3, warmup=1):
    for _ in range(warmup):
        fn()
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def matmul_peak(sizes=(2048, 3072, 4096), repeat=5):
    """The best fp32 FLOP/s of square torch.mm products over a few sizes (a single size
    can land on an unlucky blocking and understate the machine's peak)."""
    import torch
    best = 0.0
    for n in sizes:
        a, b = torch.randn(n, n), torch.randn(n, n)
        t = best_time(lambda: torch.mm(a, b), repeat=repeat)
        best = max(best, 2 * n ** 3 / t)
    return best


def forward_flops(net, size=224):
    """Multiply-adds x 2 of every convolution, from the layer shapes."""
    import torch
    flops, h, w = 0, size, size
    for m in net.module:
        if isinstance(m, torch.nn.Conv2d):
            kh, kw = m.kernel_size
            flops += 2 * m.in_channels * m.out_channels * kh * kw * h * w
        elif isinstance(m, torch.nn.MaxPool2d):
            h, w = h // 2, w // 2
    return flops


def bench_forward(batch=8, repeat=3, bf16=True, sustained=16):
    import torch
    from simkit.features.backbones import load_backbone
    from simkit.features.device import precision_context
    from simkit.features.representations import compute

    net = load_backbone("vgg19", "random:0", "conv5_1")
    x = torch.randn(batch, 3, 224, 224).contiguous(memory_format=torch.channels_last)
    t_bf16 = float("nan")  # not measured (bf16=False)
    with torch.inference_mode():
        fmap = net(x)
        t_fp32 = best_time(lambda: net(x), repeat=repeat)
        # the mean over many batches in a row: what a whole study gets (a shared or
        # virtual machine does not hold its best speed for minutes)
        t = time.perf_counter()
        for _ in range(sustained):
            net(x)
        t_sustained = (time.perf_counter() - t) / sustained
        t_rep = best_time(lambda: compute(fmap.float()), repeat=repeat)
        if bf16:
            with precision_context("bf16"):
                t_bf16 = best_time(lambda: net(x), repeat=repeat)
    return {"flops_per_image": forward_flops(net), "batch": batch,
            "forward_s_per_image": t_fp32 / batch,
            "forward_sustained_s_per_image": t_sustained / batch,
            "forward_bf16_s_per_image": t_bf16 / batch,
            "representations_s_per_image": t_rep / batch}


def bench_distances(X, label):
    """all_pairs_distances vs one matmul of the same shape; nearest pairs vs float64."""
    import torch
    from simkit.search.distances import all_pairs_distances

    n = len(X)
    Xt = torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32))
    with torch.inference_mode():
        t_mm = best_time(lambda: torch.mm(Xt, Xt.T), repeat=1 if n > 1000 else 3)
    t = time.perf_counter()
    D = all_pairs_distances(X)
    t_ours = time.perf_counter() - t
    np.fill_diagonal(D, np.inf)
    ours_nn = D.argmin(1)
    del D
    # float64 reference on a sample of rows (all rows for small N): the distances of the
    # centred vectors computed entirely in float64 (rounding ~1e-13, far below float32's)
    rows = np.arange(n) if n <= 1000 else np.random.default_rng(0).choice(n, 300, False)
    mean = X.mean(axis=0, dtype=np.float64)
    A = torch.from_numpy(X[rows].astype(np.float64) - mean)
    sqa = (A * A).sum(1)
    d2 = torch.empty(len(rows), n, dtype=torch.float64)
    with torch.inference_mode():
        for s in range(0, n, 500):
            B = torch.from_numpy(X[s:s + 500].astype(np.float64) - mean)
            d2[:, s:s + 500] = sqa[:, None] + (B * B).sum(1)[None, :] - 2 * torch.mm(A, B.T)
    d2[torch.arange(len(rows)), torch.from_numpy(rows)] = float("inf")
    ref_nn = d2.argmin(1).numpy()
    del A, d2
    # the plain float32 |a|²+|b|²-2ab trick on the same rows, for comparison
    with torch.inference_mode():
        sq = (Xt * Xt).sum(1)
        plain = sq[rows][:, None] + sq[None, :] - 2 * torch.mm(Xt[rows], Xt.T)
        plain[torch.arange(len(rows)), torch.from_numpy(rows)] = float("inf")
    plain_nn = plain.argmin(1).numpy()
    return {
        f"{label}_n": n, f"{label}_dim": int(X.shape[1]),
        f"{label}_all_pairs_s": t_ours, f"{label}_one_matmul_s": t_mm,
        f"{label}_ratio_to_matmul": t_ours / t_mm,
        f"{label}_rows_checked_vs_float64": int(len(rows)),
        f"{label}_nearest_equal_float64": bool((ours_nn[rows] == ref_nn).all()),
        f"{label}_nearest_mismatches": int((ours_nn[rows] != ref_nn).sum()),
        f"{label}_plain_float32_trick_mismatches": int((plain_nn != ref_nn).sum()),
    }


STUDY_CHILD = r"""
import json, resource, sys, time
t0 = time.perf_counter()
from simkit.study.model import load_study
from simkit.methods.choices import study_choices
from simkit.analysis.all_tables import compute_tables
study = load_study(sys.argv[1])
out = {}
for run in ("cold", "warm"):
    t = time.perf_counter()
    choices, dists, fs = study_choices(study, weights="random:0", cache_dir=sys.argv[2],
                                       precision=sys.argv[3], progress=False)
    t_feat = time.perf_counter() - t
    compute_tables(study.with_choices(choices))
    out[run + "_s"] = time.perf_counter() - t
    out[run + "_features_s"] = t_feat
    out[run + "_computed"] = fs.stats["computed"]
    if run == "cold":
        out["peak_rss_gib_after_cold"] = resource.getrusage(
            resource.RUSAGE_SELF).ru_maxrss / 2**20
choices.to_csv(sys.argv[4], index=False)
import numpy as np
np.save(sys.argv[5], fs.vectors["cosine"])
print(json.dumps(out))
"""


def run_study(study_dir, cache, precision, tmp):
    choices_csv = Path(tmp) / f"choices_{precision}.csv"
    vec = Path(tmp) / f"cosine_{precision}.npy"
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", STUDY_CHILD, str(study_dir), str(cache),
                           precision, str(choices_csv), str(vec)],
                          capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-3000:])
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    res["process_wall_s"] = wall
    return res, choices_csv, vec


def synthetic_5000(base: np.ndarray, n=5000, seed=0):
    """5,000 feature-like vectors: mixtures of real vectors plus small noise."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, base.shape[1]), np.float32)
    scale = float(base.std())
    for s in range(0, n, 500):
        k = min(500, n - s)
        w = rng.dirichlet(np.full(3, 0.5), size=k).astype(np.float32)
        idx = rng.integers(0, len(base), (k, 3))
        out[s:s + k] = np.einsum("kj,kjd->kd", w, base[idx])
        out[s:s + k] += rng.normal(0, 0.05 * scale, (k, base.shape[1])).astype(np.float32)
    return out


def bench_bf16_study(res: dict, tmp: Path, c32: Path, x32: np.ndarray) -> None:
    """bf16 extraction of the same study (study_choices: no fp32 recomputation of near
    ties), its speed-up, vector error and how many choices it changes."""
    import pandas as pd

    print("bf16 extraction of the same study ...", flush=True)
    s16, c16, v16 = run_study(tmp / "study", tmp / "cache", "bf16", tmp)
    a, b = pd.read_csv(c32), pd.read_csv(c16)
    same = (a["choice"].values == b["choice"].values)
    x16 = np.load(v16)
    res.update({
        "bf16_study_cold_features_s": s16["cold_features_s"],
        "bf16_extraction_speedup": res["study_cold_features_s"] / s16["cold_features_s"],
        "bf16_cosine_vector_rel_error": float(np.linalg.norm(x16 - x32)
                                              / np.linalg.norm(x32)),
        "bf16_choices_changed": int((~same).sum()),
        "bf16_every_choice_same": bool(same.all()),
    })
    print(f"  bf16 x{res['bf16_extraction_speedup']:.2f} end to end, vector error "
          f"{100 * res['bf16_cosine_vector_rel_error']:.2f}%, choices changed: "
          f"{res['bf16_choices_changed']} of {len(same)}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "features.json"))
    ap.add_argument("--quick", action="store_true", help="4 groups per genre, 1,000 images")
    ap.add_argument("--no-bf16-study", action="store_true",
                    help="skip the bf16 extraction of the study (on a CPU without bfloat16 "
                         "instructions, AVX2 only, it is emulated and takes 8-10x fp32's time)")
    ap.add_argument("--study-only", action="store_true",
                    help="the matmul peak, the fp32 forward pass and the cold/warm fp32 study "
                         "only (no bf16, no all-pairs distances)")
    args = ap.parse_args(argv)
    import torch

    out = Path(args.out)
    from simkit.fileio import write_text

    def save():  # after every section, so a cut-short run still leaves its figures
        write_text(json.dumps(res, indent=2) + "\n", out)

    res: dict = {"machine": {"cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                             "torch": torch.__version__, "loadavg_start": os.getloadavg()},
                 "weights": "random:0"}
    print("fp32 matmul peak ...", flush=True)
    peak = matmul_peak()
    res["matmul_peak_gflops"] = peak / 1e9
    print(f"  {peak / 1e9:.1f} GFLOP/s")

    save()
    print("forward pass at 224x224 ...", flush=True)
    f = bench_forward(bf16=not args.study_only)
    fl = f["flops_per_image"]
    res.update({
        "forward_gflop_per_image": fl / 1e9,
        "forward_images_per_s": 1 / f["forward_s_per_image"],
        "forward_sustained_images_per_s": 1 / f["forward_sustained_s_per_image"],
        "forward_gflops": fl / f["forward_s_per_image"] / 1e9,
        "forward_fraction_of_peak": fl / f["forward_s_per_image"] / peak,
        "physical_limit_images_per_s": peak / fl,
        "bf16_forward_speedup": (None if args.study_only  # n/a: not measured
                                 else f["forward_s_per_image"] / f["forward_bf16_s_per_image"]),
        "representations_overhead_pct": 100 * f["representations_s_per_image"]
        / f["forward_s_per_image"],
    })
    print(f"  {fl / 1e9:.2f} GFLOP/image, {res['forward_images_per_s']:.2f} img/s, "
          f"{res['forward_gflops']:.1f} GFLOP/s = {100 * res['forward_fraction_of_peak']:.0f}% "
          f"of peak (sustained over 16 batches: {res['forward_sustained_images_per_s']:.2f} "
          f"img/s); representations +{res['representations_overhead_pct']:.1f}%; "
          + (f"bf16 x{res['bf16_forward_speedup']:.2f}" if not args.study_only
             else "bf16 not measured (--study-only)"))

    save()
    with tempfile.TemporaryDirectory(prefix="simkit-bench-") as tmp:
        tmp = Path(tmp)
        groups = 4 if args.quick else 20
        print(f"demo study ({groups * 4 * 5} images) ...", flush=True)
        from simkit.study.demo import make_demo_study
        t = time.perf_counter()
        make_demo_study(tmp / "study", groups_per_genre=groups, seed=0)
        res["demo_study_build_s"] = time.perf_counter() - t
        n_img = groups * 4 * 5

        print("cold and warm study (fp32) ...", flush=True)
        s32, c32, v32 = run_study(tmp / "study", tmp / "cache", "fp32", tmp)
        res["study_images"] = n_img
        res.update({f"study_{k}": v for k, v in s32.items()})
        res["extraction_images_per_s_end_to_end"] = n_img / s32["cold_features_s"]
        # what the network alone would take for these images, at this run's sustained speed
        res["study_forward_share"] = (n_img / res["forward_sustained_images_per_s"]
                                      / s32["cold_s"])
        print(f"  cold {s32['cold_s']:.1f} s ({res['extraction_images_per_s_end_to_end']:.2f} "
              f"img/s end to end; the forward pass {100 * res['study_forward_share']:.0f}% of "
              f"it), warm {s32['warm_s']:.2f} s, peak RSS "
              f"{s32['peak_rss_gib_after_cold']:.2f} GiB")

        save()
        if args.study_only:
            res["machine"]["loadavg_end"] = os.getloadavg()
            save()
            print(f"wrote {out}")
            return
        x32 = np.load(v32)
        if not args.no_bf16_study:
            bench_bf16_study(res, tmp, c32, x32)
        save()
        print(f"all-pairs distances, {n_img} images ...", flush=True)
        res.update(bench_distances(x32, "d400"))
        print(f"  {res['d400_all_pairs_s']:.2f} s vs one matmul {res['d400_one_matmul_s']:.2f} s;"
              f" nearest = float64: {res['d400_nearest_equal_float64']}")
        save()
        n_big = 1000 if args.quick else 5000
        print(f"all-pairs distances, {n_big} images (synthetic from the study's vectors) ...",
              flush=True)
        big = synthetic_5000(x32, n_big)
        del x32
        res.update(bench_distances(big, "d5000"))
        print(f"  {res['d5000_all_pairs_s']:.1f} s vs one matmul {res['d5000_one_matmul_s']:.1f}"
              f" s (x{res['d5000_ratio_to_matmul']:.2f}); nearest = float64 "
              f"({res['d5000_rows_checked_vs_float64']} rows): "
              f"{res['d5000_nearest_equal_float64']}; plain float32 trick mismatches: "
              f"{res['d5000_plain_float32_trick_mismatches']}")
    res["machine"]["loadavg_end"] = os.getloadavg()
    save()
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
