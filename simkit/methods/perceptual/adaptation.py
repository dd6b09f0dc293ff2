"""Adapting a perceptual metric to a context: learning its per-channel scalars w.

The training of Pihlgren et al. §3.4 (after Zhang et al. 2018), on precomputed pair
statistics (the loss network is frozen, so only w and a small network are trained):

* a small auxiliary network G (Zhang et al.'s ``Dist2LogitLayer``: 5 → 32 → 32 → 1 with
  LeakyReLU(0.2)) reads (d0, d1, d0 − d1, d0/(d1+ε), d1/(d0+ε)) and predicts J, the
  probability that x1 is the more similar; the loss is BCE(G, J);
* plus L_sync = 10 · BCE(σ(d0 − d1), J) (eq. 4) until the validation 2AFC first exceeds
  0.5 at the end of an epoch;
* w ≥ 0 (projected after every step), initialised at 1 (the baseline);
* Adam (β1 = 0.5, as Zhang et al.), ``epochs`` = 10 with the learning rate decaying
  linearly towards 0 over the last ``decay_epochs`` = 5; 20 % of the training groups
  (questions, reference images) held out for validation; early stopping keeps the w of
  the best validation 2AFC (the baseline counts as epoch 0, so adapting never returns a
  metric worse on validation than the one it started from) and stops after ``patience``
  epochs without improvement.

The statistics, the scalars and G live on ``device`` (``"auto"``: a CUDA GPU, else Apple
MPS, else the CPU); on the CPU every number is what it always was.

Deviations, stated: the distances given to G and to L_sync are divided by one constant
(the mean baseline distance of the training triplets) because eqs. 1–3 produce values far
below 1 and G's ε = 0.1 assumes LPIPS's scale — a constant factor changes no ranking and
no 2AFC score. The default learning rate (0.01) is higher than Zhang et al.'s 1e-4, which
was set for ~15,000 steps; here a few thousand triplets give a few hundred steps.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterable, Sequence

import numpy as np
import pandas as pd

from simkit.methods.perceptual.errors import PerceptualDataError
from simkit.methods.perceptual.metrics import PerceptualMetric, combine, comparison_parts
from simkit.methods.perceptual.twoafc import TripletStats, human_ceiling, score_2afc

if TYPE_CHECKING:
    import torch

    from simkit.methods.perceptual.twoafc import Triplets

__all__ = ["adapt_network", "AdaptResult", "adapt", "adapt_seeds", "summarise_seeds",
           "make_aux_net"]


def make_aux_net(hidden: int = 32):
    """Zhang et al.'s small network from two distances to the logit of J."""
    import torch.nn as nn
    return nn.Sequential(nn.Linear(5, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, hidden),
                         nn.LeakyReLU(0.2), nn.Linear(hidden, 1))


def _aux_input(d0, d1, eps: float = 0.1):
    import torch
    return torch.stack([d0, d1, d0 - d1, d0 / (d1 + eps), d1 / (d0 + eps)], dim=1)


@dataclass
class AdaptResult:
    """Learned scalars ``w`` (flat, Σ C_l), the training history (epoch 0 = baseline) and
    the validation 2AFC of the baseline and of the kept scalars."""

    w: np.ndarray
    comparison: str
    seed: int
    history: pd.DataFrame
    best_epoch: int
    val_2afc: float
    baseline_val_2afc: float
    n_train: int
    n_val: int
    net: str = ""
    weights: str = ""
    size: int = 64
    info: dict = field(default_factory=dict)

    def metric(self) -> PerceptualMetric:
        return PerceptualMetric(self.net, self.comparison, self.weights, self.w.copy(),
                                self.size, {"seed": self.seed, "best_epoch": self.best_epoch,
                                            "val_2afc": self.val_2afc})


def _split(groups: np.ndarray, val_fraction: float, rng: np.random.Generator):
    uniq = np.unique(groups)
    if len(uniq) >= 2:
        perm = rng.permutation(uniq)
        n_val = min(len(uniq) - 1, max(1, int(round(val_fraction * len(uniq)))))
        val = np.isin(groups, perm[:n_val])
    else:  # one group only: split the triplets themselves
        perm = rng.permutation(len(groups))
        val = np.zeros(len(groups), dtype=bool)
        val[perm[:max(1, int(round(val_fraction * len(groups))))]] = True
    return np.flatnonzero(~val), np.flatnonzero(val)


def _seeded_aux_net(seed: int):
    """:func:`make_aux_net` initialised from ``seed``, independent of torch's global state."""
    import torch
    gen_init = torch.Generator().manual_seed(seed)
    aux = make_aux_net()
    with torch.no_grad():
        for p in aux.parameters():
            p.copy_(torch.empty_like(p).uniform_(-1, 1, generator=gen_init)
                    / np.sqrt(p.shape[-1]))
    return aux


def _learning_rate(lr: float, epoch: int, epochs: int, decay_epochs: int) -> float:
    """``lr``, decaying linearly towards 0 over the last ``decay_epochs`` epochs."""
    left = epochs - epoch + 1
    return lr * min(1.0, left / (decay_epochs + 1)) if decay_epochs else lr


def _set_lr(opt, lr: float, epoch: int, epochs: int, decay_epochs: int) -> float:
    """Give every parameter group this epoch's learning rate; return it."""
    cur = _learning_rate(lr, epoch, epochs, decay_epochs)
    for g in opt.param_groups:
        g["lr"] = cur
    return cur


def _pair_loss(d0, d1, J, aux, sync: bool):
    """BCE of G's prediction of J, plus L_sync (eq. 4) while ``sync``."""
    from torch.nn.functional import binary_cross_entropy_with_logits as bce

    loss = bce(aux(_aux_input(d0, d1)).squeeze(1), J)
    if sync:  # eq. 4 (BCE is never negative, so max(0, ·) is the BCE)
        loss = loss + 10.0 * bce(d0 - d1, J)
    return loss


def _train_epoch(S, p0, p1, J, order: np.ndarray, w, aux, opt, *, scale: float,
                 batch_size: int, sync: bool) -> float:
    """One pass over the training triplets ``order`` in batches; the mean loss."""
    import torch
    total, n = 0.0, 0
    for s in range(0, len(order), batch_size):
        b = torch.from_numpy(order[s:s + batch_size]).to(S.device)
        w2 = w ** 2
        d0 = (S[p0[b]] @ w2) / scale
        d1 = (S[p1[b]] @ w2) / scale
        loss = _pair_loss(d0, d1, J[b], aux, sync)
        opt.zero_grad()
        loss.backward()
        opt.step()
        with torch.no_grad():
            w.clamp_(min=0.0)  # the scalars stay non-negative
        total += float(loss.detach()) * len(b)
        n += len(b)
    return total / max(n, 1)


def adapt(stats: TripletStats, comparison: str = "spatial", *, seed: int = 0,
          epochs: int = 10, decay_epochs: int = 5, lr: float = 0.01, batch_size: int = 50,
          val_fraction: float = 0.2, patience: int = 3, sync: bool = True,
          progress: bool = True, device: "str | torch.device" = "auto") -> AdaptResult:
    """Learn the scalars of ``comparison`` on the triplets of ``stats`` (see the module
    docstring), on ``device``. Deterministic for a given ``seed`` (and device)."""
    import torch
    from tqdm.auto import tqdm

    from simkit.features.device import resolve_device

    comparison_parts(comparison)
    dev = resolve_device(device)
    if len(stats) < 2:
        raise PerceptualDataError("adaptation needs at least 2 triplets (some for "
                                  "validation); give more images or questions")
    if epochs < 1 or not 0 <= decay_epochs <= epochs:
        raise ValueError("need epochs >= 1 and 0 <= decay_epochs <= epochs")
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    tr, va = _split(stats.group, val_fraction, rng)
    S = torch.from_numpy(combine(stats.stats, comparison).astype(np.float32)).to(dev)
    n_w = S.shape[1]
    p0, p1 = torch.from_numpy(stats.p0).to(dev), torch.from_numpy(stats.p1).to(dev)
    J = torch.from_numpy(stats.J.astype(np.float32)).to(dev)
    base = S.sum(1)
    scale = float(torch.cat([base[p0[tr]], base[p1[tr]]]).mean()) or 1.0

    w = torch.ones(n_w, requires_grad=True, device=dev)
    aux = _seeded_aux_net(seed).to(dev)  # initialised on the CPU: the same start anywhere
    opt = torch.optim.Adam([w, *aux.parameters()], lr=lr, betas=(0.5, 0.999))

    def val_score(wv: torch.Tensor) -> float:
        with torch.no_grad():
            d = (S @ (wv.detach() ** 2)).cpu().double().numpy()  # MPS has no float64
        return score_2afc(d[stats.p0[va]], d[stats.p1[va]], stats.J[va])

    best_w = w.detach().clone()
    best = baseline = val_score(w)
    best_epoch, since = 0, 0
    sync_on = sync
    hist = [{"epoch": 0, "lr": 0.0, "loss": np.nan, "val_2afc": baseline, "sync": sync_on}]
    bar = tqdm(total=epochs, desc=f"adapt {stats.net} {comparison} seed {seed}",
               unit="epoch", disable=not progress)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matrices: extra threads only add synchronisation
    try:
        for epoch in range(1, epochs + 1):
            cur = _set_lr(opt, lr, epoch, epochs, decay_epochs)
            order = tr[rng.permutation(len(tr))]
            loss = _train_epoch(S, p0, p1, J, order, w, aux, opt, scale=scale,
                                batch_size=batch_size, sync=sync_on)
            score = val_score(w)
            hist.append({"epoch": epoch, "lr": cur, "loss": loss,
                         "val_2afc": score, "sync": sync_on})
            if sync_on and score > 0.5:
                sync_on = False
            if score > best + 1e-12:
                best, best_epoch, since = score, epoch, 0
                best_w = w.detach().clone()
            else:
                since += 1
            bar.update(1)
            bar.set_postfix(val_2afc=f"{score:.3f}")
            if since >= patience:
                # stopping early is a normal end: shown as a finished bar, not a red one
                bar.total = bar.n
                bar.set_postfix(val_2afc=f"{best:.3f}", stopped=f"epoch {epoch}")
                break
    finally:
        torch.set_num_threads(threads)
        bar.close()
    return AdaptResult(best_w.cpu().double().numpy(), comparison, seed, pd.DataFrame(hist),
                       best_epoch, best, baseline, len(tr), len(va), stats.net, stats.weights,
                       stats.size, {"scale": scale, "is_random": stats.is_random})


def adapt_seeds(train: TripletStats, test: TripletStats | None = None,
                comparisons: Iterable[str] = ("spatial",), seeds: Sequence[int] = (0, 1, 2, 3),
                **kwargs) -> tuple[pd.DataFrame, dict[tuple[str, int], AdaptResult]]:
    """Adapt each comparison with each seed; score baseline and adapted on ``test``.

    Returns ``(rows, results)``: one row per (comparison, seed) with ``baseline_2afc``,
    ``adapted_2afc`` (on ``test``; the validation split when ``test`` is None),
    ``val_2afc``, ``best_epoch``; and the :class:`AdaptResult` of each.
    """
    rows, results = [], {}
    for comp in comparisons:
        for seed in seeds:
            r = adapt(train, comp, seed=seed, **kwargs)
            results[(comp, seed)] = r
            row = {"net": train.net, "comparison": comp, "seed": seed,
                   "val_2afc": r.val_2afc, "baseline_val_2afc": r.baseline_val_2afc,
                   "best_epoch": r.best_epoch}
            if test is not None:
                row["baseline_2afc"] = test.score(comp)
                row["adapted_2afc"] = test.score(comp, r.w)
                row["human_ceiling"] = human_ceiling(test.J)
            rows.append(row)
    return pd.DataFrame(rows), results


def summarise_seeds(rows: pd.DataFrame, value_columns: Sequence[str] | None = None,
                    by: Sequence[str] = ("net", "comparison")) -> pd.DataFrame:
    """Mean and standard deviation (ddof=1) over seeds: ``<col>_mean``, ``<col>_sd``."""
    value_columns = list(value_columns or [c for c in rows.columns
                                           if c.endswith("_2afc") or c in ("agree", "ps")])
    g = rows.groupby(list(by), sort=False)[value_columns]
    out = g.mean().add_suffix("_mean").join(g.std(ddof=1).add_suffix("_sd"))
    out["n_seeds"] = g.size()
    return out.reset_index()


# -- the "adapted net" variant: fine-tuning the loss network with the scalars -------------
def _trainable_maps(net, pixels: "torch.Tensor", module) -> list["torch.Tensor"]:
    """The channel-normalised maps of ``module`` (a copy of ``net``'s trunk) with
    gradients, for uint8 ``pixels`` (LossNetwork's forward runs in inference mode)."""
    from simkit.features.images import normalize
    from simkit.methods.perceptual.networks import channel_normalize

    x = normalize(pixels.to(net.device or "cpu"))
    taps, out = set(net.spec.taps), []
    for i, m in enumerate(module):
        x = m(x)
        if i in taps:
            out.append(channel_normalize(x.float()) if net.normalize else x.float())
        if i >= max(taps):
            break
    return out


class _Tuning:
    """The fine-tuned trunk ``module`` (a copy of ``net``'s) on ``triplets``' images: pair
    statistics with or without gradients, distances, one training epoch."""

    def __init__(self, net, module, triplets: "Triplets", pixels: "torch.Tensor",
                 parts: Sequence[str], dev: "torch.device") -> None:
        self.net, self.module, self.triplets, self.pixels = net, module, triplets, pixels
        self.parts, self.dev = parts, dev

    def stats(self, idx: np.ndarray, grad: bool) -> tuple:
        import torch

        from simkit.methods.perceptual.metrics import layer_statistics_multi

        t = self.triplets
        with torch.set_grad_enabled(grad):
            m_ref = _trainable_maps(self.net, self.pixels[t.ref[idx]], self.module)
            s = []
            for other in (t.x0[idx], t.x1[idx]):
                m = _trainable_maps(self.net, self.pixels[other], self.module)
                st = layer_statistics_multi(m_ref, m, self.parts)
                s.append(sum(st[p] for p in self.parts).to(self.dev).float())
            return s[0], s[1]

    def distances(self, idx: np.ndarray, w: "torch.Tensor") -> tuple[np.ndarray, np.ndarray]:
        import torch

        d0, d1 = [], []
        with torch.no_grad():
            for s in range(0, len(idx), 256):
                s0, s1 = self.stats(idx[s:s + 256], False)
                d0.append((s0 @ w ** 2).double().cpu().numpy())
                d1.append((s1 @ w ** 2).double().cpu().numpy())
        return np.concatenate(d0), np.concatenate(d1)

    def epoch(self, order: np.ndarray, w: "torch.Tensor", J: "torch.Tensor", aux, opt, *,
              scale: float, sync: bool, batch_size: int) -> float:
        """One pass over ``order`` in batches; the mean loss."""
        import torch

        total = 0.0
        for s in range(0, len(order), batch_size):
            b = order[s:s + batch_size]
            s0, s1 = self.stats(b, True)
            d0, d1 = (s0 @ w ** 2) / scale, (s1 @ w ** 2) / scale
            loss = _pair_loss(d0, d1, J[torch.from_numpy(b).to(self.dev)], aux, sync)
            opt.zero_grad()
            loss.backward()
            opt.step()
            with torch.no_grad():
                w.clamp_(min=0.0)
            total += float(loss.detach()) * len(b)
        return total / max(len(order), 1)


def adapt_network(triplets: "Triplets", net, comparison: str = "spatial", *, seed: int = 0,
                  size: int = 64, epochs: int = 10, decay_epochs: int = 5, lr: float = 1e-4,
                  batch_size: int = 50, val_fraction: float = 0.2, sync: bool = True,
                  progress: bool = True) -> tuple[AdaptResult, object]:
    """Pihlgren et al.'s "adapted net": train the loss network's parameters together with
    the scalars (the same losses, schedule, split and best-validation choice as
    :func:`adapt`), on ``triplets``' images at ``size`` px, on ``net``'s device.

    Returns ``(result, network)``: the kept scalars and the fine-tuned network (a new
    :class:`~simkit.methods.perceptual.networks.LossNetwork`; ``net`` is left as it was).
    Each step runs the network on a batch's three images, so this costs far more than
    adapting the scalars alone."""
    import copy
    import dataclasses

    import torch
    from tqdm.auto import tqdm

    parts = comparison_parts(comparison)
    if len(triplets) < 2:
        raise PerceptualDataError("adaptation needs at least 2 triplets (some for validation)")
    dev = net.device or torch.device("cpu")
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    tr, va = _split(triplets.group, val_fraction, rng)
    pixels = triplets.load_pixels(size)
    module = copy.deepcopy(net.module).to(dev).train(False)  # no dropout/BN in the trunks
    for p in module.parameters():
        p.requires_grad_(True)
    J = torch.from_numpy(triplets.J.astype(np.float32)).to(dev)

    tuning = _Tuning(net, module, triplets, pixels, parts, dev)
    n_w = sum(net.channels)
    w = torch.ones(n_w, requires_grad=True, device=dev)
    b0, b1 = tuning.distances(tr[:2000], w)  # the scale of the distances, as adapt() sets it
    scale = float(np.mean(np.concatenate([b0, b1]))) or 1.0
    aux = _seeded_aux_net(seed).to(dev)
    opt = torch.optim.Adam([w, *aux.parameters(), *module.parameters()], lr=lr,
                           betas=(0.5, 0.999))

    def val_score() -> float:
        d0, d1 = tuning.distances(va, w.detach())
        return score_2afc(d0, d1, triplets.J[va])

    best = baseline = val_score()
    best_state = (copy.deepcopy(module.state_dict()), w.detach().clone())
    best_epoch, sync_on = 0, sync
    hist = [{"epoch": 0, "lr": 0.0, "loss": np.nan, "val_2afc": baseline, "sync": sync_on}]
    bar = tqdm(total=epochs, desc=f"adapt {net.name} network {comparison} seed {seed}",
               unit="epoch", disable=not progress)
    try:
        for epoch in range(1, epochs + 1):
            cur = _set_lr(opt, lr, epoch, epochs, decay_epochs)
            order = tr[rng.permutation(len(tr))]
            loss = tuning.epoch(order, w, J, aux, opt, scale=scale, sync=sync_on,
                                batch_size=batch_size)
            score = val_score()
            hist.append({"epoch": epoch, "lr": cur, "loss": loss, "val_2afc": score,
                         "sync": sync_on})
            if sync_on and score > 0.5:
                sync_on = False
            if score > best + 1e-12:
                best, best_epoch = score, epoch
                best_state = (copy.deepcopy(module.state_dict()), w.detach().clone())
            bar.update(1)
            bar.set_postfix(val_2afc=f"{score:.3f}")
    finally:
        bar.close()
    module.load_state_dict(best_state[0])
    for p in module.parameters():
        p.requires_grad_(False)
    tuned = dataclasses.replace(net, module=module.eval(),
                                info={**net.info, "finetuned": True, "seed": seed})
    result = AdaptResult(best_state[1].cpu().double().numpy(), comparison, seed,
                         pd.DataFrame(hist), best_epoch, best, baseline, len(tr), len(va),
                         net.name, net.weights, size,
                         {"scale": scale, "is_random": net.is_random, "variant": "net",
                          "val": va})
    return result, tuned
