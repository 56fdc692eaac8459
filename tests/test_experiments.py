"""fastsdm.experiments: tidy records, theory beside measurement, output helpers, Ctrl-C."""

import csv
import json
import math
import sys

import numpy as np
import pytest

import fastsdm
from fastsdm import experiments as ex
from fastsdm import theory
from fastsdm.experiments import _attention, _common, _critical_distance

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
    with pytest.warns(ex.ExperimentInterrupted, match=r"interrupted \(Ctrl-C\) after 4 of 6"):
        rows = run()
    assert rows.interrupted and len(rows) == 4
    assert all(r["experiment"] == rows.experiment for r in rows)


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
