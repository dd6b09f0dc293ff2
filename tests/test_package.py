"""The package stays light to import: heavy libraries load only when a function needs them."""
from __future__ import annotations

import pkgutil
import subprocess
import sys

import simkit

HEAVY = ("torch", "torchvision", "umap", "numba", "plotly", "ipywidgets", "cv2", "faiss",
         "dask", "zarr", "sklearn")


def test_importing_any_module_loads_nothing_heavy():
    modules = [m.name for m in pkgutil.walk_packages(simkit.__path__, "simkit.")
               if ".widgets" not in m.name]
    code = ("import sys\n" + "".join(f"import {m}\n" for m in modules)
            + f"print([h for h in {HEAVY!r} if h in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_widgets_say_what_to_install_when_extras_are_missing(monkeypatch):
    import simkit.widgets as w

    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # as if not installed
    monkeypatch.delitem(sys.modules, "simkit.widgets.questionnaire", raising=False)
    try:
        w.Questionnaire
    except ImportError as e:
        assert "pip install 'simkit-similarity[lab]'" in str(e)
    else:
        raise AssertionError("expected an ImportError naming the extra to install")
