"""Benchmark of one device: model images/s against the device's own matmul peak, the decode
rate that feeds it, and the time projected for a 19,000-print collection.

Run:  .venv/bin/python benchmarks/bench_device.py [--device auto|cpu|cuda|cuda:N|mps]
                                                  [--n-images N] [--batch-size B] [--quick]

Measures, in one run on the chosen device (random weights: speed does not depend on them):

* the device's matmul peak: the best FLOP/s of large square products in fp32 and bf16 (and
  fp16 on a GPU; on CUDA also fp32 with TF32 allowed, which is what cuDNN convolutions use
  by default);
* VGG-19 to conv5_1 at 224² (``load_backbone("vgg19", "random:0", "conv5_1")``) and one
  ViT-B/16 embedding (timm ``vit_base_patch16_224``, no pretrained weights; the row is
  skipped when timm is missing), in fp32 and bf16 (and fp16 on a GPU): images/s, FLOPs per
  image counted with ``torch.utils.flop_counter.FlopCounterMode``, the FLOP/s reached and
  its fraction of the same precision's matmul peak;
* the decode rate that feeds the network: images/s of ``iter_batches`` at 224 with 0 and N
  worker processes, on the real prints in ``../shared/data/ukiyoe-wikiart`` when present,
  else on generated JPEGs; the steady rate (after the first batch, when the workers have
  started) is the one a long job sees;
* the time for a 19,000-print collection (the ARC ukiyo-e database) = 19,000 / min(decode
  rate, forward rate), decoding and the network overlapping. On the CPU both share the
  same cores, so the projection there is optimistic.

Prints a compact table and writes the figures to benchmarks/results/device.json, with the
load average before and after (the machine may be shared).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PRINTS = ROOT.parent / "shared" / "data" / "ukiyoe-wikiart" / "Ukiyo_e"
COLLECTION = 19_000  # prints in the ARC ukiyo-e database


def sync(device) -> None:
    """Wait for the device's queued work, so that a timer sees it done."""
    import torch
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def timed(fn, device, repeat: int = 3, warmup=None) -> float:
    """The best wall time of ``fn()`` over ``repeat`` runs, after one run of ``warmup``
    (default ``fn``)."""
    (warmup or fn)()
    sync(device)
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        sync(device)
        best = min(best, time.perf_counter() - t)
    return best


def matmul_peaks(device, quick: bool) -> dict[str, float]:
    """Best FLOP/s of square matrix products (``F.linear``, the path a model's layers take:
    on a CPU without bf16 instructions ``torch.mm`` on bf16 tensors is ~15x slower than
    it), per precision, on ``device``."""
    import torch
    from torch.nn.functional import linear
    gpu = device.type != "cpu"
    sizes = (4096, 8192) if gpu else ((1024, 2048) if quick else (2048, 3072))
    kinds = {"fp32": torch.float32, "bf16": torch.bfloat16}
    if gpu:
        kinds["fp16"] = torch.float16
    peaks: dict[str, float] = {}
    for name, dtype in kinds.items():
        best = 0.0
        for n in sizes:
            a = torch.randn(n, n, device=device).to(dtype)
            b = torch.randn(n, n, device=device).to(dtype)
            reps = 10 if gpu else 1  # GPU products take milliseconds: time several at once

            def run():
                for _ in range(reps):
                    linear(a, b)
            best = max(best, reps * 2 * n ** 3 / timed(run, device, repeat=3 if gpu else 2))
        peaks[name] = best
    if device.type == "cuda":  # fp32 with TF32 tensor cores, as cuDNN convolutions run
        old = torch.backends.cuda.matmul.allow_tf32
        torch.backends.cuda.matmul.allow_tf32 = True
        try:
            n = sizes[-1]
            a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
            peaks["tf32"] = 10 * 2 * n ** 3 / timed(
                lambda: [linear(a, b) for _ in range(10)], device)
        finally:
            torch.backends.cuda.matmul.allow_tf32 = old
    return peaks


def models(device) -> list[tuple[str, object, str]]:
    """``(name, module on device, what it is)``; ViT-B/16 only when timm is installed."""
    import torch
    from simkit.features.backbones import load_backbone

    out = [("vgg19 conv5_1", load_backbone("vgg19", "random:0", "conv5_1").module.to(device),
            "conv")]
    try:
        import timm
    except ImportError:
        print("vit_b16: skipped (timm is not installed: pip install timm)")
        return out
    torch.manual_seed(0)
    vit = timm.create_model("vit_base_patch16_224", pretrained=False, num_classes=0)
    out.append(("vit_b16 embedding", vit.eval().requires_grad_(False).to(device), "matmul"))
    return out


def model_flops(module, device) -> int:
    """FLOPs of one 224² image through ``module`` (FlopCounterMode, fp32). Attention runs
    on its plain-matmul path here: the counter does not see inside the CPU's fused kernel
    (ViT-B/16 would be 33.7 instead of 35.1 GFLOP)."""
    import torch
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.utils.flop_counter import FlopCounterMode

    x = torch.randn(1, 3, 224, 224, device=device)
    with torch.inference_mode(), sdpa_kernel(SDPBackend.MATH), \
            FlopCounterMode(display=False) as fc:
        module(x)
    return int(fc.get_total_flops())


def bench_forward(device, peaks: dict, args) -> list[dict]:
    """images/s of each model in each precision, and the fraction of the matmul peak."""
    import torch
    from simkit.features.device import precision_context

    gpu = device.type != "cpu"
    precisions = ["fp32", "bf16"] + (["fp16"] if gpu else [])
    rows = []
    for name, module, kind in models(device):
        flops = model_flops(module, device)
        x = torch.randn(args.batch_size, 3, 224, 224, device=device).contiguous(
            memory_format=torch.channels_last)
        n_batches = max(1, args.n_images // args.batch_size)
        for prec in precisions:
            def run(batches: int = n_batches):
                with torch.inference_mode(), precision_context(prec, device):
                    for _ in range(batches):
                        module(x)
            t = timed(run, device, repeat=1 if args.quick or not gpu else 2,
                      warmup=lambda: run(1))
            ips = n_batches * args.batch_size / t
            peak_name = prec
            if prec == "fp32" and device.type == "cuda" and (
                    torch.backends.cudnn.allow_tf32 if kind == "conv"
                    else torch.backends.cuda.matmul.allow_tf32):
                peak_name = "tf32"  # fp32 convolutions run on TF32 tensor cores by default
            rows.append({"model": name, "precision": prec, "gflop_per_image": flops / 1e9,
                         "images_per_s": ips, "tflop_per_s": ips * flops / 1e12,
                         "peak": peak_name, "of_peak": ips * flops / peaks[peak_name]})
    return rows


def decode_inputs(n: int, tmp: Path) -> tuple[list[Path], str]:
    """``n`` real prints when the shared data is here, else ``n`` generated JPEGs."""
    if PRINTS.is_dir():
        paths = sorted(PRINTS.glob("*.jpg"))[:n]
        if paths:
            return paths, f"{len(paths)} real prints (224x224 JPEG, WikiArt ukiyo-e)"
    from PIL import Image
    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        base = rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)
        img = Image.fromarray(base).resize((640, 480), Image.Resampling.BICUBIC)
        paths.append(tmp / f"gen{i:05d}.jpg")
        img.save(paths[-1], quality=90)
    return paths, f"{n} generated 640x480 JPEGs (resized to 224)"


def bench_decode(paths: list[Path], worker_counts: list[int], batch_size: int,
                 pin: bool) -> list[dict]:
    """images/s of iter_batches at 224 with each number of workers (total and steady)."""
    from simkit.features.images import iter_batches

    items = list(enumerate(paths))
    rows = []
    for w in worker_counts:
        t = time.perf_counter()
        first, first_n, n = None, 0, 0
        for idx, _ in iter_batches(items, size=224, batch_size=batch_size, workers=w,
                                   pin_memory=pin):
            if first is None:
                first, first_n = time.perf_counter() - t, len(idx)
            n += len(idx)
        total = time.perf_counter() - t
        steady = (n - first_n) / (total - first) if n > first_n and total > first else n / total
        rows.append({"workers": w, "images": n, "seconds": total, "first_batch_s": first,
                     "images_per_s": n / total, "steady_images_per_s": steady})
    return rows


def print_table(res: dict) -> None:
    """The compact table of the run."""
    peaks = res["matmul_peak_tflop_per_s"]
    print(f"\ndevice {res['device']}  torch {res['torch']}  CPUs {res['cpus']}  "
          f"batch {res['batch_size']}  images/row {res['n_images']}")
    print("matmul peak: " + ", ".join(f"{k} {v:.3g} TFLOP/s" for k, v in peaks.items()))
    print("decode at 224, " + res["decode_source"] + ":")
    for d in res["decode"]:
        print(f"  workers={d['workers']}: {d['images_per_s']:7.0f} img/s overall, "
              f"{d['steady_images_per_s']:7.0f} img/s steady (first batch after "
              f"{d['first_batch_s']:.2f} s)")
    decode = res["decode_rate_used"]
    print("(fractions are of the same precision's matmul peak; on a CPU oneDNN's convolution "
          "kernels can beat the matmul, and emulated bf16 kernels differ from the matmul's)")
    print(f"\n{'model':18s} {'prec':5s} {'GFLOP/img':>9s} {'img/s':>8s} {'TFLOP/s':>8s} "
          f"{'of peak':>12s} {'19k prints':>11s} {'bound':>7s}")
    for r in res["forward"]:
        rate = min(decode, r["images_per_s"])
        r["projected_19k_s"] = COLLECTION / rate
        r["bound"] = "decode" if decode < r["images_per_s"] else "network"
        print(f"{r['model']:18s} {r['precision']:5s} {r['gflop_per_image']:9.2f} "
              f"{r['images_per_s']:8.1f} {r['tflop_per_s']:8.3f} "
              f"{100 * r['of_peak']:5.1f}% {r['peak']:>5s} {fmt_time(r['projected_19k_s']):>11s} "
              f"{r['bound']:>7s}")


def fmt_time(s: float) -> str:
    """Seconds as ``1h02m``, ``12m05s`` or ``42s``."""
    s = int(round(s))
    if s >= 3600:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    ap.add_argument("--n-images", type=int, default=None,
                    help="images per timed forward row (default 1,024 on a GPU, 16 on the "
                         "CPU, 2 with --quick); the decode rate uses 4x as many on a GPU "
                         "(200 on the CPU, 64 with --quick)")
    ap.add_argument("--batch-size", type=int, default=None,
                    help="default 64 on a GPU, 8 on the CPU (2 with --quick)")
    ap.add_argument("--decode-workers", type=int, default=None,
                    help="the N of 'iter_batches with 0 and N workers' (default: "
                         "simkit.features.images.default_workers(), at least 1)")
    ap.add_argument("--quick", action="store_true", help="a smoke run (under 2 min on a CPU)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "device.json"))
    args = ap.parse_args(argv)

    import torch
    from simkit.features.device import device_name, resolve_device
    from simkit.features.images import default_workers

    device = resolve_device(args.device)
    gpu = device.type != "cpu"
    args.batch_size = args.batch_size or (64 if gpu else (2 if args.quick else 8))
    args.n_images = args.n_images or (1024 if gpu else (2 if args.quick else 16))
    res: dict = {"device": device_name(device), "torch": torch.__version__,
                 "cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                 "quick": args.quick, "batch_size": args.batch_size,
                 "n_images": args.n_images, "load_before": os.getloadavg()}
    t0 = time.perf_counter()
    res["matmul_peak_tflop_per_s"] = {k: v / 1e12 for k, v in matmul_peaks(
        device, args.quick).items()}
    res["forward"] = bench_forward(device, {k: v * 1e12 for k, v in
                                            res["matmul_peak_tflop_per_s"].items()}, args)
    n_dec = args.n_images * 4 if gpu else (64 if args.quick else 200)
    workers = args.decode_workers or max(1, default_workers())
    with tempfile.TemporaryDirectory() as tmp:
        paths, res["decode_source"] = decode_inputs(n_dec, Path(tmp))
        res["decode"] = bench_decode(paths, [0, workers], 32,
                                     pin=device.type == "cuda")
    # a long job sees the steady rate: worker start-up is paid once, not per 19,000 prints
    res["decode_rate_used"] = max(d["steady_images_per_s"] for d in res["decode"])
    print_table(res)
    res["seconds"] = time.perf_counter() - t0
    res["load_after"] = os.getloadavg()
    print(f"\n{res['seconds']:.0f} s; load average before {res['load_before']}, after "
          f"{res['load_after']} on {os.cpu_count()} CPUs")
    from simkit.fileio import write_text
    write_text(json.dumps(res, indent=2) + "\n", args.out)
    print("wrote", args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
