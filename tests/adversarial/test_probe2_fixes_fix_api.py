"""probe2's Python-API findings (items 4, 7, 8, 9, 11, 13, 14, 16 of probe2-findings.md):
each user error is a SimkitError naming the value, before any work, and each silent or
misleading answer is said plainly.
"""
from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest

import simkit
import simkit.cli.app as cli
from simkit.errors import SimkitError, UsageError
from simkit.study.model import StudyError, load_study

from .test_probe2 import Q, _fast_cli, study
from .test_security import one_line_error

# test_probe2's fixtures (pytest finds them by name here): offline, a cache in tmp_path
# (autouse), and its one-question study with 32 x 32 images
FIXTURES = (_fast_cli, study)
IDS = ["i1", "i2", "i3", "i4", "i5"]


@pytest.fixture
def mine():
    """A vectors method ``probe_mine`` (i1 and i2 nearly the same), removed afterwards."""
    from simkit.methods.own_vectors import register_vectors
    from simkit.methods.registry import unregister_method

    vec = np.array([[0, 0], [0.1, 0], [5, 0], [0, 7], [9, 9]], dtype=float)
    register_vectors("probe_mine", pd.DataFrame(vec, index=pd.Index(IDS, name="image_id")))
    yield "probe_mine"
    unregister_method("probe_mine")


# -- 4: random:SEED past 64 bits -----------------------------------------------------------------
def test_random_seed_past_64_bits_is_refused_by_name(study, tmp_path, capsys):
    from simkit.features.backbones import WeightsError
    from simkit.features.models.network import random_seed

    assert random_seed("random:9223372036854775807") == 2**63 - 1
    assert random_seed("imagenet") is None
    with pytest.raises(WeightsError, match="9223372036854775808"):
        random_seed("random:9223372036854775808")
    big = "random:" + "9" * 24
    assert cli.main(["features", str(study), "--weights", big, "--size", "32",
                     "--out", str(tmp_path / "f.npz")]) == 2
    one_line_error(capsys.readouterr().err, "9" * 24, "2**63")
    assert not (tmp_path / "f.npz").exists()


# -- 7: choose / tables arguments ------------------------------------------------------------------
@pytest.mark.parametrize("kw,what", [(dict(size=0), "size 0"), (dict(size=True), "size True"),
                                     (dict(size=math.nan), "size nan"),
                                     (dict(size=32.5), "size 32.5"),
                                     (dict(size="32"), "size '32'"),
                                     (dict(size=10**9), "size 1000000000"),
                                     (dict(precision="fp8"), "'fp8'"),
                                     (dict(policy="nope"), "'nope'")])
def test_choose_refuses_bad_options_with_a_usage_error(study, kw, what):
    with pytest.raises(UsageError, match=what):
        simkit.choose(load_study(study), ["gram"], weights="random:0", progress=False, **kw)


def test_choose_loads_a_study_folder_given_as_a_path(study, mine):
    by_path = simkit.choose(str(study), [mine], progress=False)
    # i1-i2 (a-b) is by far the closest pair of the vectors
    assert list(by_path.choices["choice"]) == ["a-b"]
    with pytest.raises(StudyError, match="got a list"):
        simkit.choose(["i1.png"], [mine], progress=False)


def test_tables_take_a_choices_table_a_choices_file_or_a_study_folder(study, tmp_path):
    choices = pd.DataFrame({"question_id": ["q1"], "method": ["mine"], "choice": ["d-e"]})
    path = tmp_path / "choices.csv"
    choices.to_csv(path, index=False)
    # independently: the study loaded with that choices file
    expected = simkit.tables(load_study(study, choices=path), ci=False)["table2"]
    assert "mine" in set(expected["method"])
    for study_arg, result in [(load_study(study), choices), (str(study), choices),
                              (study, str(path)), (study, path)]:
        got = simkit.tables(study_arg, result, ci=False)["table2"]
        pd.testing.assert_frame_equal(got, expected)
    with pytest.raises(UsageError, match="MachineChoices of simkit.choose"):
        simkit.tables(load_study(study), 42)
    with pytest.raises(StudyError, match="got a dict"):
        simkit.tables({"a": 1})


@pytest.mark.parametrize("n_boot", [10**12, 10**20, 0, 2.5])
def test_tables_refuse_an_n_boot_past_the_bound(study, n_boot):
    with pytest.raises(UsageError, match="n_boot.*100,000"):
        simkit.tables(load_study(study), n_boot=n_boot)


# -- 8: demo and groups ------------------------------------------------------------------------
@pytest.mark.parametrize("kw,what", [(dict(image_size=1), "image_size"),
                                     (dict(image_size=48), "image_size"),
                                     (dict(image_size=64.0), "image_size"),
                                     (dict(groups_per_genre=0), "groups_per_genre"),
                                     (dict(seed=-1), "seed")])
def test_make_demo_study_checks_its_numbers_before_writing(tmp_path, kw, what):
    from simkit.study.demo import make_demo_study

    with pytest.raises(UsageError, match=what):
        make_demo_study(tmp_path / "demo", **kw)
    assert not (tmp_path / "demo").exists()


def test_new_study_refuses_a_negative_seed_and_lists_only_images_csv_columns(study, tmp_path):
    from simkit.study.groups import new_study

    with pytest.raises(UsageError, match="seed -1"):
        new_study(study, tmp_path / "s1", seed=-1)
    with pytest.raises(StudyError) as e:
        new_study(study, tmp_path / "s2", by="nope")
    assert str(e.value).endswith("images.csv has image_id, file, genre")
    with pytest.raises(StudyError, match="no column 'path'"):
        new_study(study, tmp_path / "s3", by="path")  # added by simkit, not in images.csv


# -- 9: SIMKIT_PAPER_DATA without the table ------------------------------------------------------
def test_paper_data_folder_without_the_table_is_a_simkit_error(monkeypatch, tmp_path):
    from simkit.analysis.published import published

    monkeypatch.setenv("SIMKIT_PAPER_DATA", str(tmp_path))
    with pytest.raises(SimkitError, match="table2.csv"):
        published("table2")
    with pytest.raises(UsageError, match="nope"):
        published("nope")


# -- 11: one method-name check, at registration --------------------------------------------------
@pytest.mark.parametrize("name", ["../x", "névé", "a b", "", "x,y", "9lives"])
def test_a_name_choices_csv_refuses_is_refused_at_registration(name, tmp_path):
    from simkit.methods.own_vectors import register_vectors
    from simkit.methods.registry import UnknownMethodError, method_names
    from simkit.study.model import is_method_name

    assert not is_method_name(name) and not is_method_name(f"{name}\n")
    with pytest.raises(UnknownMethodError, match="cannot be used"):
        # the name is refused before the (missing) file is read
        register_vectors(name, tmp_path / "missing.npz")
    assert name.strip().lower() not in method_names()


def test_cli_vectors_with_a_bad_name_stop_before_any_work(study, tmp_path, capsys):
    np.savez(tmp_path / "v.npz", image_ids=np.array(IDS), vectors=np.eye(5))
    out = tmp_path / "tables"
    assert cli.main(["tables", str(study), "--vectors", f"../x={tmp_path / 'v.npz'}",
                     "--methods", "../x", "--out", str(out)]) == 2
    one_line_error(capsys.readouterr().err, "'../x'", "cannot be used", "lower-case identifier")
    assert not out.exists()


# -- 13: a blank participant id without participants.csv ------------------------------------------
def test_blank_participant_id_names_responses_csv_and_its_line(write_study):
    root = write_study(Q, {"P1": {"q1": "a-b"}, "  ": {"q1": "a-b"}, "P3": {"q1": "b-c"}})
    assert not (root / "participants.csv").exists()
    with pytest.raises(StudyError) as e:
        load_study(root)
    assert str(e.value) == f"{root / 'responses.csv'}, line 3: empty participant_id"


# -- 16: SIMKIT_WIKIART that is not usable --------------------------------------------------------
def test_unusable_simkit_wikiart_is_said_once(monkeypatch, tmp_path):
    from simkit.study.demo import find_wikiart

    monkeypatch.setenv("SIMKIT_WIKIART", str(tmp_path / "no-such-folder"))
    with pytest.warns(UserWarning, match="no-such-folder.*synthetic prints"):
        assert find_wikiart() is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert find_wikiart() is None  # said once, not on every call
    (tmp_path / "prints").mkdir()
    (tmp_path / "prints" / "metadata.csv").write_text("filename\n")
    monkeypatch.setenv("SIMKIT_WIKIART", str(tmp_path / "prints"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert find_wikiart() == tmp_path / "prints"
