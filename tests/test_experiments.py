"""fastsdm.experiments: tidy records, theory beside measurement, output helpers, Ctrl-C."""

import csv
import json
import math
import re
import sys

import numpy as np
import pytest

import fastsdm
from fastsdm import experiments as ex
from fastsdm import theory
from fastsdm.experiments import _attention, _capacity, _common, _critical_distance

# Tiny but meaningful: p ~ 0.01, about 53 locations per read.
TINY = dict(n_bits=128, n_locations=4000, activation_probability=0.01, n_cues=100)
VERSION_KEYS = {"fastsdm_version", "numpy_version", "numba_version", "python_version"}


@pytest.fixture(scope="module")
def capacity_rows():
    return ex.capacity(**TINY, n_patterns=[20, 100, 400, 1600], noise=[0, 12, 24],
                       progress=False)


@pytest.fixture(scope="module")
def critical_rows():
    return ex.critical_distance(**TINY, n_patterns=[40, 100], step=8, iterations=10,
                                progress=False)


@pytest.fixture(scope="module")
def attention_rows():
    return ex.attention_comparison(radii=[5, 11], n_patterns=128, noise=[0, 8, 16], n_cues=32,
                                   progress=False)


def _by(rows, *keys):
    return {tuple(r[k] for k in keys): r for r in rows}


# -- schema -------------------------------------------------------------------


def _check_common(rows, experiment, config_keys):
    assert isinstance(rows, ex.Records) and isinstance(rows, list)
    assert rows.experiment == experiment and not rows.interrupted
    assert rows.config["experiment"] == experiment
    for row in rows:
        assert row["experiment"] == experiment
        assert VERSION_KEYS <= row.keys()
        assert row["fastsdm_version"] == fastsdm.__version__
        assert row["numpy_version"] == np.__version__
        for key in config_keys:  # the configuration travels with every row
            assert row[key] == rows.config[key], key
        for key, value in row.items():  # plain Python scalars: JSON/CSV-ready
            assert value is None or type(value) in (int, float, str, bool), (key, value)
    json.dumps(list(rows), allow_nan=False)
    json.dumps(rows.config, allow_nan=False)


def test_capacity_schema(capacity_rows):
    rows = capacity_rows
    _check_common(rows, "capacity", ["n_bits", "n_locations", "radius", "counter_dtype",
                                     "n_cues", "iterations", "seed", "activation_probability"])
    assert len(rows) == 4 * 3
    assert [(r["n_patterns"], r["noise"]) for r in rows[:4]] == [(20, 0), (20, 12), (20, 24),
                                                                   (100, 0)]
    r = rows[0]
    assert r["radius"] == theory.radius_for_probability(128, 0.01) == 51
    assert r["requested_activation_probability"] == 0.01
    assert r["activation_probability"] == pytest.approx(theory.activation_probability(128, 51))
    assert r["expected_activated"] == pytest.approx(4000 * r["activation_probability"])
    assert {"memory_seed", "pattern_seed", "cue_seed", "repetition"} <= r.keys()
    assert r["n_cues_read"] == 20  # at most the stored patterns
    for row in rows:
        for key in ("bit_error_rate_1", "exact_recall_1", "bit_error_rate_final",
                    "exact_recall_final", "fixed_point_fraction", "theory_bit_error_rate_1",
                    "theory_exact_recall_1"):
            assert 0.0 <= row[key] <= 1.0, key
        assert 1.0 <= row["mean_steps"] <= row["iterations"]
        assert row["theory_snr"] == pytest.approx(theory.snr(128, 51, 4000, row["n_patterns"]))
        assert row["mean_distance_1"] == pytest.approx(128 * row["bit_error_rate_1"])


def test_capacity_recall_falls_with_load_and_noise(capacity_rows):
    at = _by(capacity_rows, "n_patterns", "noise")
    loads, noises = [20, 100, 400, 1600], [0, 12, 24]
    for k in noises:
        recall = [at[m, k]["exact_recall_final"] for m in loads]
        assert recall[0] >= 0.9 and recall[-1] <= 0.1
        assert all(b <= a + 0.05 for a, b in zip(recall, recall[1:], strict=False)), recall
        ber = [at[m, k]["bit_error_rate_1"] for m in loads]
        assert ber[-1] > ber[0]
    for m in loads:
        recall = [at[m, k]["exact_recall_1"] for k in noises]
        assert all(b <= a + 0.05 for a, b in zip(recall, recall[1:], strict=False)), recall


def test_capacity_theory_beside_measurement(capacity_rows):
    at = _by(capacity_rows, "n_patterns", "noise")
    assert {r["theory_model"] for r in capacity_rows} == {"autoassociative"}
    for m, k in [(20, 24), (100, 12), (100, 24)]:  # light loads
        row = at[m, k]
        assert row["bit_error_rate_1"] == pytest.approx(row["theory_bit_error_rate_1"],
                                                        abs=0.01)
    for m, k in [(400, 12), (400, 24)]:  # loaded: 100 cues of one memory
        row = at[m, k]
        assert row["bit_error_rate_1"] == pytest.approx(row["theory_bit_error_rate_1"],
                                                        rel=0.15)
    for k in (12, 24):  # 100 cues per point: exact recall within sampling error
        row = at[100, k]
        assert row["exact_recall_1"] == pytest.approx(row["theory_exact_recall_1"], abs=0.15)
    # the paper model misses the loaded memory: no self-bias, crosstalk from n/2 only
    assert abs(at[400, 24]["theory_bit_error_rate_1_paper"]
               - at[400, 24]["bit_error_rate_1"]) > 0.02
    # theory_bit_error_rate_1 is the one-step model of theory.critical_distance, per bit
    row = at[100, 12]
    model = theory.critical_distance(128, 51, 4000, 100).curve[1][12] / 128
    assert row["theory_bit_error_rate_1"] == pytest.approx(model, rel=1e-9)
    paper = theory.critical_distance(128, 51, 4000, 100, model="paper").curve[1][12] / 128
    assert row["theory_bit_error_rate_1_paper"] == pytest.approx(paper, rel=1e-9)
    assert row["theory_exact_recall_1"] == theory.exact_recall_probability(128, 51, 4000, 100,
                                                                           12)
    assert row["theory_bit_error_rate_snr"] == pytest.approx(
        0.5 * math.erfc(row["theory_snr"] / math.sqrt(2)))


def test_heteroassociative_capacity():
    rows = ex.capacity(**TINY, n_patterns=[100, 400], noise=[0, 12],
                       storage="heteroassociative", progress=False)
    assert rows.config["storage"] == rows.config["theory_model"] == "heteroassociative"
    assert rows.config["iterations"] == 1
    at = _by(rows, "n_patterns", "noise")
    for row in rows:
        assert row["mean_steps"] == 1.0 and row["fixed_point_fraction"] is None
        assert row["exact_recall_final"] == row["exact_recall_1"]
        assert row["theory_bit_error_rate_1"] == theory.bit_error_probability(
            128, 51, 4000, row["n_patterns"], row["noise"], model="heteroassociative")
    # the read returns the data written at the address, not the address: a noiseless
    # cue of an autoassociative memory is read back nearly exactly at 400 patterns,
    # a heteroassociative one loses ~1.5 % of its bits, as its model says
    assert at[400, 0]["bit_error_rate_1"] == pytest.approx(
        at[400, 0]["theory_bit_error_rate_1"], abs=0.005)
    assert at[400, 0]["bit_error_rate_1"] > 0.005
    for m, k in [(100, 12), (400, 12)]:
        assert at[m, k]["bit_error_rate_1"] == pytest.approx(
            at[m, k]["theory_bit_error_rate_1"], rel=0.15)


def test_capacity_is_reproducible_and_seeded():
    kw = dict(n_bits=64, n_locations=500, radius=24, n_patterns=[10, 40], noise=[0, 6],
              n_cues=10, progress=False)
    a, b = ex.capacity(**kw, seed=3), ex.capacity(**kw, seed=3)
    assert list(a) == list(b)
    c = ex.capacity(**kw, seed=4)
    assert c[0]["memory_seed"] != a[0]["memory_seed"]
    reps = ex.capacity(**kw, seed=3, repetitions=2)
    assert [r["repetition"] for r in reps] == [0] * 4 + [1] * 4
    assert reps[:4] == [dict(r, repetitions=2) for r in a]  # repetition 0 is the same run
    assert reps[4]["pattern_seed"] != reps[0]["pattern_seed"]


def test_critical_distance_schema_and_estimates(critical_rows):
    rows = critical_rows
    _check_common(rows, "critical_distance", ["n_bits", "n_locations", "radius", "step"])
    assert rows.config["distances"] == list(range(0, 65, 8))
    assert len(rows) == 2 * 9
    for m in (40, 100):
        curve = [r for r in rows if r["n_patterns"] == m]
        assert [r["cue_distance"] for r in curve] == list(range(0, 65, 8))
        model = theory.critical_distance(128, 51, 4000, m)
        paper = theory.critical_distance(128, 51, 4000, m, model="paper")
        assert {r["critical_distance_theory"] for r in curve} == {model.distance}
        assert {r["critical_distance_theory_paper"] for r in curve} == {paper.distance}
        assert {r["theory_model"] for r in curve} == {"autoassociative"}
        (sim,) = {r["critical_distance_sim"] for r in curve}
        (recall,) = {r["critical_distance_recall"] for r in curve}
        assert 0 < sim < 64 and 0 < recall < 64
        assert curve[0]["exact_recall_final"] == 1.0 and curve[-1]["exact_recall_final"] < 0.5
        for r in curve:
            assert r["theory_distance_1"] == pytest.approx(model.curve[1][r["cue_distance"]])
            assert r["theory_distance_1_paper"] == pytest.approx(
                paper.curve[1][r["cue_distance"]])
            # the one-step model predicts the simulated single read
            assert abs(r["mean_distance_1"] - r["theory_distance_1"]) < 4
    cd = {r["n_patterns"]: r["critical_distance_sim"] for r in rows}
    assert cd[100] < cd[40]  # more patterns, smaller basins of attraction


@pytest.mark.nojit
def test_estimate_critical_distances_definitions():
    def curve(points):
        return [{"cue_distance": x, "mean_distance_final": f, "exact_recall_final": r}
                for x, f, r in points]

    rows = curve([(0, 0, 1.0), (10, 0, 1.0), (20, 5, 0.8), (30, 29, 0.5), (40, 60, 0.2),
                  (50, 10, 0.9)])  # a lucky point beyond the first failure does not count
    assert _critical_distance.estimate_critical_distances(rows) == {"critical_distance_sim": 30,
                                                     "critical_distance_recall": 30}
    rows = curve([(0, 0, 1.0), (10, 12, 0.4)])
    assert _critical_distance.estimate_critical_distances(rows) == {"critical_distance_sim": 0,
                                                     "critical_distance_recall": 0}


def test_attention_schema_and_metrics(attention_rows):
    from fastsdm.attention import compare_weights

    rows = attention_rows
    _check_common(rows, "attention", ["n_bits", "n_patterns", "beta_method", "dataset"])
    assert [(r["radius"], r["noise"]) for r in rows] == [(5, 0), (5, 8), (5, 16), (11, 0),
                                                         (11, 8), (11, 16)]
    for r in rows:
        d = r["radius"]
        assert r["beta_paper"] == pytest.approx(theory.fit_beta(64, d, "paper"))
        assert r["beta_ols"] == pytest.approx(theory.fit_beta(64, d, "ols"))
        assert r["beta"] == r["beta_paper"]
        cmp = compare_weights(64, d)
        assert r["weights_total_variation"] == pytest.approx(cmp.total_variation)
        assert r["weights_kl"] == pytest.approx(cmp.kl)
    at = _by(rows, "radius", "noise")
    assert at[11, 0]["sdm_exact_recall"] == at[11, 0]["softmax_exact_recall"] == 1.0
    # Beyond 2d = 10 bits the SDM read has no weight and returns the cue itself.
    assert at[5, 16]["sdm_exact_recall"] == 0.0
    weights = rows.tables["weights"]
    assert {(w["radius"], w["method"]) for w in weights} == {
        (5, "paper"), (5, "ols"), (11, "paper"), (11, "ols")}
    w11 = [w for w in weights if w["radius"] == 11 and w["method"] == "paper"]
    assert [w["h"] for w in w11] == list(range(65))
    assert sum(w["sdm_weight"] for w in w11) == pytest.approx(1.0)
    assert sum(w["softmax_weight"] for w in w11) == pytest.approx(1.0)


def test_attention_ols_and_iterations():
    rows = ex.attention_comparison(radii=[9], n_patterns=64, noise=[4], n_cues=8,
                                   iterations=3, beta_method="ols", progress=False)
    assert rows[0]["beta"] == rows[0]["beta_ols"] < rows[0]["beta_paper"]
    assert rows[0]["iterations"] == 3


def test_attention_digits():
    pytest.importorskip("sklearn")
    rows = ex.attention_comparison(dataset="digits", radii=[5], n_patterns=100,
                                   noise=[0, 2], n_cues=10, progress=False)
    assert rows[0]["dataset"] == "digits" and rows[0]["threshold"] == 8.0
    assert 1000 < rows[0]["distinct_patterns_available"] <= 1797
    assert rows[0]["softmax_exact_recall"] > 0.5


def test_attention_digits_without_sklearn(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match=r"dataset='digits' needs scikit-learn.*pip install"):
        ex.attention_comparison(dataset="digits", progress=False)


# -- Ctrl-C -------------------------------------------------------------------


def _interrupt_after(monkeypatch, step, k):
    module, name = step
    original = getattr(module, name)
    calls = []

    def step(*args, **kwargs):
        if len(calls) == k:
            raise KeyboardInterrupt
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, step)


RECALL = (_common, "recall")
PATTERN_RECALL = (_attention, "pattern_recall")


@pytest.mark.parametrize("run, step", [
    (lambda: ex.capacity(n_bits=64, n_locations=500, radius=24, n_patterns=[10, 20],
                         noise=[0, 4, 8], n_cues=5, progress=False), RECALL),
    (lambda: ex.critical_distance(n_bits=64, n_locations=500, radius=24, n_patterns=[10, 20],
                                  distances=[0, 4, 8], n_cues=5, progress=False), RECALL),
    (lambda: ex.attention_comparison(radii=[5, 9], n_patterns=16, noise=[0, 4, 8], n_cues=4,
                                     progress=False), PATTERN_RECALL),
], ids=["capacity", "critical_distance", "attention"])
def test_ctrl_c_keeps_finished_rows(monkeypatch, run, step):
    _interrupt_after(monkeypatch, step, 4)
    with pytest.warns(ex.ExperimentInterrupted,
                      match=r"interrupted \(Ctrl-C\) after 4 of 6") as caught:
        rows = run()
    assert rows.interrupted and len(rows) == 4
    assert all(r["experiment"] == rows.experiment for r in rows)
    # The warning points at the caller (this file), not into the library.
    assert [w.filename for w in caught] == [__file__]


def test_ctrl_c_warning_points_at_the_caller_of_run(monkeypatch):
    config = ex.configure("capacity", n_bits=64, n_locations=500, radius=24,
                          n_patterns=[10, 20], noise=[0, 4, 8], n_cues=5)
    _interrupt_after(monkeypatch, RECALL, 2)
    with pytest.warns(ex.ExperimentInterrupted) as caught:
        ex.run(config, progress=False)
    assert [w.filename for w in caught] == [__file__]


def test_saved_rows_of_an_interrupted_run_say_they_are_partial(monkeypatch, tmp_path):
    import csv
    import json

    _interrupt_after(monkeypatch, RECALL, 4)
    with pytest.warns(ex.ExperimentInterrupted):
        rows = ex.capacity(n_bits=64, n_locations=500, radius=24, n_patterns=[10, 20],
                           noise=[0, 4, 8], n_cues=5, progress=False)
    saved = json.loads(ex.to_json(rows, tmp_path / "r.json").read_text())
    assert len(saved) == 4 and all(row["interrupted"] is True for row in saved)
    with ex.to_csv(rows, tmp_path / "r.csv").open(newline="") as f:
        assert [row["interrupted"] for row in csv.DictReader(f)] == ["True"] * 4
    assert "interrupted" not in rows[0]  # the caller's rows are not changed
    rows.interrupted = False
    assert "interrupted" not in json.loads(ex.to_json(rows, tmp_path / "s.json").read_text())[0]


def test_ctrl_c_leaves_unfinished_critical_distance_curve_unestimated(monkeypatch):
    _interrupt_after(monkeypatch, RECALL, 4)
    with pytest.warns(ex.ExperimentInterrupted):
        rows = ex.critical_distance(n_bits=64, n_locations=500, radius=24,
                                    n_patterns=[10, 20], distances=[0, 4, 8], n_cues=5,
                                    progress=False)
    assert [r["critical_distance_sim"] is None for r in rows] == [False] * 3 + [True]


def test_progress_bar_goes_to_stderr(capsys):
    ex.capacity(n_bits=64, n_locations=200, radius=24, n_patterns=[5], noise=[0], n_cues=2)
    out, err = capsys.readouterr()
    assert out == "" and "capacity" in err and "1/1" in err


# -- validation ---------------------------------------------------------------

BAD = [
    ("capacity", dict(n_bits=0), ValueError, r"n_bits must be in \[1, inf\], got 0"),
    ("capacity", dict(n_locations=-5), ValueError, r"n_locations must be in \[1, inf\], got -5"),
    ("capacity", dict(n_bits=64, radius=65), ValueError, r"radius must be in \[0, 64\], got 65"),
    ("capacity", dict(radius=100, activation_probability=0.01), ValueError,
     r"radius and activation_probability are alternatives: give one, not both"),
    ("capacity", dict(activation_probability=1.5), ValueError,
     r"activation_probability must be a probability in \(0, 1\], got 1.5"),
    ("capacity", dict(n_patterns=[100, 0]), ValueError,
     r"each of n_patterns must be in \[1, inf\], got 0"),
    ("capacity", dict(n_patterns=[]), ValueError, r"n_patterns is empty"),
    ("capacity", dict(n_patterns="100"), TypeError, r"n_patterns must be an integer or a seq"),
    ("capacity", dict(n_patterns=[1.5]), TypeError, r"each of n_patterns must be an integer"),
    ("capacity", dict(noise=[0, 300]), ValueError, r"each of noise must be in \[0, 256\]"),
    ("capacity", dict(n_cues=0), ValueError, r"n_cues must be in \[1, inf\], got 0"),
    ("capacity", dict(iterations=0), ValueError, r"iterations must be in \[1, inf\], got 0"),
    ("capacity", dict(storage="auto"), ValueError,
     r"storage must be one of 'autoassociative', 'heteroassociative', got 'auto'"),
    ("capacity", dict(storage="heteroassociative", iterations=5), ValueError,
     r"iterations=5 needs storage='autoassociative': a heteroassociative read returns data"),
    ("capacity", dict(repetitions=0), ValueError, r"repetitions must be in \[1, inf\]"),
    ("capacity", dict(seed=-1), ValueError, r"seed must be in \[0, inf\], got -1"),
    ("capacity", dict(counter_dtype="int64"), ValueError,
     r"counter_dtype must be one of int8, int16, int32, got 'int64'"),
    ("capacity", dict(n_bits=1000, n_locations=10**9), MemoryError,
     r"the memory and patterns need .* TiB .* but only .* is available; use fewer locations: "
     r"about [\d,]+ fit with int8 counters"),
    ("capacity", dict(n_bits=64, n_locations=100, n_patterns=[10**11]), MemoryError,
     r"the memory and patterns need 745.06 GiB"),
    ("capacity", dict(n_bits=1000, n_locations=10**10, counter_dtype="int8"), MemoryError,
     r"is available; use fewer locations"),
    ("critical_distance", dict(step=0), ValueError, r"step must be in \[1, inf\], got 0"),
    ("critical_distance", dict(step=4, distances=[0, 8]), ValueError,
     r"give distances or step, not both"),
    ("critical_distance", dict(distances=[0, 257]), ValueError,
     r"each of distances must be in \[0, 256\], got 257"),
    ("attention", dict(radii=[1, 5]), ValueError, r"each of radii must be in \[2, 64\], got 1"),
    ("attention", dict(n_patterns=0), ValueError, r"n_patterns must be in \[1, inf\], got 0"),
    ("attention", dict(beta_method="mle"), ValueError, r"beta_method must be one of 'paper'"),
    ("attention", dict(dataset="mnist"), ValueError, r"dataset must be one of 'random', 'dig"),
    ("attention", dict(dataset="digits", n_bits=32), ValueError,
     r"dataset='digits' has 64-bit patterns .* got n_bits=32"),
]


@pytest.mark.parametrize("experiment, kwargs, error, match", BAD,
                         ids=[f"{e}-{'-'.join(k)}" for e, k, _, _ in BAD])
def test_bad_arguments_fail_before_work(experiment, kwargs, error, match):
    with pytest.raises(error, match=match):
        ex.configure(experiment, **kwargs)
    with pytest.raises(error, match=match):
        ex.EXPERIMENTS[experiment](**kwargs, progress=False)


def test_bad_digits_arguments():
    pytest.importorskip("sklearn")
    with pytest.raises(ValueError, match=r"threshold must be a finite number in \(0, 16\], got "
                                         r"20; digit pixels are 0..16"):
        ex.configure("attention", dataset="digits", threshold=20)
    with pytest.raises(ValueError, match=r"n_patterns must be in \[1, \d+\], got 5000; the "
                                         r"binarised digits have \d+ distinct patterns"):
        ex.configure("attention", dataset="digits", n_patterns=5000)


def test_configure_and_run():
    config = ex.configure("capacity", n_bits=64, n_locations=300, n_patterns=5, noise=0,
                          n_cues=2)
    assert config["n_patterns"] == [5] and config["noise"] == [0]
    assert config["radius"] == theory.radius_for_probability(64, 0.001)
    json.dumps(config, allow_nan=False)
    assert len(ex.run(config, progress=False)) == 1
    with pytest.raises(ValueError, match=r"experiment must be one of 'capacity'"):
        ex.configure("capacty")
    with pytest.raises(TypeError, match=r"capacity: got an unexpected keyword argument 'nbits'"):
        ex.configure("capacity", nbits=64)
    with pytest.raises(TypeError, match=r"configure\(\) takes no progress argument"):
        ex.configure("capacity", progress=False)
    for name, presets in ex.PRESETS.items():  # every preset is a valid configuration
        for preset in presets.values():
            if preset.get("dataset") == "digits" and "sklearn" not in sys.modules:
                continue
            ex.configure(name, **preset)


# -- output helpers -------------------------------------------------------------


def test_to_csv_and_to_json_round_trip(tmp_path, capacity_rows):
    path = ex.to_csv(capacity_rows, tmp_path / "r.csv")
    with path.open(newline="") as f:
        back = list(csv.DictReader(f))
    assert len(back) == len(capacity_rows)
    assert list(back[0]) == list(capacity_rows[0])
    assert back[0]["requested_activation_probability"] == "0.01"
    assert float(back[5]["exact_recall_final"]) == capacity_rows[5]["exact_recall_final"]
    path = ex.to_json(capacity_rows, tmp_path / "r.json")
    assert json.loads(path.read_text()) == list(capacity_rows)
    odd = [{"a": np.float32(0.5), "b": np.int64(3), "c": float("inf")}, {"d": None}]
    assert json.loads(ex.to_json(odd, tmp_path / "o.json").read_text()) == [
        {"a": 0.5, "b": 3, "c": None}, {"d": None}]
    text = ex.to_csv(odd, tmp_path / "o.csv").read_text()
    assert text.splitlines() == ["a,b,c,d", "0.5,3,,", ",,,"]


def test_summary_table(capacity_rows, critical_rows, attention_rows):
    text = ex.summary_table(capacity_rows)
    lines = text.splitlines()
    assert lines[0].split("|")[1].strip() == "n_patterns"
    assert "exact_recall_final" in lines[0] and "theory_exact_recall_1" in lines[0]
    assert len(lines) == 2 + len(capacity_rows)
    assert len({len(line) for line in lines}) == 1  # aligned
    assert "cue_distance" in ex.summary_table(critical_rows)
    assert "softmax_exact_recall" in ex.summary_table(attention_rows)
    plain = ex.summary_table(capacity_rows, ["exact_recall_1"], style="plain").splitlines()
    assert plain[0].split() == ["n_patterns", "noise", "exact_recall_1"]
    assert set(plain[1]) == {"-", " "}
    assert ex.summary_table([]) == "(no rows)"
    with pytest.raises(ValueError, match=r"no row has the column\(s\) \['nope'\]"):
        ex.summary_table(capacity_rows, ["nope"])
    with pytest.raises(ValueError, match=r"style must be one of 'markdown', 'plain'"):
        ex.summary_table(capacity_rows, style="html")


def test_summary_table_averages_repetitions():
    rows = ex.capacity(n_bits=64, n_locations=500, radius=24, n_patterns=[10], noise=[0, 8],
                       n_cues=10, repetitions=3, progress=False)
    lines = ex.summary_table(rows, ["exact_recall_1"]).splitlines()
    assert lines[0].split("|")[-2].strip() == "reps" and len(lines) == 4
    mean = np.mean([r["exact_recall_1"] for r in rows if r["noise"] == 8])
    assert lines[3].split("|")[3].strip() == format(mean, ".4g")


# -- figures --------------------------------------------------------------------


def test_plots_accept_plain_rows_with_repetitions(tmp_path):
    pytest.importorskip("matplotlib")
    from fastsdm import plots

    runs = [
        ex.capacity(n_bits=64, n_locations=500, radius=24, n_patterns=[10, 40], noise=[0, 8],
                    n_cues=5, repetitions=2, progress=False),
        ex.critical_distance(n_bits=64, n_locations=500, radius=24, n_patterns=[10, 30],
                             distances=[0, 8, 16, 32], n_cues=5, repetitions=2,
                             progress=False),
        ex.attention_comparison(radii=[5, 11], n_patterns=16, noise=[0, 4], n_cues=4,
                                repetitions=2, progress=False),
    ]
    for rows in runs:
        back = json.loads(ex.to_json(rows, tmp_path / "r.json").read_text())  # plain dicts
        path = tmp_path / f"{rows.experiment}.png"
        fig = plots.plot(back, path)
        assert path.stat().st_size > 20_000
        assert len(fig.axes) in (2, 3)
        assert all(ax.get_xlabel() and ax.get_ylabel() for ax in fig.axes)
        assert str(rows[0]["n_bits"]) in fig.get_suptitle()
    with pytest.raises(ValueError, match=r"no rows to plot"):
        plots.plot([], tmp_path / "x.png")
    with pytest.raises(ValueError, match=r"unknown experiment 'demo'"):
        plots.plot([{"experiment": "demo"}], tmp_path / "x.png")
    with pytest.raises(ValueError, match=r"no capacity rows to plot"):
        plots.plot_capacity(runs[2])


def test_plots_without_matplotlib(monkeypatch, capacity_rows):
    from fastsdm import plots

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r"pip install fastsdm\[plot\]"):
        plots.plot_capacity(capacity_rows)


# -- the registry: one record per experiment ------------------------------------


def test_public_functions_mirror_their_config():
    # The public functions are thin wrappers: their signatures (names, defaults,
    # keyword-only) and docstrings must match the config dataclass they run.
    import dataclasses
    import inspect

    from fastsdm.experiments._registry import REGISTRY

    assert list(REGISTRY) == ["capacity", "critical_distance", "attention", "family_capacity"]
    assert ex.EXPERIMENTS == {name: r.function for name, r in REGISTRY.items()}
    assert ex.PRESETS == {name: r.presets for name, r in REGISTRY.items()}
    assert ex.SUMMARY_COLUMNS == {name: r.summary for name, r in REGISTRY.items()}
    for name, record in REGISTRY.items():
        params = inspect.signature(record.function).parameters
        assert list(params)[-1] == "progress" and params["progress"].default is True
        fields = dataclasses.fields(record.config)
        assert [f.name for f in fields] == list(params)[:-1], name
        for f in fields:
            assert params[f.name].default == f.default, (name, f.name)
            assert params[f.name].kind is inspect.Parameter.KEYWORD_ONLY
            assert f.metadata["param"].help, (name, f.name)
        doc = record.function.__doc__
        documented = doc[doc.index("Parameters\n"):doc.index("Returns\n")]
        for f in fields:
            assert re.search(rf"^    (\w+, )*{f.name}(, \w+)*( :|$)", documented, re.M), (
                name, f.name)


def test_configure_errors_name_their_parameters():
    cases = [
        (dict(n_bits=64, radius=65), ValueError, ("radius",)),
        (dict(radius=100, activation_probability=0.01), ValueError,
         ("radius", "activation_probability")),
        (dict(noise=[0, 300]), ValueError, ("noise",)),
        (dict(n_cues=0), ValueError, ("n_cues",)),
        (dict(seed=-1), ValueError, ("seed",)),
        (dict(storage="heteroassociative", iterations=5), ValueError, ("iterations",)),
        (dict(n_patterns="100"), TypeError, ("n_patterns",)),
        (dict(n_bits=1000, n_locations=10**10), MemoryError, ("n_locations", "counter_dtype")),
    ]
    for kwargs, error, parameters in cases:
        with pytest.raises(error) as info:
            ex.configure("capacity", **kwargs)
        assert info.value.parameters == parameters, kwargs
    with pytest.raises(ValueError) as info:
        ex.configure("critical_distance", step=4, distances=[0, 8])
    assert info.value.parameters == ("distances", "step")
    with pytest.raises(TypeError, match=r"capacity: got an unexpected keyword argument "
                                        r"'nbits'; did you mean 'n_bits'\?"):
        ex.configure("capacity", nbits=64)
    with pytest.raises(TypeError, match=r"capacity: got an unexpected keyword argument 'zzz'; "
                                        r"its arguments are n_bits, n_locations, radius"):
        ex.configure("capacity", zzz=1)
    with pytest.raises(ValueError, match=r"config must be a configuration made by configure\(\), "
                                         r"with an 'experiment' key naming one of capacity, "):
        ex.run({"n_bits": 64})


def test_register_refuses_a_second_record_and_undeclared_fields(toy_experiment):
    import dataclasses

    from fastsdm.experiments._registry import register

    with pytest.raises(ValueError, match=r"experiment 'toy' \(command 'toy'\) is registered "
                                         r"already"):
        register(toy_experiment)

    @dataclasses.dataclass(frozen=True)
    class Bare:
        size: int = 3

    with pytest.raises(TypeError, match=r"Bare.size was not made with param\(\): it has no "
                                        r"help text or flag"):
        register(dataclasses.replace(toy_experiment, name="bare", command="bare", config=Bare))


def test_messages_are_spelled_for_the_caller():
    # The same check, spelled as Python arguments or as the command's flags: the
    # command never rewrites a message.
    from fastsdm.experiments._registry import REGISTRY

    record = REGISTRY["capacity"]
    for names, expected in ((None, "noise must be in [0, 64], got 65"),
                            (record.flags(), "--noise must be in [0, 64], got 65")):
        args = ({"n_bits": 64, "noise": [65]},) + ((names,) if names else ())
        with pytest.raises(ValueError) as info:
            record.configure(*args)
        assert str(info.value).startswith(f"each of {expected}")
    with pytest.raises(ValueError, match=r"^--iterations 2 needs --storage autoassociative"):
        record.configure({"storage": "heteroassociative", "iterations": 2}, record.flags())


@pytest.fixture
def toy_experiment():
    """A new experiment registered the way every experiment is: one record, nothing else."""
    from dataclasses import dataclass

    from fastsdm.experiments import _fields
    from fastsdm.experiments._registry import REGISTRY, Experiment, about, param, register

    @dataclass(frozen=True, kw_only=True)
    class ToyConfig:
        size: int = param(3, "rows to make", flag="--size",
                          parse=_fields.parse_positive_int, metavar="K",
                          check=_fields.integer(1, 50))
        seed: int | None = _fields.seed()

        def resolve(self, names):
            with about("size"):
                if self.size == 13:
                    raise ValueError(f"{names('size')} must not be 13")
            return {"experiment": "toy", "size": self.size, "seed": self.seed}

    def run(config, progress):
        return ex.Records([{"experiment": "toy", "i": i, "value": i * i}
                           for i in range(config["size"])], experiment="toy", config=config,
                          expected=config["size"])

    def draw(rows):
        from matplotlib.figure import Figure

        fig = Figure()
        ax = fig.subplots()
        ax.plot([r["i"] for r in rows], [r["value"] for r in rows])
        ax.set_xlabel("i")
        ax.set_ylabel("value")
        return fig

    def toy(*, size=3, seed=0, progress=True):
        return REGISTRY["toy"].execute({"size": size, "seed": seed, "progress": progress})

    record = register(Experiment(
        name="toy", config=ToyConfig, run=run, function=toy, draw=draw,
        presets={"small": {}, "big": {"size": 40}}, summary=(("i",), ("value",)),
        command="toy", title="a toy", description="A toy experiment."))
    yield record
    del REGISTRY["toy"]


def test_a_new_experiment_is_one_record(toy_experiment, tmp_path, capsys):
    # configure, run, the summary, the figure and the command line all come from the record.
    from fastsdm.cli import build_parser, main

    assert ex.configure("toy", size=4) == {"experiment": "toy", "size": 4, "seed": 0}
    assert len(ex.run(ex.configure("toy", size=4), progress=False)) == 4
    with pytest.raises(ValueError, match="size must be in \\[1, 50\\], got 99") as info:
        ex.configure("toy", size=99)
    assert info.value.parameters == ("size",)
    sub = build_parser().commands["toy"]
    assert "--size" in sub.format_help() and "big: --size 40" in sub.format_help()
    assert main(["toy", "--size", "13", "--out", str(tmp_path / "bad")]) == 2
    assert "fastsdm toy: error: --size must not be 13" in capsys.readouterr().err
    code = main(["toy", "--preset", "big", "--out", str(tmp_path / "run"), "--no-plot"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert len(json.loads((tmp_path / "run" / "results.json").read_text())) == 40
    summary = (tmp_path / "run" / "summary.md").read_text()
    assert summary.startswith("# fastsdm toy") and "value" in summary
    pytest.importorskip("matplotlib")
    from fastsdm import plots

    rows = toy_experiment.function(size=5, progress=False)
    assert plots.plot(rows, tmp_path / "toy.png").axes[0].get_xlabel() == "i"


# -- progress bars: the ETA leaves compiling steps out ---------------------------


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_eta_excludes_steps_that_compiled():
    from fastsdm.experiments._progress import COMPILING, MEASURING, StepClock

    clock = FakeClock()
    steps = StepClock(10, clock)
    assert steps.status() == MEASURING
    steps.compile_started()                # the first row compiles for 10 s
    assert steps.status() == COMPILING
    clock.now += 10
    steps.compile_finished()
    steps.step_done()
    assert steps.status() == MEASURING     # no step without compiling yet: no guess
    assert steps.remaining() is None
    for _ in range(2):                     # then rows take 1 s each
        clock.now += 1
        steps.step_done()
    assert steps.compiled_steps == 1 and steps.clean_steps == 2
    assert steps.remaining() == pytest.approx(7.0)  # 7 rows x 1 s, not 7 x 4 s
    assert steps.status() == "ETA 0:07"
    clock.now += 1
    steps.compile_started()                # a compile that spans the end of a step
    steps.step_done()                      # marks that step and the next one
    clock.now += 30
    steps.compile_finished()
    steps.step_done()
    assert steps.compiled_steps == 3 and steps.clean_steps == 2
    assert steps.remaining() == pytest.approx(5.0)
    for _ in range(5):
        steps.step_done()
    assert steps.status() == ""


def test_eta_times_the_writes_apart_from_the_rows():
    from fastsdm.experiments._progress import MEASURING, StepClock

    clock = FakeClock()
    steps = StepClock(6, clock, work=2000)   # 2 checkpoints of 3 rows, 1000 patterns each
    steps.work_started()                     # writing 1000 patterns takes 10 s
    clock.now += 10
    steps.work_finished(1000)
    clock.now += 1                           # then the row itself: 1 s
    steps.step_done()
    # 5 rows x 1 s, and 1000 patterns still to write at 10 ms each: not 5 rows x 11 s
    assert steps.remaining() == pytest.approx(5 * 1 + 10)
    for _ in range(2):
        clock.now += 1
        steps.step_done()
    steps.work_started()
    clock.now += 10
    steps.work_finished(1000)
    assert steps.remaining() == pytest.approx(3.0)   # the writing is done
    steps.work_started()                     # a one-off preparation (units = 0): 5 s
    clock.now += 5
    steps.work_finished(0)
    assert steps.clean_work_seconds == pytest.approx(20.0)  # not a rate per pattern
    clock.now += 1
    steps.step_done()
    assert steps.status() == "ETA 0:02"
    # a phase that compiled is not a rate: with work left, no guess
    fresh = StepClock(4, clock, work=20)
    fresh.work_started()
    fresh.compile_started()
    clock.now += 30
    fresh.compile_finished()
    fresh.work_finished(10)
    fresh.step_done()                        # the row with the compile: left out too
    clock.now += 1
    fresh.step_done()                        # a clean row of 1 s
    assert fresh.clean_steps == 1 and fresh.remaining() is None
    assert fresh.status() == MEASURING


def _timed_run(monkeypatch, module, write_seconds, init_seconds=0.0):
    """Run an experiment on a fake clock: rows take 1 s, ``write_seconds(memory, words)``
    the writes, ``init_seconds`` making a memory.  Returns the ETA (seconds left)
    seen as each row starts."""
    from fastsdm.experiments._progress import Progress

    clock, bars, seen = FakeClock(), [], []
    init, write, recall = fastsdm.SDM.__init__, fastsdm.SDM.write, _common.recall

    def progress(*args, **kwargs):
        bars.append(Progress(*args, clock=clock, **kwargs))
        return bars[-1]

    def timed_init(self, *args, **kwargs):
        clock.now += init_seconds
        init(self, *args, **kwargs)

    def timed_write(self, words, *args, **kwargs):
        clock.now += write_seconds(self, words)
        return write(self, words, *args, **kwargs)

    def timed_recall(*args, **kwargs):
        seen.append(bars[0].clock.remaining())
        clock.now += 1
        return recall(*args, **kwargs)

    monkeypatch.setattr(module, "Progress", progress)
    monkeypatch.setattr(fastsdm.SDM, "__init__", timed_init)
    monkeypatch.setattr(fastsdm.SDM, "write", timed_write)
    monkeypatch.setattr(_common, "recall", timed_recall)
    return seen


def test_the_critical_distance_eta_leaves_the_write_phase_out(monkeypatch):
    seen = _timed_run(monkeypatch, _critical_distance, lambda mem, words: 100)
    ex.critical_distance(n_bits=64, n_locations=500, radius=24, n_patterns=[20],
                         distances=[0, 8, 16, 24, 32], n_cues=5, iterations=2, progress=False)
    assert seen[0] is None                  # nothing measured yet
    assert seen[-1] == pytest.approx(1.0)  # one row left at 1 s, not (100 + 4) / 4 s


def test_the_capacity_eta_leaves_out_making_the_memory_and_its_first_writes(monkeypatch):
    # The canonical memory takes about a second to make and its first writes
    # fault in a gigabyte of counters (~7x the rate of later writes): neither
    # is the rate of the rows or of the writes to come.
    def write_seconds(mem, words):           # 1 s a pattern, the first ones 10 s
        return len(words) * (1 if mem.counters.any() else 10)

    seen = _timed_run(monkeypatch, _capacity, write_seconds, init_seconds=50)
    ex.capacity(n_bits=64, n_locations=500, radius=24, n_patterns=[10, 20, 30], noise=[0, 8],
                n_cues=5, iterations=1, progress=False)
    # rows 1-2: no rate for the writes yet (the first ones are not it): no guess
    assert seen[:2] == [None, None]
    # row 3 on: rows at 1 s, patterns at 1 s, exactly what is left
    assert seen[2:] == pytest.approx([4 + 10, 3 + 10, 2, 1])


def test_progress_listens_to_numba_compile_events():
    import io

    from numba.core import event

    from fastsdm.experiments._progress import COMPILE_EVENT, COMPILING, Progress

    clock, out = FakeClock(), io.StringIO()
    bar = Progress(4, "demo", True, clock=clock, file=out)
    try:
        bar.note("row 1")
        event.start_event(COMPILE_EVENT)   # what numba fires when it compiles a kernel
        assert bar.status() == f"{COMPILING}; row 1"
        assert COMPILING in out.getvalue()  # shown at once, not at the next row
        clock.now += 20
        event.end_event(COMPILE_EVENT)
        bar.update()
        clock.now += 2
        bar.update()
        assert bar.clock.compiled_steps == 1 and bar.status() == "ETA 0:04; row 1"
    finally:
        bar.close()
    event.start_event(COMPILE_EVENT)       # closed: no longer listening
    event.end_event(COMPILE_EVENT)
    assert bar.clock.compiling == 0 and not bar.listening
    silent = Progress(4, "demo", False)
    event.start_event(COMPILE_EVENT)
    event.end_event(COMPILE_EVENT)
    assert silent.clock.compiling == 0 and silent.bar is None
    silent.close()


def test_progress_sees_a_real_compilation():
    import io

    import numba

    from fastsdm.experiments._progress import Progress

    @numba.njit(cache=False)
    def fresh(x):  # a new function: its first call compiles
        return x + 1

    bar = Progress(2, "demo", True, clock=FakeClock(), file=io.StringIO())
    try:
        fresh(1)
        bar.update()
        bar.update()
    finally:
        bar.close()
    assert (bar.clock.compiled_steps, bar.clock.clean_steps) == (1, 1)


def test_the_compile_note_starts_its_own_line_under_a_progress_bar(capsys):
    # The bar leaves stderr's line unfinished; the note was glued to it in logs
    # ("...ETA: measuring]fastsdm: compiling kernel ...").
    import io

    from fastsdm import _jit
    from fastsdm._kernels import hamming
    from fastsdm.experiments._progress import Progress

    kernel = hamming.scan_rows()
    progress = Progress(2, "demo", True, clock=FakeClock())  # on sys.stderr
    assert _jit.BAR_ON_LINE
    _jit._announce(kernel)
    progress.close()
    assert not _jit.BAR_ON_LINE
    _jit._announce(kernel)
    err = capsys.readouterr().err
    under_bar, alone = err.split("fastsdm: compiling kernel")[1:3]
    assert err.split("fastsdm: compiling kernel")[0].endswith("\n")  # after the bar's line
    assert under_bar.endswith("\n") and not alone.startswith("\n")
    elsewhere = Progress(2, "demo", True, clock=FakeClock(), file=io.StringIO())
    assert not _jit.BAR_ON_LINE  # a bar on another stream leaves stderr's line alone
    elsewhere.close()


def test_a_closed_progress_bar_is_freed_at_once_not_by_the_cyclic_collector():
    # A bar freed later by the collector ran tqdm's __del__ at a random moment,
    # where a Ctrl-C is printed and swallowed (the command then ended in 0).
    import gc
    import io
    import weakref

    from fastsdm.experiments._progress import Progress

    gc.disable()
    try:
        progress = Progress(2, "demo", True, clock=FakeClock(), file=io.StringIO())
        bar = weakref.ref(progress.bar)
        progress.update()
        progress.close()
        del progress
        assert bar() is None
    finally:
        gc.enable()


# -- lazy subpackages ---------------------------------------------------------------


def test_import_fastsdm_is_light_and_subpackages_are_attributes():
    import subprocess

    code = ("import sys, fastsdm\n"
            "heavy = ('numba', 'matplotlib', 'scipy', 'dask', 'sklearn')\n"
            "print(sorted({m.split('.')[0] for m in sys.modules} & set(heavy)))\n"
            "fastsdm.experiments.capacity, fastsdm.plots.plot, fastsdm.gallery.run\n"
            "fastsdm.hopfield.Hopfield, fastsdm.distributed.ShardedSDM, fastsdm.SDM\n"
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'matplotlib', 'dask', "
            "'sklearn'}))\n")
    root = str(__import__("pathlib").Path(fastsdm.__file__).resolve().parents[1])
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=root, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["[]", "[]"]
    with pytest.raises(AttributeError, match="module 'fastsdm' has no attribute 'nope'"):
        fastsdm.nope  # noqa: B018
    assert {"experiments", "SDM"} <= set(dir(fastsdm))


# -- figures: what they mark ------------------------------------------------------


@pytest.mark.nojit
def test_recall_crossing():
    crossing = _critical_distance.recall_crossing
    # Falls below one half between 40 (0.75) and 48 (0.25): halfway, at 44.
    assert crossing([0, 40, 48, 56], [1.0, 0.75, 0.25, 0.0]) == 44.0
    # Exactly one half at 48 still counts as recalled; the crossing is after it.
    assert crossing([0, 40, 48, 56], [1.0, 0.75, 0.5, 0.0]) == 48.0
    assert crossing([0, 8, 16], [1.0, 0.9, 0.6]) is None   # never below: beyond the grid
    assert crossing([0, 8], [0.4, 0.0]) == 0.0             # already below at the first point
    assert crossing([0, 10, 20], [1.0, 0.6, 0.1], level=0.35) == 15.0


def _vertical_lines(ax):
    return sorted(round(float(line.get_xdata()[0]), 6) for line in ax.lines
                  if len(line.get_xdata()) == 2 and line.get_xdata()[0] == line.get_xdata()[1])


def _overlaps(a, b) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


def test_a_critical_distance_grid_of_distance_zero_alone_plots_without_warnings():
    # --step beyond n leaves the grid [0]: the axis was (0, 0), and matplotlib
    # warned (an error here, where warnings are errors).
    pytest.importorskip("matplotlib")
    from fastsdm import plots

    rows = ex.critical_distance(**TINY, n_patterns=[20], step=1000, iterations=2,
                                progress=False)
    assert [r["cue_distance"] for r in rows] == [0]
    assert plots.plot_critical_distance(rows).axes[-1].get_xlim() == (0.0, 1.0)


def test_critical_distance_figure_marks_each_criterion_on_its_panel(critical_rows):
    pytest.importorskip("matplotlib")
    from fastsdm import plots

    fig = plots.plot_critical_distance(critical_rows)
    ms = sorted({r["n_patterns"] for r in critical_rows})
    assert len(fig.axes) == len(ms) + 1             # a panel per curve, then recall
    recall_ax = fig.axes[-1]
    crossings = []
    for ax, m in zip(fig.axes, ms, strict=False):
        curve = [r for r in critical_rows if r["n_patterns"] == m]
        assert ax.get_title().startswith(f"m = {m:,}: critical distance "
                                         f"{curve[0]['critical_distance_sim']} bits")
        # the "mean final < cue" criterion on the distance panel ...
        assert _vertical_lines(ax) == [curve[0]["critical_distance_sim"]]
        # ... and where recall crosses one half, independently interpolated, on the recall panel
        x = [r["cue_distance"] for r in curve]
        y = [r["exact_recall_final"] for r in curve]
        below = next(k for k, v in enumerate(y) if v < 0.5)
        crossings.append(round(x[below - 1] + (x[below] - x[below - 1])
                               * (y[below - 1] - 0.5) / (y[below - 1] - y[below]), 6))
    assert _vertical_lines(recall_ax) == sorted(crossings)
    diamonds = [line for line in recall_ax.lines if line.get_marker() == "D"]
    assert sorted(round(float(d.get_xdata()[0]), 6) for d in diamonds) == sorted(crossings)
    assert {float(d.get_ydata()[0]) for d in diamonds} == {0.5}
    # The legend is the figure's, outside every panel: it covers no curve.
    assert all(ax.get_legend() is None for ax in fig.axes) and len(fig.legends) == 1
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)
    legend = fig.legends[0].get_window_extent(renderer)
    assert not any(_overlaps(legend, ax.get_window_extent(renderer)) for ax in fig.axes)


def test_capacity_figure_names_the_noise_0_curve(capacity_rows):
    pytest.importorskip("matplotlib")
    from fastsdm import plots
    from fastsdm.experiments import _capacity

    fig = plots.plot_capacity(capacity_rows)
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels[0] == _capacity.NOISE_0 and "stability, not recall from noise" in labels[0]
    assert _capacity.NOISE_0_PANEL in fig.axes[2].get_title()
    iterated = [line for line in fig.axes[2].lines if len(line.get_xdata()) == 4]
    assert [line.get_linestyle() for line in iterated] == [":", "-", "-"]  # noise 0, 12, 24
    noisy = [r for r in capacity_rows if r["noise"] > 0]
    fig = plots.plot_capacity(noisy)
    assert "noise 0" not in fig.axes[2].get_title()
    assert not any("noise 0" in t.get_text() for t in fig.legends[0].get_texts())


def test_an_interrupted_run_says_so_in_the_figure_and_the_summary(monkeypatch, tmp_path):
    from fastsdm.experiments import _io

    _interrupt_after(monkeypatch, RECALL, 3)
    with pytest.warns(ex.ExperimentInterrupted):
        rows = ex.capacity(n_bits=64, n_locations=500, radius=24, n_patterns=[10, 20],
                           noise=[0, 4, 8], n_cues=5, progress=False)
    note = "Interrupted (Ctrl-C) after 3 of 6 rows: partial results"
    assert _io.interruption_note(rows).startswith(note)
    summary = _io.summary_markdown("fastsdm capacity", rows)
    assert summary.splitlines()[2] == f"> **{_io.interruption_note(rows)}.**"
    assert _io.interruption_note(list(rows)) == ""  # plain rows carry no such flag
    pytest.importorskip("matplotlib")
    from fastsdm import plots

    texts = [t.get_text() for t in plots.plot(rows, tmp_path / "c.png").texts]
    assert any(t.startswith("INTERRUPTED (Ctrl-C) after 3 of 6 rows") for t in texts)
    rows.interrupted = False
    assert not [t for t in plots.plot(rows, tmp_path / "d.png").texts
                if "INTERRUPTED" in t.get_text()]


# -- sizes: one unit, one number ----------------------------------------------------


CANONICAL_INT8 = "1.05 GiB"


def test_memory_sizes_are_quoted_one_way():
    from pathlib import Path

    from fastsdm import gallery
    from fastsdm._machine import format_bytes
    from fastsdm.cli import build_parser

    nbytes = fastsdm.SDM.estimate_nbytes(1000, 10**6, counter_dtype="int8")
    assert nbytes == 10**6 * (8 * 16 + 1000)
    assert format_bytes(nbytes) == CANONICAL_INT8
    assert f"{CANONICAL_INT8} for Kanerva's canonical memory" in fastsdm.SDM.__doc__
    assert CANONICAL_INT8 in gallery.__doc__
    commands = build_parser().commands
    for command in ("capacity", "critical-distance"):
        assert f"(SDM memory {CANONICAL_INT8})" in " ".join(
            commands[command].format_help().split())
    assert f"canonical memory ({CANONICAL_INT8}, minutes)" in " ".join(
        commands["paper"].format_help().split())
    root = Path(fastsdm.__file__).resolve().parents[1]
    assert f"int8 counters: {CANONICAL_INT8})" in (
        root / "fastsdm" / "experiments" / "__init__.py").read_text()
    assert f"# {CANONICAL_INT8}" in (root / "README.md").read_text()
    stale = ("1.13 GiB", "1.06 GiB", "1.13 GB", "1.1 GB", "1 GB)")
    docs = root / "docs"
    for path in [*root.joinpath("fastsdm").rglob("*.py"), root / "README.md",
                 *docs.glob("*.rst"), *docs.joinpath("guide").glob("*.rst")]:
        text = path.read_text(encoding="utf-8")
        assert not [s for s in stale if s in text], path


def test_the_memory_hint_suggests_what_can_help(monkeypatch):
    from fastsdm import _machine

    monkeypatch.setattr(_machine, "available_memory", lambda: 3 * 2**30)
    # int16 needs 3.96 GiB, int8 2.10 GiB: int8 helps
    with pytest.raises(MemoryError, match=r"need 3.96 GiB .* only 3.00 GiB is available; use "
                                          r"counter_dtype='int8' \(it fits\)"):
        ex.configure("capacity", n_bits=1000, n_locations=2 * 10**6, n_patterns=[10])
    # 50 TB: int8 cannot help; the number of locations that fits is said instead
    fit = (3 * 2**30 - 10 * 8 * 16) // (8 * 16 + 1000)
    with pytest.raises(MemoryError) as info:
        ex.configure("capacity", n_bits=1000, n_locations=5 * 10**10, n_patterns=[10])
    message = str(info.value)
    assert "int8'" not in message and "(it fits)" not in message
    assert message.endswith(f"use fewer locations: about {fit:,} fit with int8 counters")
    assert info.value.parameters == ("n_locations", "counter_dtype")
    with pytest.raises(MemoryError, match=r"store fewer patterns") as info:
        ex.configure("capacity", n_bits=1000, n_locations=10, n_patterns=[3 * 10**7])
    assert info.value.parameters == ("n_patterns", "n_bits")  # it named the memory's
    with pytest.raises(MemoryError, match=r"counter_dtype='int8' \(it fits\)") as info:
        ex.configure("capacity", n_bits=1000, n_locations=2 * 10**6, n_patterns=[10])
    assert info.value.parameters == ("counter_dtype", "n_locations")
    # Neither the patterns nor the memory fit alone: fewer patterns cannot help.
    with pytest.raises(MemoryError, match=r"neither the patterns' words \(3.49 GiB\) nor the "
                                          r"memory \(5.24 GiB with int8 counters\) fit: use "
                                          r"shorter vectors \(n_bits\), or fewer patterns "
                                          r"and locations") as info:
        ex.configure("capacity", n_bits=10**6, n_locations=5000, n_patterns=[30000])
    assert info.value.parameters == ("n_bits", "n_patterns", "n_locations")


# -- sizes are checked before any exact theory --------------------------------------------


@pytest.fixture
def no_exact_theory(monkeypatch):
    """Make the exact big-integer theory fail loudly: a refusal must come before it."""

    def forbidden(*args, **kwargs):
        raise AssertionError(f"exact theory computed before the checks: {args}")

    monkeypatch.setattr(theory, "activation_probability", forbidden)
    monkeypatch.setattr(theory, "radius_for_probability", forbidden)
    monkeypatch.setattr(theory, "fit_beta", forbidden)


@pytest.mark.parametrize("experiment", ["capacity", "critical_distance", "family_capacity"])
def test_a_huge_n_bits_is_refused_before_any_theory(experiment, no_exact_theory):
    # 10^9-bit addresses: ball_size alone is ~n/2 steps on n-bit integers (hours).
    with pytest.raises(MemoryError, match=r"need [\d.]+ TiB \(n_bits=1000000000, .* but only"):
        ex.configure(experiment, n_bits=10**9)


def test_a_bad_value_at_a_large_n_is_refused_before_the_activation_probability(
        no_exact_theory):
    # theory.activation_probability(100_000, d) takes about a second: not before a refusal.
    big = dict(n_bits=100_000, n_locations=1000, radius=49_000, n_patterns=[10])
    with pytest.raises(ValueError, match=r"each of noise must be in \[0, 100000\]"):
        ex.configure("capacity", **big, noise=[200_000])
    with pytest.raises(ValueError, match=r"each of distances must be in \[0, 100000\]"):
        ex.configure("critical_distance", **big, distances=[200_000])
    with pytest.raises(ValueError, match=r"modern_beta must be a positive finite number"):
        ex.configure("family_capacity", **big, modern_beta=-1.0, models=["sdm"])


def test_the_activation_probability_is_still_exact():
    config = ex.configure("capacity", n_bits=1000, n_locations=10**6, radius=451,
                          counter_dtype="int8", n_patterns=[10])
    assert config["activation_probability"] == theory.activation_probability(1000, 451)
    assert config["expected_activated"] == config["activation_probability"] * 10**6
    assert list(config)[:7] == ["experiment", "n_bits", "n_locations", "radius",
                                "activation_probability", "requested_activation_probability",
                                "expected_activated"]


def test_lists_are_limited_before_they_are_read():
    from fastsdm.experiments._fields import MAX_VALUES

    with pytest.raises(ValueError, match=r"n_patterns holds more than 100,000 values; give "
                                         r"fewer \(a coarser grid\)") as info:
        ex.configure("capacity", n_patterns=range(1, 10**12))  # not iterated to the end
    assert info.value.parameters == ("n_patterns",)
    with pytest.raises(ValueError, match=r"noise holds more than 100,000 values"):
        ex.configure("capacity", noise=(0 for _ in range(MAX_VALUES + 1)))  # not sized
    assert ex.configure("capacity", n_bits=MAX_VALUES, n_locations=10, radius=3,
                        noise=range(MAX_VALUES))["noise"][-1] == MAX_VALUES - 1
    with pytest.raises(ValueError, match=r"step=1 gives 500,001 cue distances \(0..n_bits/2\), "
                                         r"more than 100,000; use a larger step") as info:
        ex.configure("critical_distance", n_bits=10**6, n_locations=10, radius=3, step=1)
    assert info.value.parameters == ("step",)


def test_the_attention_comparison_checks_its_memory(monkeypatch):
    from fastsdm import _machine
    from fastsdm.experiments._attention import estimate_nbytes

    config = ex.configure("attention", n_patterns=1024, n_cues=256, noise=[0, 8], radii=[5])
    assert config["estimated_nbytes"] == sum(estimate_nbytes(64, 1024, 256, 2, 1).values())
    monkeypatch.setattr(_machine, "available_memory", lambda: 2**30)
    # the keys alone: 10^7 patterns x 128 bytes x 2 (drawn, then kept)
    with pytest.raises(MemoryError, match=r"^the patterns, reads and weight curves need [\d.]+ "
                                          r"GiB \(n_bits=1024, n_patterns=10000000, n_cues=8, 1 "
                                          r"radius; patterns [\d.]+ GiB, reads .*\) but only "
                                          r"1.00 GiB is available; use fewer n_patterns or "
                                          r"n_cues$") as info:
        ex.configure("attention", n_bits=1024, n_patterns=10**7, n_cues=8, radii=[5])
    assert info.value.parameters == ("n_patterns", "n_cues")
    # the weights table: a row per radius, beta method and distance 0..n_bits
    with pytest.raises(MemoryError, match=r"use a smaller n_bits or fewer radii") as info:
        ex.configure("attention", n_bits=10**6, n_patterns=16, n_cues=4)
    assert info.value.parameters == ("n_bits", "radii")
    with pytest.raises(MemoryError, match=r"use fewer n_patterns \(a read weighs every"):
        ex.configure("attention", n_patterns=5 * 10**7, n_cues=8, radii=[5])


def test_run_checks_an_edited_config_again():
    # run(config) took any edited config: unsorted n_patterns failed deep
    # inside (IndexError), iterations=0 ran, a tuple was copied into every
    # row as its n_patterns, and derived entries were trusted.
    import json

    from fastsdm.experiments import configure, run

    config = configure("capacity", n_bits=64, n_locations=500, radius=24, n_patterns=[5, 20],
                       noise=[0, 4], n_cues=4)
    rows = run(json.loads(json.dumps(config)), progress=False)  # as read from config.json
    assert [r["n_patterns"] for r in rows] == [5, 5, 20, 20]
    tuple_rows = run({**config, "n_patterns": (5, 20)}, progress=False)
    assert [r["n_patterns"] for r in tuple_rows] == [5, 5, 20, 20]
    bad = [({"n_patterns": [20, 5]}, "n_patterns", r"n_patterns=\[20, 5\], which configure\(\) "
                                                   r"makes \[5, 20\]"),
           ({"iterations": 0}, "iterations", r"iterations must be in \[1, inf\], got 0"),
           ({"noise": [100]}, "noise", r"noise must be in \[0, 64\], got 100"),
           ({"expected_activated": 3.0}, "expected_activated",
            "expected_activated=3.0, which configure"),
           ({"extra": 1}, "extra", "extra=1, which configure")]
    for change, name, match in bad:
        with pytest.raises(ValueError, match=match) as info:
            run({**config, **change}, progress=False)
        assert info.value.parameters == (name,)
    with pytest.raises(ValueError, match="capacity config lacks n_bits"):
        run({"experiment": "capacity"}, progress=False)
    # A config given its activation probability, or a step, makes itself again.
    for name, kwargs in (("capacity", dict(activation_probability=0.05, n_patterns=[5])),
                         ("critical_distance", dict(radius=24, step=8, n_patterns=10)),
                         ("critical_distance", dict(radius=24, distances=[0, 8], n_patterns=10))):
        made = configure(name, n_bits=64, n_locations=500, n_cues=4, **kwargs)
        assert run(json.loads(json.dumps(made)), progress=False) == run(made, progress=False)


def test_attention_comparison_runs_at_radii_whose_fitted_beta_is_zero():
    # Near d = n_bits the intersections are flat and fit_beta is exactly 0; the
    # radii are accepted, so the run must not die there (it did, losing the
    # rows of the other radii): the softmax reads with equal weights.
    from fastsdm import theory

    assert theory.fit_beta(64, 62) == 0.0
    rows = ex.attention_comparison(radii=[5, 62], n_patterns=16, noise=[0, 4], n_cues=4,
                                   progress=False)
    at_62 = [r for r in rows if r["radius"] == 62]
    assert len(rows) == 4 and len(at_62) == 2
    assert all(r["beta"] == 0.0 and 0.0 <= r["softmax_exact_recall"] <= 1.0 for r in at_62)


def test_theory_agreement_compares_the_theory_with_the_table_means():
    # The gaps were taken per repetition, so the "largest gap" line disagreed
    # with the table above it (which averages repetitions), and its median was
    # the upper one.
    from fastsdm.experiments._common import theory_agreement

    def row(m, measured, repetition):
        return dict(theory_model="exact", n_patterns=m, noise=0, repetition=repetition,
                    measured=measured, predicted=0.25, paper=0.5)

    rows = [row(50, 0.5, 0), row(50, 0.1, 1), row(100, 0.3, 0), row(100, 0.3, 1),
            row(200, 0.2, 0), row(200, 0.2, 1), row(400, 0.25, 0), row(400, 0.25, 1)]
    line = theory_agreement(rows, "measured", "predicted", "paper", "bit error rate")
    # means 0.3, 0.3, 0.2, 0.25: gaps 0.05, 0.05, 0.05, 0 (per repetition: 0.25 at m = 50)
    assert line == ("theory (exact model, one read) vs measurement: largest gap 0.05 "
                    "(bit error rate, at m = 50, noise 0), median 0.05; the paper model's "
                    "largest gap 0.3")
