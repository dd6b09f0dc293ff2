"""The measures of "how good could a machine be?" as compact text, for the tables that
``simkit tables`` prints (:func:`simkit.reports.text.format_tables`): the ``All`` rows of
the ceiling, split-half, kappa, tests and comparison files, the participant view and the
groups of ``--by``. The CSV files hold every genre at full precision.
"""
from __future__ import annotations

import pandas as pd

from simkit.analysis.names import display_name

__all__ = ["format_ceilings"]


def _f(v, digits: int = 2) -> str:
    return "n/a" if v is None or pd.isna(v) else f"{v:.{digits}f}"


def _span(lo, hi) -> str:
    return "" if pd.isna(lo) and pd.isna(hi) else f" [{_f(lo)}, {_f(hi)}]"


def _all(df: pd.DataFrame | None) -> pd.DataFrame:
    return pd.DataFrame() if df is None or df.empty else df[df["genre"] == "All"]


def format_ceilings(tables: dict[str, pd.DataFrame]) -> str:
    """The ceilings, tests and participant view of ``tables`` (from
    :func:`simkit.analysis.all_tables.compute_tables`) as a few lines of text (All questions).

    Parameters
    ----------
    tables : dict of str to pandas.DataFrame
        Computed tables; missing keys are skipped.

    Returns
    -------
    str
    """
    lines = ["How good could a machine be?  (All questions; every genre in the CSV files)"]
    ceil = _all(tables.get("ceiling"))
    if ceil.empty:
        lines.append("  Human ceiling: n/a (needs at least 2 valid participants)")
    else:
        c = ceil.set_index("measure")
        lines.append("  Human ceiling (each person vs the others' majority): " + ", ".join(
            f"{label} {_f(c.loc[m, 'ceiling'])} %{_span(c.loc[m, 'ci_low'], c.loc[m, 'ci_high'])}"
            for label, m in (("Agree", "agree"), ("Ps", "ps")) if m in c.index))
    split = _all(tables.get("split_half"))
    if not split.empty:
        r = split.iloc[0]
        lines.append(f"  Split-half agreement of the majority (2 x {int(r['half_size'])} people, "
                     f"{int(r['n_splits'])} splits): {_f(r['agree'])} %"
                     f"{_span(r['low'], r['high'])}")
    kappa = _all(tables.get("kappa"))
    if not kappa.empty:
        lines.append(f"  Fleiss' kappa among people: {_f(kappa.iloc[0]['kappa'], 3)}")
    sig = _all(tables.get("significance"))
    if not sig.empty:
        frac = _all(tables.get("ceiling_fraction"))
        share = ({(r.method, r.measure): r.fraction for r in frac.itertuples()}
                 if not frac.empty else {})
        lines.append(f"  {'method':<14}{'Agree %':>8}{'chance %':>10}{'p':>9}"
                     f"{'Agree/ceiling':>15}{'Ps/ceiling':>12}")
        for r in sig.itertuples():
            lines.append(f"  {display_name(r.method):<14}{_f(r.agree):>8}{_f(r.chance_agree):>10}"
                         f"{_f(r.p_value, 4):>9}{_f(share.get((r.method, 'agree')), 3):>15}"
                         f"{_f(share.get((r.method, 'ps')), 3):>12}")
    cmp_ = _all(tables.get("comparisons"))
    ps_cmp = _all(tables.get("ps_comparisons"))
    if not cmp_.empty:
        lines.append("  Method against method (a − b; Holm within the genre):")
        ps_rows = {(r.method_a, r.method_b): r for r in ps_cmp.itertuples()}
        for r in cmp_.itertuples():
            p = ps_rows.get((r.method_a, r.method_b))
            text = (f"    {display_name(r.method_a)} − {display_name(r.method_b)}: "
                    f"McNemar p_holm {_f(r.p_holm, 4)}")
            if p is not None:
                text += (f"; Agree {_f(p.agree_diff)}{_span(p.agree_ci_low, p.agree_ci_high)}, "
                         f"g {_f(p.cohen_g, 3)}; Ps {_f(p.ps_diff)}"
                         f"{_span(p.ps_ci_low, p.ps_ci_high)}, sign-flip p_holm {_f(p.p_holm, 4)}")
            lines.append(text)
    lines += _participants(tables) + _groups(tables)
    return "\n".join(lines)


def _participants(tables: dict[str, pd.DataFrame]) -> list[str]:
    lines: list[str] = []
    part = _all(tables.get("participant_agreement"))
    if not part.empty:
        stats = part.groupby("who", sort=False)["agree"].agg(["mean", "min", "max"])
        lines.append("  Each person's pick matched (%, mean [min, max] over people): " + "; ".join(
            f"{'other people' if who == 'people' else display_name(who)} "
            f"{_f(s['mean'])} [{_f(s['min'])}, {_f(s['max'])}]" for who, s in stats.iterrows()))
    tests = _all(tables.get("participant_tests"))
    if not tests.empty:
        lines.append("    method against other people, paired over people (sign-flip, Holm): "
                     + "; ".join(f"{display_name(r.method)} {_f(r.diff)} points, p_holm "
                                 f"{_f(r.p_holm, 4)}" for r in tests.itertuples()))
    return lines


def _groups(tables: dict[str, pd.DataFrame]) -> list[str]:
    from simkit.analysis.by_group import group_stems
    lines: list[str] = []
    for stem in group_stems(tables):
        groups = tables[f"{stem}_groups"]
        lines.append(f"  By {stem[3:]}: " + ", ".join(
            f"{r.group} ({r.n_valid} valid of {r.n_participants})" for r in groups.itertuples())
            + (f" — {groups.attrs['note']}" if groups.attrs.get("note") else ""))
        ceil_g = tables.get(f"{stem}_ceiling")
        agree_g = tables.get(f"{stem}_table3")
        for r in groups.itertuples():
            bits = []
            if ceil_g is not None:
                c = ceil_g[(ceil_g["group"] == r.group) & (ceil_g["genre"] == "All")
                           & (ceil_g["measure"] == "agree")]
                bits.append(f"Agree ceiling {_f(c['ceiling'].iloc[0]) if len(c) else 'n/a'}")
            if agree_g is not None:
                a = agree_g[(agree_g["group"] == r.group) & (agree_g["genre"] == "All")]
                bits += [f"{display_name(x.method)} {_f(x.agree)}" for x in a.itertuples()]
            lines.append(f"    {r.group}: " + ", ".join(bits))
    return lines
