"""The report for colleagues: one self-contained HTML page, assembled from data.

:func:`render_report` takes a study, its tables (:func:`simkit.tables`), plotly figures
(:mod:`simkit.plots.report_figures` makes them) and thumbnails as data URIs, and returns one
HTML string: no file is read and nothing is drawn here. The page needs no network: plotly.js
is inlined once (with the first figure), the thumbnails are data URIs, the style is inline and
the fonts are the reader's own.

Its parts: the study's summary and every note (random weights…) at the top, the figures,
every table (:mod:`simkit.reports.tables_html`: the paper's values beside ours) and every
question (:mod:`simkit.reports.questions_html`: thumbnails, the people's and each method's
pair). :func:`write_report` writes the page atomically (:func:`simkit.fileio.write_text`);
:func:`report` (``simkit.report``) does it all from a study.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Mapping

import pandas as pd

from simkit.analysis.names import display_name
from simkit.errors import SimkitError, UsageError
from simkit.fileio import new_or_replaceable
from simkit.reports.questions_html import questions_section
from simkit.reports.tables_html import escape, tables_section

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from simkit.methods.choices import MachineChoices
    from simkit.study.model import Study

__all__ = ["report", "render_report", "write_report", "check_report_path", "is_report_file",
           "thumbnails"]

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;
max-width:1200px;padding:0 1.2em 3em;color:#222;line-height:1.4}
h1{margin-top:.8em}h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:2em}
.notes{border:3px solid #D55E00;background:#fff4ec;padding:.6em 1em;margin:1em 0}
.notes p{margin:.3em 0;font-weight:bold;white-space:pre-wrap}
table{border-collapse:collapse;margin:.5em 0;font-size:.9em}
th,td{border:1px solid #ccc;padding:.2em .5em;text-align:right;vertical-align:top}
th{background:#f3f3f3}td.k,th.k{text-align:left}
.paper{color:#555;font-size:.9em}td.differs{background:#fde0c8}.mark{font-weight:bold}
.na{color:#555;font-style:italic}.why{color:#444;margin:.2em 0 .4em}
.q{border:1px solid #ddd;border-radius:6px;padding:.4em .8em;margin:1em 0}
.thumbs{display:flex;flex-wrap:wrap;gap:.6em}.thumb{margin:0;text-align:center;width:124px}
.thumb img{max-width:120px;max-height:120px;border:1px solid #bbb}
.thumb figcaption{font-size:.8em}.badge{display:inline-block;border:2px solid;
border-radius:4px;padding:0 .25em;margin:1px;font-size:.8em;background:#fff}
.picks{list-style:none;padding-left:0;margin:.4em 0}.picks li{margin:.15em 0}
.sw{display:inline-block;width:.9em;height:.9em;margin-right:.3em;vertical-align:middle}
.votes{font-size:.85em;color:#444}nav a{margin-right:.8em}
"""


# -- the page ---------------------------------------------------------------------------------
def _summary_section(study: "Study", facts: Mapping[str, str]) -> str:
    genres = study.questions["genre"].value_counts(sort=False)
    ex = study.exclusions
    reasons = ex["reason"].value_counts(sort=False)
    rows = [("images", str(len(study.images))),
            ("questions", f"{len(study.questions)} (" + ", ".join(
                f"{g}: {n}" for g, n in genres.items()) + ")"),
            ("participants", f"{len(study.participants)} recruited, "
                             f"{len(study.valid_participants)} valid, {len(ex)} excluded"),
            *((f"excluded: {r}", str(n)) for r, n in reasons.items()),
            ("responses", f"{len(study.responses)} ({len(study.valid_responses)} from valid "
                          f"participants)"),
            *facts.items()]
    body = "".join(f"<tr><th class='k'>{escape(k)}</th><td class='k'>{escape(v)}</td></tr>"
                   for k, v in rows)
    return f"<h2 id='study'>The study</h2><table>{body}</table>"


def _notes_box(notes: Iterable[str]) -> str:
    notes = [n for n in dict.fromkeys(notes) if n]
    if not notes:
        return ""
    return ("<div class='notes' role='alert'>" + "".join(
        f"<p>⚠ WARNING: {escape(n)}</p>" for n in notes) + "</div>")


def _figures_section(figures: Mapping[str, "go.Figure"]) -> str:
    parts = ["<h2 id='figures'>Figures</h2>"]
    config = {"displaylogo": False, "responsive": True}
    for k, (name, fig) in enumerate(figures.items()):
        # plotly.js once, inlined with the first figure; the others use it
        div = fig.to_html(full_html=False, include_plotlyjs=(k == 0), config=config,
                          div_id=f"fig-{name}")
        parts.append(f"<section class='figure' id='f-{escape(name)}'>{div}</section>")
    return "\n".join(parts)


def render_report(study: "Study", tables: Mapping[str, pd.DataFrame], *,
                  figures: Mapping[str, "go.Figure"] | None = None,
                  thumbnails: Mapping[str, str] | None = None, notes: Iterable[str] = (),
                  title: str | None = None, facts: Mapping[str, str] | None = None) -> str:
    """The report as one self-contained HTML page.

    Parameters
    ----------
    study : Study
        The study the tables were computed on (its summary and questions are shown).
    tables : mapping of str to DataFrame
        :func:`simkit.tables`' result, every table shown; empty when the study has no
        valid participant yet (then only the study and the machines' picks are shown).
    figures : mapping of str to plotly Figure, optional
        Drawn in order (:func:`simkit.plots.report_figures.report_figures`).
    thumbnails : mapping of str to str, optional
        image_id → ``data:`` URI of its thumbnail.
    notes : iterable of str
        Warnings shown at the top (e.g. random weights); the notes of empty tables are
        added.
    title : str, optional
        The page title (default: the study folder's name).
    facts : mapping of str to str, optional
        More lines for the study summary (e.g. the weights used).

    Returns
    -------
    str
        The HTML page.
    """
    from simkit import __version__

    name = title or f"simkit report: {study.root.name if study.root else 'a study'}"
    notes = [*notes, *(f"{n}.csv: {t.attrs['note']}" for n, t in tables.items()
                       if t.empty and t.attrs.get("note"))]
    nav = ["<a href='#study'>Study</a>"]
    body = [_summary_section(study, facts or {})]
    if figures:
        nav.append("<a href='#figures'>Figures</a>")
        body.append(_figures_section(figures))
    if tables:
        nav.append("<a href='#tables'>Tables</a>")
        body.append(tables_section(tables))
    nav.append("<a href='#questions'>Questions</a>")
    body.append(questions_section(study, tables, thumbnails or {}))
    return (f"{_PAGE_START}"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"{_GENERATOR}{__version__}'>"
            f"<title>{escape(name)}</title><style>{_CSS}</style></head><body>"
            f"<h1>{escape(name)}</h1><p class='why'>Made with simkit {__version__}: human "
            f"similarity judgements and machine methods, after Wei et al. (2022).</p>"
            f"{_notes_box(notes)}<nav>{''.join(nav)}</nav>\n" + "\n".join(body)
            + "\n</body></html>\n")


#: How every page :func:`render_report` makes begins, up to the simkit version: an existing
#: file that does not begin so is not one of ours and is never replaced.
_PAGE_START = "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
_GENERATOR = "<meta name='generator' content='simkit "


def is_report_file(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a report written by :func:`render_report` (its first bytes: the
    doctype, then simkit's generator tag), which a new report may replace."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(1024).decode("utf-8", "replace")
    except OSError:
        return False
    return head.startswith(_PAGE_START) and _GENERATOR in head


def check_report_path(out: str | os.PathLike) -> Path:
    """``out`` as a path the report can be written to: not a folder nor under a file, and
    not an existing file other than an earlier report (a study's images.csv given by
    mistake); a clear :class:`~simkit.errors.UsageError` otherwise, before any work."""
    out = Path(out)
    if out.is_dir():
        raise UsageError(f"{out} is a folder; give the report a file name, like "
                         f"{out / 'report.html'}")
    if out.parent.exists() and not out.parent.is_dir():
        raise UsageError(f"{out.parent} is a file, not a folder; give a report path in a "
                         f"folder")
    if out.exists() and not out.is_file():  # a FIFO or a device: never opened
        raise UsageError(f"{out} exists and is not a simkit report; choose another file name")
    return new_or_replaceable(out, is_report_file, "a simkit report")


def write_report(text: str, out: str | os.PathLike) -> Path:
    """Write the page to ``out`` atomically (an existing report is replaced in one step)."""
    from simkit.fileio import write_text

    return write_text(text, check_report_path(out))


# -- the one call ---------------------------------------------------------------------------
def thumbnails(study: "Study", size: int = 120, *, progress: bool = True
               ) -> tuple[dict[str, str], list[str]]:
    """Every questioned image of ``study`` as a small JPEG ``data:`` URI, and a note for
    each image that cannot be read (it gets a grey square)."""
    import base64

    from tqdm.auto import tqdm

    from simkit.features.images import ImageError
    from simkit.features.thumbnails import encode_thumbnail, placeholder_image
    from simkit.study.model import IMAGE_COLUMNS

    ids = list(dict.fromkeys(study.questions[IMAGE_COLUMNS].astype(str).to_numpy().ravel()))
    uris, notes = {}, []
    for image_id in tqdm(ids, desc="thumbnails", unit="image", disable=not progress):
        try:
            data = encode_thumbnail(study.image_path(image_id), size, "JPEG", quality=75)
        except (ImageError, KeyError, OSError) as e:
            notes.append(f"image {image_id}: no thumbnail ({e})")
            data = placeholder_image(size, "JPEG")
        uris[image_id] = "data:image/jpeg;base64," + base64.b64encode(data).decode("ascii")
    return uris, notes


def _tables_or_none(study: "Study", ci: bool, n_boot: int) -> tuple[dict, list[str]]:
    """The tables of ``study``; none (and why) while it has no valid participant."""
    from simkit.analysis.all_tables import compute_tables
    from simkit.analysis.tables import require_analysable

    if not study.questions.empty and not study.valid_participants:
        try:
            require_analysable(study)
        except SimkitError as e:  # the study and the machines' picks are still worth a page
            return {}, [f"no tables: {e}"]
    return compute_tables(study, ci=ci, n_boot=n_boot), []  # no question: its clear error


def _inputs(study, result, tables, methods, options: dict):
    """(study, MachineChoices or None, tables or None) from what :func:`report` was given;
    the methods choose when nothing gives the machine choices."""
    from simkit.analysis.tables import require_analysable
    from simkit.methods.choices import MachineChoices, choose
    from simkit.methods.registry import DEFAULT_METHODS
    from simkit.study.model import Study, load_study

    study = study if isinstance(study, Study) else load_study(study)
    if study.questions.empty:
        require_analysable(study)  # nothing to report: say so before any feature is made
    if isinstance(result, Mapping):
        tables, result = result, None
    if result is None and tables is None and study.choices is None:
        result = choose(study, methods or DEFAULT_METHODS, **options)
    if result is not None and not isinstance(result, MachineChoices):
        raise TypeError(f"result must be simkit.choose's MachineChoices or simkit.tables' "
                        f"dict, not {type(result).__name__}")
    return study, result, tables


def report(study: "Study | str | os.PathLike", result: "MachineChoices | Mapping | None" = None,
           *, out: str | os.PathLike = "report.html",
           tables: Mapping[str, pd.DataFrame] | None = None,
           methods: Iterable[str] | str | None = None, weights: str | os.PathLike = "imagenet",
           fallback_weights: str | None = None, device: str | None = "auto",
           title: str | None = None, figures: str | os.PathLike | None = None,
           notes: Iterable[str] = (), ci: bool = True, n_boot: int = 2000,
           thumb_size: int = 120,
           progress: bool = True, **choose_options) -> Path:
    """Write the report for colleagues: one self-contained HTML file (no network needed).

    Parameters
    ----------
    study : Study or path
        A loaded study or its folder.
    result : MachineChoices or dict of DataFrame, optional
        :func:`simkit.choose`'s result, or the tables :func:`simkit.tables` already made.
        Without either (nor ``tables``), the study's ``choices.csv`` is used, else the
        ``methods`` choose now (features computed or read from the cache).
    out : path
        The HTML file (replaced atomically when it exists; a folder is refused).
    tables : dict of DataFrame, optional
        The tables already computed (as ``result`` may be).
    methods, weights, fallback_weights, device, choose_options
        As for :func:`simkit.choose`, when the choices are computed.
    title : str, optional
        The page's title.
    figures : path, optional
        A folder to also save every figure in, one by one (HTML; PNG when kaleido is
        installed); its other files are left alone.
    notes : iterable of str
        More warnings to show at the top (a result's notes are always shown).
    ci : bool
        Compute the bootstrap intervals (when the tables are computed here).
    n_boot : int
        Bootstrap resamples of the intervals.
    thumb_size : int
        Thumbnails' longest side, in pixels.
    progress : bool
        Show progress bars.

    Returns
    -------
    Path
        ``out``.

    Examples
    --------
    >>> simkit.report(study, result, out="report.html")          # doctest: +SKIP
    """
    from simkit.plots.report_figures import check_figures_folder, report_figures, save_figures

    out = check_report_path(out)
    if figures is not None:
        check_figures_folder(figures)
    study, result, tables = _inputs(study, result, tables, methods, dict(
        weights=weights, fallback_weights=fallback_weights, device=device, progress=progress,
        **choose_options))
    facts: dict[str, str] = {}
    notes = list(notes)
    if result is not None:
        study, notes = result.study_with_choices(study), [*result.notes, *notes]
        facts["weights"] = str(result.weights)
    if tables is None:
        tables, why = _tables_or_none(study, ci, n_boot)
        notes += why
    if study.methods:
        facts["machine methods"] = ", ".join(map(display_name, study.methods))
    figs = report_figures(tables)
    thumbs, bad = thumbnails(study, thumb_size, progress=progress)
    text = render_report(study, tables, figures=figs, thumbnails=thumbs, notes=[*notes, *bad],
                         title=title, facts=facts)
    write_report(text, out)
    if figures is not None:
        save_figures(figs, figures)
    return out
