"""Benchmark of the perceptual metrics (issue 6): triplets/s for scoring and for training.

Run:  .venv/bin/python benchmarks/bench_perceptual.py [--quick] [--out FILE]

Measures on this machine (random:0 weights: speed does not depend on them), per loss
network at 64×64 (LPIPS's patch size) and AlexNet at 224×224:

* **scoring, distortion context** (every triplet has its own 3 images): triplets/s of
  running the network and computing the statistics of the two compared pairs (all three
  base comparisons at once), excluding drawing the distortions, which is timed separately;
* **scoring, shared images** (the material-appearance test split: 3,000 triplets over 100
  images, each image through the network once): triplets/s end to end from decoded pixels;
* **training**: triplets/s of adapting the scalars (10 epochs over precomputed statistics;
  one epoch = every training triplet once), for the spatial and spatial+sort comparisons.

Prints the figures and writes them to benchmarks/results/perceptual.json, with the load
average before and after (the machine may be shared).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
MATERIAL = ROOT.parent / "shared" / "data" / "material-appearance"


def smooth_images(n, size, seed=0):
    import torch
    g = torch.Generator().manual_seed(seed)
    base = torch.rand(n, 3, 8, 8, generator=g)
    up = torch.nn.functional.interpolate(base, size=size, mode="bilinear", align_corners=False)
    return (up * 255).round().to(torch.uint8)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer triplets (a smoke run)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "perceptual.json"))
    args = ap.parse_args(argv)

    import torch

    from simkit.fileio import write_text
    from simkit.methods.perceptual.adaptation import adapt
    from simkit.methods.perceptual.datasets import distortion_triplets, load_material_appearance
    from simkit.methods.perceptual.networks import load_network
    from simkit.methods.perceptual.twoafc import triplet_statistics

    n_img = 100 if args.quick else 400
    res: dict = {"machine": {"cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                             "torch": torch.__version__, "load_before": os.getloadavg()},
                 "quick": args.quick, "scoring": [], "training": []}
    ranking = ["translate", "rotate", "zoom", "brightness", "hue", "blur"]

    for size in (64, 224):
        px = smooth_images(n_img if size == 64 else n_img // 4, size)
        t = time.perf_counter()
        trip = distortion_triplets(px, ranking, seed=1)
        t_dist = time.perf_counter() - t
        nets = ["alexnet", "squeezenet", "vgg16", "vgg19"] if size == 64 else ["alexnet"]
        for net_name in nets:
            net = load_network(net_name, "random:0")
            triplet_statistics(trip.subset(np.arange(4)), net, progress=False)  # warm-up
            t = time.perf_counter()
            st = triplet_statistics(trip, net, progress=False)
            dt = time.perf_counter() - t
            row = {"context": "distortions", "net": net_name, "size": size,
                   "n_triplets": len(trip), "seconds": dt, "triplets_per_s": len(trip) / dt,
                   "distortions_per_s": 2 * len(trip) / t_dist}
            res["scoring"].append(row)
            print(f"score  {net_name:10s} {size:3d}px distortions : {row['triplets_per_s']:8.1f} "
                  f"triplets/s ({len(trip)} in {dt:.1f} s; drawing distortions "
                  f"{row['distortions_per_s']:.0f} images/s)")
            if size == 64:
                for comp in ("spatial", "spatial+sort"):
                    adapt(st, comp, epochs=1, decay_epochs=0, progress=False)  # warm-up
                    t = time.perf_counter()
                    r = adapt(st, comp, epochs=10, decay_epochs=5, patience=100,
                              progress=False)
                    dt = time.perf_counter() - t
                    epochs = len(r.history) - 1
                    row = {"net": net_name, "comparison": comp, "n_train": r.n_train,
                           "epochs": epochs, "seconds": dt,
                           "triplets_per_s": epochs * r.n_train / dt}
                    res["training"].append(row)
                    print(f"train  {net_name:10s} {comp:12s}: {row['triplets_per_s']:10.0f} "
                          f"triplets/s ({epochs} epochs x {r.n_train} in {dt:.2f} s)")

    if MATERIAL.is_dir():
        test = load_material_appearance(MATERIAL, "test")
        for size in (64, 224):
            test.load_pixels(size)  # decoding is not what we time
            for net_name in ("alexnet", "vgg16"):
                net = load_network(net_name, "random:0")
                t = time.perf_counter()
                st = triplet_statistics(test, net, ["spatial"], size=size, progress=False)
                dt = time.perf_counter() - t
                row = {"context": "material-appearance test", "net": net_name, "size": size,
                       "n_triplets": len(test), "n_images": len(test.image_ids),
                       "n_pairs": len(st.pairs), "seconds": dt,
                       "triplets_per_s": len(test) / dt}
                res["scoring"].append(row)
                print(f"score  {net_name:10s} {size:3d}px material    : "
                      f"{row['triplets_per_s']:8.1f} triplets/s ({len(test)} triplets, "
                      f"{len(st.pairs)} pairs, {dt:.1f} s)")
    res["machine"]["load_after"] = os.getloadavg()
    print(f"load average before {res['machine']['load_before']}, after "
          f"{res['machine']['load_after']} on {os.cpu_count()} CPUs")
    write_text(json.dumps(res, indent=2) + "\n", args.out)
    print("wrote", args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
