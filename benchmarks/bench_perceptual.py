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
  one epoch = every training triplet once), for the spatial and spatial+sort comparisons;
* **fine-tuning** (the paper's "adapted net"): triplets/s of training AlexNet's parameters
  with the scalars (spatial, 64 px);
* **projection of the full Table 3 run** (``simkit perceptual replicate`` with the paper's
  settings): the data sets' sizes divided by these rates — see :func:`projection`.

``--device cuda`` measures on a GPU. Random weights: the *speed* does not depend on them,
but any score they give is meaningless (none is reported).

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
    ap.add_argument("--out", default=None, help="default: benchmarks/results/"
                                               "perceptual[-DEVICE].json")
    ap.add_argument("--device", default="cpu", help="cpu, cuda, … (default %(default)s)")
    ap.add_argument("--nets", default="alexnet,squeezenet,vgg16,vgg19",
                    help="loss networks measured at 64 px (default %(default)s)")
    args = ap.parse_args(argv)
    if args.out is None:
        tag = "" if args.device == "cpu" else f"-{args.device.replace(':', '')}"
        args.out = str(ROOT / "benchmarks" / "results" / f"perceptual{tag}.json")

    import torch

    from simkit.fileio import write_text
    from simkit.methods.perceptual.adaptation import adapt, adapt_network
    from simkit.methods.perceptual.datasets import distortion_triplets, load_material_appearance
    from simkit.methods.perceptual.networks import load_network
    from simkit.methods.perceptual.twoafc import triplet_statistics

    n_img = 100 if args.quick else 400
    dev = args.device
    res: dict = {"machine": {"cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                             "torch": torch.__version__, "load_before": os.getloadavg(),
                             "device": dev, "gpu": torch.cuda.get_device_name(0)
                             if dev.startswith("cuda") else None},
                 "quick": args.quick, "scoring": [], "training": [], "finetuning": [],
                 "note": "random:0 weights: speeds only; no score here means anything"}
    ranking = ["translate", "rotate", "zoom", "brightness", "hue", "blur"]

    for size in (64, 224):
        px = smooth_images(n_img if size == 64 else n_img // 4, size)
        t = time.perf_counter()
        trip = distortion_triplets(px, ranking, seed=1)
        t_dist = time.perf_counter() - t
        nets = args.nets.split(",") if size == 64 else ["alexnet"]
        for net_name in nets:
            net = load_network(net_name, "random:0", device=dev)
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
                    adapt(st, comp, epochs=1, decay_epochs=0, progress=False,
                          device=dev)  # warm-up
                    t = time.perf_counter()
                    r = adapt(st, comp, epochs=10, decay_epochs=5, patience=100,
                              progress=False, device=dev)
                    dt = time.perf_counter() - t
                    epochs = len(r.history) - 1
                    row = {"net": net_name, "comparison": comp, "n_train": r.n_train,
                           "epochs": epochs, "seconds": dt,
                           "triplets_per_s": epochs * r.n_train / dt}
                    res["training"].append(row)
                    print(f"train  {net_name:10s} {comp:12s}: {row['triplets_per_s']:10.0f} "
                          f"triplets/s ({epochs} epochs x {r.n_train} in {dt:.2f} s)")

            if size == 64 and net_name == "alexnet":  # the paper's adapted net
                sub = trip.subset(np.arange(min(len(trip), 100 if args.quick else 400)))
                adapt_network(sub.subset(np.arange(8)), net, epochs=1, decay_epochs=0,
                              size=size, progress=False)  # warm-up
                t = time.perf_counter()
                r, _ = adapt_network(sub, net, epochs=2, decay_epochs=1, size=size,
                                     progress=False)
                dt = time.perf_counter() - t
                row = {"net": net_name, "comparison": "spatial", "size": size,
                       "n_train": r.n_train, "n_val": r.n_val, "epochs": 2, "seconds": dt,
                       "triplets_per_s": 2 * r.n_train / dt}
                res["finetuning"].append(row)
                print(f"tune   {net_name:10s} spatial     : {row['triplets_per_s']:10.1f} "
                      f"triplets/s (2 epochs x {r.n_train}, validation included, {dt:.1f} s)")

    res["projection"] = projection(res)
    p = res["projection"]
    print(f"projected full Table 3 run on {dev} (networks measured: "
          f"{', '.join(p['nets_measured'])}): {p['total_hours']:.1f} h "
          f"(features {p['features_hours']:.2f} h, scalars {p['scalars_hours']:.2f} h, "
          f"adapted net {p['net_hours']:.2f} h, distortions {p['distortions_hours']:.2f} h); "
          f"Table 3 alone {p['table3_hours']:.1f} h, without the adapted net "
          f"{p['table3_without_net_hours']:.1f} h")

    if MATERIAL.is_dir() and not args.quick:
        test = load_material_appearance(MATERIAL, "test")
        for size in (64, 224):
            test.load_pixels(size)  # decoding is not what we time
            for net_name in ("alexnet", "vgg16"):
                net = load_network(net_name, "random:0", device=dev)
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


#: the sizes of the paper's data: SVHN train / test, STL-10 test, BAPPS val 2AFC triplets and
#: JND pairs (PerceptualSimilarity's val split: 4,720 + 4,720 + 10,856 + 9,440 + 4,720 +
#: 1,888 triplets; 4,800 + 4,800 pairs)
SIZES = {"svhn_train": 73_257, "svhn_test": 26_032, "stl10_test": 8_000,
         "bapps_2afc": 36_344, "bapps_jnd": 9_600}
PAPER = {"nets": ("alexnet", "squeezenet", "vgg16"), "comparisons": 5, "rankings": 20,
         "repeats": 4, "epochs": 10}


def projection(res: dict) -> dict:
    """Wall time of ``simkit perceptual replicate`` with the paper's settings, from the
    measured rates (64 px, the device measured):

    * features: per network, every SVHN/STL-10 triplet and BAPPS triplet once (a JND pair
      counts 2/3 of a triplet: two images, not three) at the scoring rate of the
      distortion context (all three comparisons at once);
    * scalars: rankings × comparisons × repeats trainings per network, each ``epochs`` ×
      80 % of SVHN train, at the training rate (spatial+sort's for the combinations);
    * adapted net: rankings × repeats fine-tunings (10 epochs of 80 % of SVHN train at the
      fine-tuning rate, which includes validation), each followed by a fresh scoring of
      every test set with the tuned AlexNet;
    * distortions: drawing 2 distorted images per SVHN/STL-10 image, once.
    Decoding the BAPPS PNG files (once per network) is not included."""
    score = {r["net"]: r["triplets_per_s"] for r in res["scoring"]
             if r["context"] == "distortions" and r["size"] == 64}
    train = {(r["net"], r["comparison"]): r["triplets_per_s"] for r in res["training"]}
    tune = next((r["triplets_per_s"] for r in res["finetuning"]), float("nan"))
    dist = next((r["distortions_per_s"] for r in res["scoring"] if r["size"] == 64), float("nan"))
    test = SIZES["svhn_test"] + SIZES["stl10_test"] + SIZES["bapps_2afc"] + SIZES["bapps_jnd"] * 2 / 3
    n_train = 0.8 * SIZES["svhn_train"]
    feats = sum((SIZES["svhn_train"] + test) / score[n] for n in PAPER["nets"] if n in score)
    runs = PAPER["rankings"] * PAPER["repeats"]
    scal = 0.0
    for n in PAPER["nets"]:
        if (n, "spatial") in train:
            per = [train[(n, "spatial")]] * 3 + [train[(n, "spatial+sort")]] * 2  # 5 comps
            scal += sum(runs * PAPER["epochs"] * n_train / r for r in per)
    net = runs * (PAPER["epochs"] * n_train / tune + test / score.get("alexnet", np.nan))
    images = 2 * (SIZES["svhn_train"] + SIZES["svhn_test"] + SIZES["stl10_test"])
    out = {"nets_measured": [n for n in PAPER["nets"] if n in score],  # the rest: not in
           "features_hours": feats / 3600, "scalars_hours": scal / 3600,
           "net_hours": net / 3600, "distortions_hours": images / dist / 3600,
           "sizes": SIZES, "paper": PAPER}
    out["total_hours"] = sum(out[k] for k in ("features_hours", "scalars_hours", "net_hours",
                                              "distortions_hours"))
    # Table 3 alone (--nets alexnet --comparisons spatial): one network, one comparison
    a_feat = (SIZES["svhn_train"] + test) / score.get("alexnet", np.nan)
    a_scal = runs * PAPER["epochs"] * n_train / train.get(("alexnet", "spatial"), np.nan)
    out["table3_hours"] = (a_feat + a_scal + net + images / dist) / 3600
    out["table3_without_net_hours"] = (a_feat + a_scal + images / dist) / 3600
    return out


if __name__ == "__main__":
    raise SystemExit(main())
