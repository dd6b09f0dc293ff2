"""The experiment of Pihlgren et al. (§3–4): contexts from random rankings of the six
distortions, baseline and adapted metrics, scored on SVHN, STL-10 and BAPPS; Table 3.

The protocol (:class:`Protocol`, defaults = the paper's):

* ``rankings`` = 20 random rankings of the six distortions (seeded by ``ranking_seed``);
* every loss network × comparison is scored as the **baseline** (w = 1) and **adapted**:
  scalars learned (:func:`~.adaptation.adapt`) on SVHN train triplets — 10 epochs, 20 % of
  the training images held out for validation, the learning rate decaying linearly to 0
  over the last 5 epochs, L_sync (eq. 4) until the validation 2AFC first exceeds 0.5 —
  ``repeats`` = 4 times (seeds 0–3);
* the **adapted net** (AlexNet, spatial, as the paper's smaller trial): the network's
  parameters fine-tuned with the scalars (:func:`~.adaptation.adapt_network`);
* scores: 2AFC (eq. 5) of the ranking on SVHN test and STL-10 test triplets (each image
  with two versions distorted by two different random distortions), BAPPS 2AFC and JND
  (val, every subset, pooled) for prior performance.

Choices the paper leaves open, stated: images are resized to ``size`` = 64 px (LPIPS's
patch size, BAPPS's size) before distorting; each image gets one triplet whose two
distortions and parameters are drawn once (seeded) and shared by all rankings — a ranking
changes only which of the two is "more similar", so rankings are compared on the same
images; the learning rate is Zhang et al.'s 1e-4 (the paper refers to their training);
each adapted metric keeps the scalars of its best validation epoch; BAPPS scores pool the
triplets (pairs) of all subsets.

Resumable: each (ranking, network, comparison, variant, repeat) is one JSON file under
``OUT/runs/``, written atomically when done; a rerun computes only the missing ones (and a
network's features only when one of its files is missing). ``OUT/protocol.json`` holds the
settings: a rerun with other settings into the same folder is refused.
"""
from __future__ import annotations

import dataclasses
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np
import pandas as pd

from simkit.methods.perceptual.datasets import concat_triplets, draw_triplets, labels
from simkit.methods.perceptual.errors import PerceptualDataError

if TYPE_CHECKING:
    import torch

    from simkit.methods.perceptual.twoafc import Triplets, TripletStats

__all__ = ["Protocol", "QUICK", "paper_rankings", "replicate", "summarise", "published",
           "RESULT_COLUMNS", "SCORE_COLUMNS", "TABLE3_METHODS", "run_files", "ReplicationError",
           "Summary", "side_by_side", "collect"]

RESULT_COLUMNS = ["ranking", "ranking_order", "net", "comparison", "variant", "repeat",
                  "svhn_2afc", "stl10_2afc", "bapps_2afc", "bapps_jnd", "val_2afc",
                  "best_epoch", "seconds"]
TABLE3_METHODS = {"baseline": "baseline", "scalars": "adapted_scalars", "net": "adapted_net"}
#: seeds of the distortion draws (fixed: rankings share the images and their distortions)
DRAW_SEEDS = {"train": 1, "svhn": 2, "stl10": 3}


class ReplicationError(PerceptualDataError):
    """The output folder or the settings of a replication cannot be used."""


@dataclass(frozen=True)
class Protocol:
    """The settings of a replication (defaults: the paper's; see the module docstring).

    ``n_train`` / ``n_test`` / ``bapps_limit``: use only the first images / items (None:
    all); ``net_variant``: also fine-tune the network (for AlexNet with spatial comparison,
    when both are run)."""

    nets: tuple[str, ...] = ("alexnet", "squeezenet", "vgg16")
    comparisons: tuple[str, ...] = ("spatial", "mean", "sort", "spatial+mean", "spatial+sort")
    rankings: int = 20
    repeats: int = 4
    ranking_seed: int = 0
    weights: str = "imagenet"
    size: int = 64
    epochs: int = 10
    decay_epochs: int = 5
    val_fraction: float = 0.2
    lr: float = 1e-4
    net_lr: float = 1e-4
    batch_size: int = 50
    n_train: int | None = None
    n_test: int | None = None
    bapps_limit: int | None = None
    net_variant: bool = True
    quick: bool = False
    fabricated: bool = False

    def settings(self) -> dict:
        return dataclasses.asdict(self)

    def runs(self) -> list[tuple[int, str, str, str, int]]:
        """Every (ranking, net, comparison, variant, repeat) of the protocol."""
        out = []
        for ri in range(self.rankings):
            for net in self.nets:
                for comp in self.comparisons:
                    out.append((ri, net, comp, "baseline", 0))
                    out += [(ri, net, comp, "scalars", r) for r in range(self.repeats)]
                    if self.net_variant and net == "alexnet" and comp == "spatial":
                        out += [(ri, net, comp, "net", r) for r in range(self.repeats)]
        return out


#: ``--quick``: a laptop-sized subset — AlexNet, spatial, 2 rankings, 1 training each,
#: 300 SVHN train images, 100 test images per set, 40 BAPPS items per subset, lr 0.01
#: (a few dozen steps instead of thousands).
QUICK = dict(nets=("alexnet",), comparisons=("spatial",), rankings=2, repeats=1,
             n_train=300, n_test=100, bapps_limit=40, lr=0.01, net_lr=1e-4, quick=True)


def paper_rankings(n: int = 20, seed: int = 0) -> list[list[str]]:
    """``n`` different random rankings of the six distortions (least disruptive first)."""
    from simkit.methods.perceptual.distortions import DISTORTIONS

    rng = np.random.default_rng(seed)
    out: list[list[str]] = []
    while len(out) < n:
        r = [DISTORTIONS[i] for i in rng.permutation(len(DISTORTIONS))]
        if r not in out:
            out.append(r)
    return out


def run_files(out: str | os.PathLike, run: tuple[int, str, str, str, int]) -> Path:
    """The result file of one (ranking, net, comparison, variant, repeat)."""
    ri, net, comp, variant, rep = run
    return Path(out) / "runs" / f"r{ri:02d}_{net}_{comp.replace('+', '-')}_{variant}_{rep}.json"


def published(name: str = "table3") -> pd.DataFrame:
    """The paper's Table 3 (``table3``) or the correlations of its §4 (``correlations``),
    shipped with simkit (``simkit/methods/perceptual/pihlgren2023``)."""
    from importlib.resources import files

    if name not in ("table3", "correlations"):
        raise ValueError(f"no published {name!r}; use table3 or correlations")
    path = Path(str(files("simkit.methods.perceptual") / "pihlgren2023" / f"{name}.csv"))
    return pd.read_csv(path)


# -- statistics ------------------------------------------------------------------------
def _stats_of(parts: Sequence["Triplets"], net, bases, p: Protocol, progress: bool
              ) -> tuple["TripletStats", pd.DataFrame]:
    """Statistics of chunked triplets, concatenated; and their distortion table."""
    from simkit.methods.perceptual.twoafc import TripletStats, triplet_statistics

    got = [triplet_statistics(t, net, bases, size=p.size, batch_size=64, progress=progress)
           for t in parts]
    off, p0, p1, pairs = 0, [], [], []
    for s in got:
        p0.append(s.p0 + off)
        p1.append(s.p1 + off)
        pairs.append(s.pairs)
        off += len(s.pairs)
    stats = {b: np.concatenate([s.stats[b] for s in got]) for b in got[0].stats}
    first = got[0]
    return (TripletStats(np.concatenate(pairs), stats, np.concatenate(p0), np.concatenate(p1),
                         np.concatenate([s.J for s in got]),
                         np.concatenate([s.group for s in got]), first.net, first.weights,
                         first.is_random, first.size, first.weights_note),
            pd.concat([t.table for t in parts], ignore_index=True))


class _Data:
    """The images and each network's statistics, computed when first needed."""

    def __init__(self, paths: dict[str, Path], p: Protocol, download: bool, progress: bool):
        self.paths, self.p, self.download, self.progress = paths, p, download, progress
        self._pixels: dict[str, list] = {}
        self._stats: dict[tuple, tuple] = {}

    def triplets(self, which: str) -> list["Triplets"]:
        from simkit.methods.perceptual import paper_data as pdata

        if which not in self._pixels:
            p = self.p
            if which == "train":
                px = pdata.load_svhn(self.paths["svhn"], "train", download=self.download,
                                     limit=p.n_train)
            elif which == "svhn":
                px = pdata.load_svhn(self.paths["svhn"], "test", download=self.download,
                                     limit=p.n_test)
            else:
                px = pdata.load_stl10(self.paths["stl10"], "test", download=self.download,
                                      limit=p.n_test)
            self._pixels[which] = draw_triplets(px, DRAW_SEEDS[which], p.size, name=which)
        return self._pixels[which]

    def train_pool(self) -> "Triplets":
        """The SVHN training triplets as one pool of pixels (for fine-tuning)."""
        if "train_pool" not in self._pixels:
            self._pixels["train_pool"] = concat_triplets(self.triplets("train"))
        return self._pixels["train_pool"]

    def bapps(self, kind: str):
        from simkit.methods.perceptual import paper_data as pdata

        key = ("bapps", kind)
        if key not in self._pixels:
            load = pdata.load_bapps_2afc if kind == "2afc" else pdata.load_bapps_jnd
            self._pixels[key] = load(self.paths["bapps"], "val", limit=self.p.bapps_limit)
        return self._pixels[key]

    def stats(self, which: str, net, bases: Sequence[str]):
        """``which``: train, svhn, stl10 → (TripletStats, table); bapps-2afc → TripletStats;
        bapps-jnd → JndStats. ``net``: a LossNetwork (its name and weights are the key)."""
        from simkit.methods.perceptual.twoafc import jnd_statistics, triplet_statistics

        key = (which, net.name, net.weights, tuple(bases))
        tuned = bool(net.info.get("finetuned"))  # a fine-tuned network: used once, not kept
        if tuned or key not in self._stats:
            if which == "bapps-2afc":
                got = triplet_statistics(self.bapps("2afc"), net, bases, size=self.p.size,
                                         batch_size=64, progress=self.progress)
            elif which == "bapps-jnd":
                got = jnd_statistics(self.bapps("jnd"), net, bases, size=self.p.size,
                                     batch_size=64, progress=self.progress)
            else:
                got = _stats_of(self.triplets(which), net, bases, self.p, self.progress)
            if tuned:
                return got
            self._stats[key] = got
        return self._stats[key]

    def forget(self, net_name: str) -> None:
        """Drop a network's statistics (the next network needs the memory)."""
        self._stats = {k: v for k, v in self._stats.items() if k[1] != net_name}


# -- the run -----------------------------------------------------------------------------
def _check_out(out: Path, p: Protocol) -> None:
    """Write ``protocol.json``, or check that the one there has the same settings."""
    from simkit.fileio import write_text

    path = out / "protocol.json"
    settings = p.settings()
    if path.exists():
        try:
            old = json.loads(path.read_text(encoding="utf-8"))["settings"]
        except (OSError, ValueError, KeyError, TypeError):
            raise ReplicationError(f"{path}: not a protocol file of 'simkit perceptual "
                                   f"replicate'; choose another --out") from None
        old = {k: tuple(v) if isinstance(v, list) else v for k, v in old.items()}
        diff = [k for k in settings if old.get(k) != settings[k]]
        if diff:
            said = ", ".join(f"{k} {old.get(k)!r} -> {settings[k]!r}" for k in diff[:3])
            raise ReplicationError(f"{out}: holds a replication with other settings ({said}); "
                                   f"its results cannot be mixed — choose another --out, or "
                                   f"rerun with the same settings to resume it")
        return
    if out.exists() and any(x.name not in ("runs",) for x in out.iterdir()):
        raise ReplicationError(f"{out}: not empty and holds no protocol.json; choose a new or "
                               f"empty folder for --out")
    write_text(json.dumps({"settings": settings, "created": time.strftime("%Y-%m-%d %H:%M:%S")},
                          indent=2) + "\n", path)


def replicate(out: str | os.PathLike, paths: dict[str, Path], protocol: Protocol = Protocol(),
              *, device: "str | torch.device" = "auto", download: bool = False,
              progress: bool = True, log: Callable[[str], None] = lambda s: None
              ) -> pd.DataFrame:
    """Run (or resume) the replication into ``out``; returns every result row
    (:data:`RESULT_COLUMNS`). ``paths``: folders of ``svhn``, ``stl10`` and ``bapps``
    (:func:`~.paper_data.data_paths`)."""
    from simkit.features.device import resolve_device
    from simkit.fileio import write_text
    from simkit.methods.perceptual.adaptation import adapt, adapt_network
    from simkit.methods.perceptual.metrics import comparison_parts
    from simkit.methods.perceptual.networks import load_network

    p = protocol
    out = Path(out)
    dev = resolve_device(device)
    _check_out(out, p)
    rankings = paper_rankings(p.rankings, p.ranking_seed)
    todo = [r for r in p.runs() if not run_files(out, r).is_file()]
    log(f"{len(p.runs()) - len(todo)} of {len(p.runs())} runs already done; {len(todo)} to do")
    data = _Data(paths, p, download, progress)
    kw = dict(epochs=p.epochs, decay_epochs=p.decay_epochs, val_fraction=p.val_fraction,
              batch_size=p.batch_size, progress=progress)
    for net_name in p.nets:
        mine = [r for r in todo if r[1] == net_name]
        if not mine:
            continue
        net = load_network(net_name, p.weights, device=dev)
        bases = sorted({b for c in p.comparisons for b in comparison_parts(c)})
        for run in mine:
            ri, _, comp, variant, rep = run
            ranking = rankings[ri]
            t0 = time.perf_counter()
            row = {"ranking": ri, "ranking_order": ",".join(ranking), "net": net_name,
                   "comparison": comp, "variant": variant, "repeat": rep,
                   "val_2afc": None, "best_epoch": None}
            w, scored = None, net
            if variant == "scalars":
                st, table = data.stats("train", net, bases)
                st = dataclasses.replace(st, J=labels(table, ranking))
                r = adapt(st, comp, seed=rep, lr=p.lr, patience=p.epochs + 1, device=dev, **kw)
                w = r.w
                row.update(val_2afc=r.val_2afc, best_epoch=r.best_epoch)
            elif variant == "net":
                train = dataclasses.replace(data.train_pool())
                train.J = labels(train.table, ranking)
                r, scored = adapt_network(train, net, comp, seed=rep, size=p.size,
                                          lr=p.net_lr, **kw)
                w = r.w
                row.update(val_2afc=r.val_2afc, best_epoch=r.best_epoch)
            for which in ("svhn", "stl10"):
                st, table = data.stats(which, scored, bases)
                row[f"{which}_2afc"] = dataclasses.replace(st, J=labels(table, ranking)).score(comp, w)
            row["bapps_2afc"] = data.stats("bapps-2afc", scored, bases).score(comp, w)
            row["bapps_jnd"] = data.stats("bapps-jnd", scored, bases).score(comp, w)
            row["seconds"] = time.perf_counter() - t0
            row.update(weights=p.weights, meaningful=not net.is_random and not p.fabricated,
                       device=str(dev))
            write_text(json.dumps(row, indent=2, default=_plain) + "\n", run_files(out, run))
            log(f"done {run_files(out, run).name}: SVHN {row['svhn_2afc']:.4f}, STL-10 "
                f"{row['stl10_2afc']:.4f}, BAPPS 2AFC {row['bapps_2afc']:.4f}, JND "
                f"{row['bapps_jnd']:.4f} ({row['seconds']:.1f} s)")
        data.forget(net_name)
    return collect(out, p)


def _plain(o: object) -> object:
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    return str(o)


def collect(out: str | os.PathLike, protocol: Protocol) -> pd.DataFrame:
    """The result rows of every run of ``protocol`` found under ``out``."""
    rows = []
    for run in protocol.runs():
        f = run_files(out, run)
        if f.is_file():
            try:
                rows.append(json.loads(f.read_text(encoding="utf-8")))
            except ValueError:
                raise ReplicationError(f"{f}: not a result file (damaged?); delete it and rerun "
                                       f"to compute it again") from None
    df = pd.DataFrame(rows)
    for c in RESULT_COLUMNS:
        if c not in df:
            df[c] = np.nan
    return df


# -- summaries ---------------------------------------------------------------------------
SCORE_COLUMNS = ["bapps_2afc", "bapps_jnd", "svhn_2afc", "stl10_2afc"]


@dataclass
class Summary:
    """What :func:`summarise` derives from the result rows."""

    table3: pd.DataFrame            # method, bapps_2afc, bapps_jnd, svhn_2afc, stl10_2afc
    per_ranking: pd.DataFrame       # ranking, net, comparison, variant, mean/sd per score
    per_metric: pd.DataFrame        # net, comparison, variant, mean per score (Fig. 3)
    correlations: pd.DataFrame      # measure, data, computed, published, n, where
    notes: list[str] = field(default_factory=list)


def _spearman(a: pd.Series, b: pd.Series) -> float:
    ok = a.notna() & b.notna()
    if ok.sum() < 3:
        return float("nan")  # fewer than 3 rankings: no correlation to speak of
    return float(a[ok].rank().corr(b[ok].rank()))


def summarise(results: pd.DataFrame) -> Summary:
    """Table 3 (AlexNet, spatial: mean over rankings and repeats), the per-ranking and
    per-metric means (Figs. 2, 3) and the correlations of §4 beside the published ones.
    Undefined numbers (no such runs; fewer than 3 rankings for a correlation) are NaN."""
    res = results.copy()
    for c in SCORE_COLUMNS:
        res[c] = pd.to_numeric(res[c], errors="coerce")
    keys = ["ranking", "net", "comparison", "variant"]
    g = res.groupby(keys)[SCORE_COLUMNS]
    per_ranking = g.mean().join(g.std(ddof=1).add_suffix("_sd")).reset_index()
    per_metric = (per_ranking.groupby(["net", "comparison", "variant"])[SCORE_COLUMNS].mean()
                  .reset_index())
    t3 = per_ranking[(per_ranking.net == "alexnet") & (per_ranking.comparison == "spatial")]
    rows = []
    for variant, method in TABLE3_METHODS.items():
        sel = t3[t3.variant == variant]
        rows.append({"method": method, **{c: float(sel[c].mean()) if len(sel) else np.nan
                                          for c in SCORE_COLUMNS}})
    table3 = pd.DataFrame(rows, columns=["method", *SCORE_COLUMNS])

    pub = published("correlations").set_index(["measure", "data"])
    comp = {}
    # per ranking: the mean over networks and comparisons (and repeats)
    avg = per_ranking.groupby(["ranking", "variant"])[["svhn_2afc", "stl10_2afc"]].mean()
    avg = avg.unstack("variant")
    for data in ("svhn", "stl10"):
        col = f"{data}_2afc"
        have = {"baseline", "scalars"} <= set(avg[col].columns) if len(avg) else False
        comp[("spearman_baseline_vs_adapted_per_ranking", data)] = (
            (_spearman(avg[col]["baseline"], avg[col]["scalars"]), len(avg)) if have
            else (np.nan, 0))
    a = t3.set_index(["ranking", "variant"])["stl10_2afc"].unstack()
    for variant, measure in (("scalars", "spearman_baseline_vs_scalars_alexnet_spatial"),
                             ("net", "spearman_baseline_vs_net_alexnet_spatial")):
        if "baseline" in a and variant in a:
            comp[(measure, "stl10")] = (_spearman(a["baseline"], a[variant]), len(a))
        else:
            comp[(measure, "stl10")] = (np.nan, 0)
    sc = per_ranking[per_ranking.variant == "scalars"].pivot_table(
        index="ranking", columns=["net", "comparison"], values="stl10_2afc")
    if sc.shape[1] >= 2 and sc.shape[0] >= 3:
        c = sc.corr().to_numpy()
        comp[("mean_pearson_between_metrics", "stl10")] = (
            float(c[np.triu_indices_from(c, 1)].mean()), sc.shape[0])
    else:
        comp[("mean_pearson_between_metrics", "stl10")] = (np.nan, sc.shape[0])
    pr = per_ranking.set_index(["ranking", "net", "comparison", "variant"])["stl10_2afc"]
    if len(pr) and {"baseline", "scalars"} <= set(pr.index.get_level_values("variant")):
        u = pr.unstack("variant")
        pairs = u[["baseline", "scalars"]].dropna()
        comp[("improved_fraction", "stl10")] = (
            float((pairs["scalars"] > pairs["baseline"]).mean()) if len(pairs) else np.nan,
            len(pairs))
    else:
        comp[("improved_fraction", "stl10")] = (np.nan, 0)
    corr = pd.DataFrame([{"measure": m, "data": d, "computed": v, "n": n,
                          "published": pub.loc[(m, d), "published"],
                          "where": pub.loc[(m, d), "where"]}
                         for (m, d), (v, n) in comp.items()])
    notes = []
    if not len(t3):
        notes.append("Table 3 is about AlexNet with the spatial comparison, which this run "
                     "does not include: its rows are n/a")
    return Summary(table3, per_ranking, per_metric, corr, notes)


def side_by_side(table3: pd.DataFrame) -> pd.DataFrame:
    """Ours beside the published Table 3: ``method, column, ours, paper, diff``."""
    pub = published("table3").melt(id_vars="method", var_name="column", value_name="paper")
    ours = table3.melt(id_vars="method", var_name="column", value_name="ours")
    out = pub.merge(ours, on=["method", "column"], how="left")[["method", "column", "ours",
                                                                 "paper"]]
    out["diff"] = out["ours"] - out["paper"]
    return out
