"""The ipywidgets face of :class:`simkit.widgets.group_builder.GroupBuilder`.

:class:`GroupBuilderControls` builds the controls once and redraws them from the builder's
state (:meth:`GroupBuilderControls.render`); every click calls one public method of the
builder. Nothing here computes or reads files beyond the thumbnails of
:mod:`simkit.widgets.view`.
"""
from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any, Callable

from simkit.study.collection import ASPECTS
from simkit.study.groups import GROUP_SIZE
from simkit.study.model import IMAGE_COLUMNS, LETTERS, PAIRS, StudyError
from simkit.widgets.view import placeholder_png, thumbnail_png

if TYPE_CHECKING:
    from simkit.widgets.group_builder import GroupBuilder

__all__ = ["GroupBuilderControls", "ALL", "machine_html", "thumb", "title"]

#: The menu entry that clears a filter.
ALL = "(all)"

_FLAGS = {"disagree": ("#fde2e1", "⚠ the methods disagree"),
          "near-tie": ("#fff3cd", "≈ a near tie"),
          "clear": ("#e2f0d9", "✓ the methods agree")}


def thumb(builder: "GroupBuilder", image_id: str, px: int) -> bytes:
    """PNG thumbnail of an image of ``builder``; a grey square when it cannot be read."""
    try:
        return thumbnail_png(builder.path_of(image_id), px)
    except Exception:  # unreadable: a grey square rather than a broken view
        return placeholder_png()


def title(builder: "GroupBuilder", image_id: str) -> str:
    """"title · artist · genre" of an image (those known), else its id."""
    imgs = builder.images.set_index("image_id")
    parts = [str(imgs.at[image_id, c]) for c in ("title", "artist", "genre")
             if c in imgs.columns and str(imgs.at[image_id, c]) not in ("", "nan")]
    return " · ".join(parts) or image_id


def machine_html(builder: "GroupBuilder") -> str:
    """The verdict and the table of pair distances (each method's pick in bold) as HTML."""
    from simkit.analysis.names import display_name

    if not builder.full:
        return (f"<i>{len(builder.group)} of {GROUP_SIZE} prints chosen; the machines' "
                f"picks appear when the group is full.</i>")
    picks, dist = builder.machine()
    kind, reason = builder.verdict
    flag = _FLAGS[kind]
    head = "".join(f"<th>{html.escape(display_name(m))}</th>" for m in dist.columns)
    body = ""
    for p in PAIRS:
        cells = "".join(
            f"<td style='{'font-weight:bold;background:#cfe2ff' if picks[m] == p else ''}'>"
            f"{dist.at[p, m]:.4g}</td>" for m in dist.columns)
        body += f"<tr><td>({p[0]})-({p[2]})</td>{cells}</tr>"
    picks_row = "".join(f"<td><b>{picks[m]}</b></td>" for m in dist.columns)
    note = (f"<div style='color:#a00'>{html.escape(builder.weights_note)}</div>"
            if builder.weights_note else "")
    return (f"<div style='background:{flag[0]};padding:6px;border-radius:4px'>"
            f"<b>{flag[1]}</b> — {html.escape(reason)}</div>{note}"
            f"<table style='border-collapse:collapse'><tr><th>pair</th>{head}</tr>"
            f"<tr><td>pick</td>{picks_row}</tr>{body}</table>")


class GroupBuilderControls:
    """The controls of a :class:`GroupBuilder` (public, so tests can click them).

    ``root`` is the whole view. Browsing: ``genre``, ``artist``, ``text``, ``aspect``,
    ``prev``, ``next``, ``count`` and ``tiles`` (``(box, image, button)`` per thumbnail);
    the group: ``slots``, ``machine``, ``add``, ``clear``, ``undo``, ``suggest``,
    ``suggestions``; the study: ``groups``, ``path``, ``save``, ``message``.
    """

    def __init__(self, builder: "GroupBuilder", thumb_px: int) -> None:
        import ipywidgets as W

        self.builder = builder
        self.thumb_px = thumb_px
        self._quiet = False
        self._build_browser(W)
        self._build_group(W)
        self.groups = W.VBox()
        self.path = W.Text(value=str(builder.study_path or ""), description="Study",
                           placeholder="folder", layout=W.Layout(width="420px"))
        self.save = W.Button(description="Save 💾", button_style="success")
        self.save.on_click(lambda _: self.act(lambda: builder.save(self.path.value or None)))
        self.message = W.HTML()
        self.root = W.VBox([
            W.HBox([self.genre, self.artist]), W.HBox([self.text, self.aspect]),
            W.HBox([self.prev, self.count, self.next]), self.grid,
            W.HTML("<b>The group being built</b> (click a print above to add it)"),
            W.HBox([s[0] for s in self.slots]), self.machine,
            W.HBox([self.add, self.clear, self.undo, self.suggest]),
            self.suggestions, W.HTML("<b>The study's groups</b>"), self.groups,
            W.HBox([self.path, self.save]), self.message,
        ])

    def _build_browser(self, W: Any) -> None:
        b, px = self.builder, self.thumb_px
        opts = lambda col: [ALL, *b.options(col)]  # noqa: E731
        self.genre = W.Dropdown(options=opts("genre"), description="Genre")
        self.artist = W.Dropdown(options=opts("artist"), description="Artist")
        self.text = W.Text(placeholder="words in the title", description="Title")
        self.aspect = W.Dropdown(options=[ALL, *ASPECTS], description="Aspect")
        for w, key in ((self.genre, "genre"), (self.artist, "artist"),
                       (self.text, "text"), (self.aspect, "aspect")):
            w.observe(lambda ch, key=key: self.act(lambda: b.filter(**{key: ch["new"]})),
                      "value")
        self.count = W.HTML()
        self.prev = W.Button(description="◀", layout=W.Layout(width="40px"))
        self.next = W.Button(description="▶", layout=W.Layout(width="40px"))
        self.prev.on_click(lambda _: self.act(lambda: b.turn_page(-1)))
        self.next.on_click(lambda _: self.act(lambda: b.turn_page(1)))
        self.tiles = []
        for _ in range(b.page_size):
            img = W.Image(format="png", layout=W.Layout(width=f"{px}px", height=f"{px}px",
                                                        object_fit="contain"))
            btn = W.Button(layout=W.Layout(width=f"{px}px"))
            btn.on_click(lambda w: self.act(lambda: b.toggle(w.image_id)))
            self.tiles.append((W.VBox([img, btn]), img, btn))
        self.grid = W.GridBox([t[0] for t in self.tiles], layout=W.Layout(
            grid_template_columns=f"repeat(auto-fill, {px + 10}px)",
            max_height="520px", overflow="auto"))

    def _build_group(self, W: Any) -> None:
        b = self.builder
        self.slots = []
        for letter in LETTERS:
            img = W.Image(format="png", layout=W.Layout(width="150px", height="150px",
                                                        object_fit="contain"))
            btn = W.Button(description=f"({letter}) ✕", layout=W.Layout(width="150px"))
            btn.on_click(lambda w: self.act(lambda: b.remove(w.image_id)))
            self.slots.append((W.VBox([img, btn]), img, btn))
        self.machine = W.HTML()
        self.add = W.Button(description="Add to study ➕", button_style="primary")
        self.add.on_click(lambda _: self.act(b.add_to_study))
        self.clear = W.Button(description="Clear group")
        self.clear.on_click(lambda _: self.act(b.clear))
        self.undo = W.Button(description="Undo ↶")
        self.undo.on_click(lambda _: self.act(b.undo))
        self.suggest = W.Button(description="Suggest a group 💡")
        self.suggest.on_click(lambda _: self.act(lambda: b.suggest()))
        self.suggestions = W.VBox()

    def act(self, action: Callable[[], object]) -> None:
        """Run a click's action; a refused action becomes a message, not a traceback."""
        self._quiet = True  # one redraw at the end, not one per state change
        try:
            self.builder.message = ""
            action()
        except (ValueError, KeyError, StudyError) as e:
            self.builder.message = f"⚠ {e}"
        except Exception as e:  # e.g. weights unavailable: say so in the view
            self.builder.message = f"⚠ {type(e).__name__}: {e}"
        finally:
            self._quiet = False
        self.render()

    def render(self) -> None:
        """Show the builder's state (skipped while a click's action is still running)."""
        if self._quiet:
            return
        import ipywidgets as W

        b = self.builder
        n = len(b.visible)
        pages = max(1, -(-n // b.page_size))
        self.count.value = f"&nbsp;{n} prints · page {b.page + 1} of {pages}&nbsp;"
        self._render_tiles()
        try:
            self.machine.value = machine_html(b)
        except Exception as e:
            self.machine.value = f"<span style='color:#a00'>⚠ {html.escape(str(e))}</span>"
        self.add.disabled = not b.full
        self.undo.disabled = not b.can_undo
        self.suggestions.children = self._suggestion_rows(W)
        self.groups.children = self._group_rows(W)
        self.message.value = html.escape(b.message)

    def _render_tiles(self) -> None:
        b = self.builder
        ids = b.page_ids
        for k, (box, img, btn) in enumerate(self.tiles):
            if k < len(ids):
                i = ids[k]
                box.layout.display = ""
                img.value = thumb(b, i, self.thumb_px)
                btn.image_id = i
                inside = i in b.group
                btn.description = ("✓ " if inside else "") + title(b, i)[:18]
                btn.tooltip = title(b, i)
                btn.button_style = "success" if inside else ""
            else:
                box.layout.display = "none"
        for k, (box, img, btn) in enumerate(self.slots):
            if k < len(b.group):
                box.layout.visibility = "visible"
                img.value = thumb(b, b.group[k], 150)
                btn.image_id = b.group[k]
                btn.tooltip = title(b, b.group[k])
            else:
                box.layout.visibility = "hidden"

    def _suggestion_rows(self, W: Any) -> list:
        rows = []
        if self.builder.suggestions is not None:
            for r in self.builder.suggestions.itertuples():
                b = W.Button(description=f"use #{r.rank}", layout=W.Layout(width="90px"))
                b.on_click(lambda _, k=r.rank: self.act(
                    lambda: self.builder.use_suggestion(k)))
                rows.append(W.HBox([b, W.HTML(f"{r.genre} · {r.kind}: "
                                              f"{html.escape(r.reason)}")]))
        return rows

    def _group_rows(self, W: Any) -> list:
        b, rows = self.builder, []
        for g in b.groups:
            q = g["question_id"]
            up, down, rm = (W.Button(description=d, layout=W.Layout(width="36px"))
                            for d in ("↑", "↓", "✕"))
            up.on_click(lambda _, q=q: self.act(lambda: b.move_group(q, -1)))
            down.on_click(lambda _, q=q: self.act(lambda: b.move_group(q, 1)))
            rm.on_click(lambda _, q=q: self.act(lambda: b.remove_group(q)))
            thumbs = [W.Image(value=thumb(b, g[c], 48), format="png",
                              layout=W.Layout(width="48px", height="48px", object_fit="contain"))
                      for c in IMAGE_COLUMNS]
            rows.append(W.HBox([W.HTML(f"<b>{q}</b> {html.escape(g['genre'])}&nbsp;"),
                                *thumbs, up, down, rm]))
        return rows
