"""The family capacity experiment (fastsdm.experiments.family_capacity) at small sizes."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import fastsdm
from fastsdm import experiments as ex
from fastsdm import theory
from fastsdm.attention import sdm_pattern_read
from fastsdm.experiments import _family as fe
from fastsdm.experiments import _io
from fastsdm.hopfield import Hopfield, ModernHopfield

SMALL = dict(n_bits=64, n_locations=1500, radius=24, n_patterns=[4, 12, 40], noise=[0, 6],
             n_cues=8, iterations=4, progress=False)


@pytest.fixture(scope="module")
def rows():
    return fe.family_capacity(**SMALL, seed=3)


def test_rows_layout(rows):
    assert isinstance(rows, ex.Records) and rows.experiment == "family_capacity"
    assert not rows.interrupted
    assert len(rows) == 3 * 2 * len(fe.MODELS)
    assert [r["model"] for r in rows[:5]] == list(fe.MODELS)
    for r in rows:
        for key in ("exact_recall_1", "exact_recall_final", "bit_error_rate_1",
                    "bit_error_rate_final", "fixed_point_fraction", "mean_steps",
                    "theory_capacity", "memory_seed", "pattern_seed", "cue_seed",
                    "hopfield_seed", "fastsdm_version", "numpy_version", "attention_beta",
                    "modern_beta", "n_locations", "radius", "seed"):
            assert key in r
        assert r["n_cues_read"] == min(8, r["n_patterns"])
        assert 0.0 <= r["exact_recall_final"] <= 1.0
        assert 1.0 <= r["mean_steps"] <= 4.0
    assert rows.config["models"] == list(fe.MODELS)
    assert rows[0]["attention_beta"] == theory.fit_beta(64, 24)
    assert rows[0]["modern_beta"] == 1 / 8
    # JSON round trip (plain values only).
    back = json.loads(json.dumps([_io.plain(r) for r in rows]))
    assert back[0]["model"] == "sdm"


def test_theory_capacities(rows):
    for r in rows:
        if r["model"] == "sdm":
            assert r["theory_capacity"] == theory.capacity(64, 24, 1500) > 0
            assert "theory.capacity" in r["theory_capacity_source"]
        elif r["model"] == "hopfield":
            assert r["theory_capacity"] == pytest.approx(0.138 * 64)
            assert r["theory_capacity_exact"] == pytest.approx(64 / (2 * math.log(64)))
        else:
            assert r["theory_capacity"] is None and r["theory_capacity_exact"] is None


def test_a_capacity_of_none_is_shown_as_none():
    # theory.capacity(64, 20, 300) is negative (no load meets the criterion): no value
    assert theory.capacity(64, 20, 300) < 0
    rows = fe.family_capacity(n_bits=64, n_locations=300, radius=20, n_patterns=[4, 8],
                              noise=[0], n_cues=2, iterations=1, models=["sdm", "hopfield"],
                              progress=False)
    assert [r["theory_capacity"] for r in rows if r["model"] == "sdm"] == [None, None]
    assert all("theory.capacity" in r["theory_capacity_source"] for r in rows
               if r["model"] == "sdm")
    table = _io.summary_table([r for r in rows if r["model"] == "sdm"])
    header = [c.strip() for c in table.splitlines()[0].strip("|").split("|")]
    column = header.index("theory_capacity")
    cells = [line.strip("|").split("|")[column].strip() for line in table.splitlines()[2:]]
    assert cells and all(c == "" for c in cells), table  # blank, as every missing value
    assert all("sdm " in line and "(theory: none)" in line.split("sdm ")[1].split(",")[0]
               for line in fe.findings(rows))
    positive = fe.theory_capacity("sdm", {"n_bits": 128, "radius": 47, "n_locations": 10_000})
    assert positive["theory_capacity"] == theory.capacity(128, 47, 10_000) > 0


def test_seeds_reproduce_the_runs(rows):
    again = fe.family_capacity(**SMALL, seed=3)
    strip = ("fastsdm_version",)
    assert [{k: v for k, v in r.items() if k not in strip} for r in again] == [
        {k: v for k, v in r.items() if k not in strip} for r in rows]
    other = fe.family_capacity(**SMALL, seed=4)
    assert [r["cue_seed"] for r in other] != [r["cue_seed"] for r in rows]


def _cues_from_seeds(row, n_patterns, noise, n_cues, n):
    """The documented draw order: patterns, then per checkpoint targets and cues."""
    patterns = fastsdm.random_addresses(max(n_patterns), n, seed=row["pattern_seed"])
    rng = np.random.default_rng(row["cue_seed"])
    for m in n_patterns:
        targets = patterns[np.sort(rng.choice(m, size=min(n_cues, m), replace=False))]
        for k in noise:
            cues = fastsdm.flip_bits(targets, n, k, seed=rng)
            if (m, k) == (row["n_patterns"], row["noise"]):
                return patterns, targets, cues
    raise AssertionError("row not found")


def _distances(a, b):
    return fastsdm.hamming_distances(a, b).diagonal()


def test_every_model_reads_the_same_cues_and_rows_recompute(rows):
    # Recompute one checkpoint of every model from the recorded seeds alone.
    n, it = 64, 4
    pick = [r for r in rows if r["n_patterns"] == 12 and r["noise"] == 6]
    assert len(pick) == len(fe.MODELS)
    patterns, targets, cues = _cues_from_seeds(pick[0], [4, 12, 40], [0, 6], 8, n)
    by_model = {r["model"]: r for r in pick}

    def check(model, read):
        first, info = read(cues, 1)
        final = first.copy()
        todo = ~info.converged
        if todo.any():
            final[todo] = read(first[todo], it - 1)[0]
        r = by_model[model]
        assert r["exact_recall_1"] == np.mean(_distances(first, targets) == 0)
        assert r["bit_error_rate_final"] == _distances(final, targets).mean() / n

    mem = fastsdm.SDM(n, 1500, radius=24, seed=by_model["sdm"]["memory_seed"])
    mem.write(patterns[:12])
    check("sdm", lambda x, k: mem.read(x, iterations=k, return_info=True))
    for model, beta in (("sdm_pattern", None), ("attention", "fit")):
        check(model, lambda x, k, beta=beta: sdm_pattern_read(
            x, patterns[:12], n_bits=n, radius=24, beta=beta, iterations=k, return_info=True))
    modern = ModernHopfield(n, 1 / 8)
    modern.write(patterns[:12])
    check("modern_hopfield", lambda x, k: modern.read(x, iterations=k, return_info=True))
    # The classical network's generator has advanced through the 4-pattern
    # checkpoint's reads; replay them first.
    hop = Hopfield(n, seed=by_model["hopfield"]["hopfield_seed"])
    hop.write(patterns[:4])
    for k in (0, 6):
        c4 = _cues_from_seeds({**by_model["hopfield"], "n_patterns": 4, "noise": k},
                              [4, 12, 40], [0, 6], 8, n)[2]
        f, info = hop.read(c4, return_info=True)
        if (~info.converged).any():
            hop.read(f[~info.converged], iterations=it - 1)
    hop.write(patterns[4:12])
    first, info = hop.read(targets, return_info=True)  # this checkpoint's noise-0 cues
    if (~info.converged).any():
        hop.read(first[~info.converged], iterations=it - 1)
    check("hopfield", lambda x, k: hop.read(x, iterations=k, return_info=True))


def test_known_behaviour():
    # Far below every capacity all models read noiseless cues back; at
    # 3 x 0.138 n the classical network fails while the modern one and the
    # large SDM still recall.
    rows = fe.family_capacity(n_bits=128, n_locations=5000, radius=47, n_patterns=[4, 53],
                              noise=[8], n_cues=20, iterations=8, progress=False, seed=0)
    recall = {(r["model"], r["n_patterns"]): r["exact_recall_final"] for r in rows}
    for model in fe.MODELS:
        assert recall[(model, 4)] == 1.0
    assert recall[("hopfield", 53)] < 0.2
    assert recall[("modern_hopfield", 53)] == 1.0
    assert recall[("sdm_pattern", 53)] == 1.0


def test_model_subset_and_synchronous_hopfield():
    rows = fe.family_capacity(**{**SMALL, "n_patterns": [5], "noise": [2]},
                              models=["hopfield", "sdm"], hopfield_update="synchronous",
                              modern_beta=0.5)
    assert [r["model"] for r in rows] == ["sdm", "hopfield"]
    assert rows[0]["hopfield_update"] == "synchronous" and rows[0]["models"] == "sdm,hopfield"
    assert fe.family_capacity(**{**SMALL, "n_patterns": [5], "noise": [2]},
                              models="modern_hopfield", modern_beta=0.5)[0]["modern_beta"] == 0.5


def test_the_attention_model_runs_at_radii_whose_fitted_beta_is_zero():
    # fit_beta(64, 62) == 0: the attention reads used to fail there, after the
    # SDM rows had run; they read with equal weights (the β → 0 limit).
    rows = fe.family_capacity(**{**SMALL, "n_bits": 64, "radius": 62, "n_patterns": [3],
                                 "noise": [0]}, models=["sdm", "attention"])
    assert [r["model"] for r in rows] == ["sdm", "attention"]
    assert rows[1]["attention_beta"] == 0.0 and 0.0 <= rows[1]["bit_error_rate_1"] <= 1.0


def test_ctrl_c_keeps_finished_rows(monkeypatch):
    original = fe.measure
    calls = []

    def step(*args, **kwargs):
        if len(calls) == 7:
            raise KeyboardInterrupt
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(fe, "measure", step)
    with pytest.warns(ex.ExperimentInterrupted, match=r"interrupted \(Ctrl-C\) after 7 of 30"):
        rows = fe.family_capacity(**SMALL)
    assert rows.interrupted and len(rows) == 7


def test_progress_bar_goes_to_stderr(capsys):
    fe.family_capacity(**{**SMALL, "n_patterns": [3], "noise": [0], "progress": True},
                       models=["hopfield"])
    out, err = capsys.readouterr()
    assert out == "" and "family_capacity" in err and "1/1" in err


BAD = [
    (dict(models=[]), ValueError, "models is empty"),
    (dict(models=["sdm", "transformer"]), ValueError, "each of models must be one of"),
    (dict(models=3), TypeError, "models must be a sequence of names"),
    (dict(modern_beta=0.0), ValueError, "modern_beta must be a positive finite number"),
    (dict(modern_beta="1"), TypeError, "modern_beta must be a positive real number"),
    (dict(hopfield_update="parallel"), ValueError, "hopfield_update must be one of"),
    (dict(radius=1), ValueError, r"radius must be >= 2 for the fitted β"),
    (dict(n_patterns=[]), ValueError, "n_patterns is empty"),
    (dict(noise=[65]), ValueError, r"each of noise must be in \[0, 64\]"),
    (dict(n_cues=0), ValueError, r"n_cues must be in \[1, inf\]"),
]


@pytest.mark.parametrize("kwargs, error, match", BAD)
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        fe.family_capacity(**{**SMALL, **kwargs})


def test_a_radius_below_2_is_refused_only_for_the_attention_model():
    # Only the attention model fits a β (two points needed); the others run.
    rows = fe.family_capacity(**{**SMALL, "radius": 1, "n_patterns": [4],
                                 "models": ["sdm", "sdm_pattern", "hopfield"]})
    assert {r["model"] for r in rows} == {"sdm", "sdm_pattern", "hopfield"}
    assert all(r["radius"] == 1 and r["attention_beta"] is None for r in rows)
    pytest.importorskip("matplotlib")
    from fastsdm import plots

    assert "attention β" not in plots.plot_family_capacity(rows)._suptitle.get_text()


def test_plot(rows, tmp_path):
    pytest.importorskip("matplotlib")
    from fastsdm import plots

    back = json.loads(ex.to_json(rows, tmp_path / "r.json").read_text())
    path = tmp_path / "family.png"
    fig = plots.plot_family_capacity(back, path)
    assert path.stat().st_size > 10_000
    axes = fig.axes
    assert len(axes) == 4  # 2 rows x 2 noise levels
    # Capacity lines: SDM's theory.capacity (negative here: none) and Hopfield's two.
    vertical = {round(line.get_xdata()[0], 6) for line in axes[0].lines
                if len(set(line.get_xdata())) == 1 and len(line.get_xdata()) == 2}
    assert round(0.138 * 64, 6) in vertical
    assert round(64 / (2 * math.log(64)), 6) in vertical
    sdm_cap = theory.capacity(64, 24, 1500)
    assert (round(sdm_cap, 6) in vertical) == (sdm_cap > 0)
    with pytest.raises(ValueError, match="no family_capacity rows to plot"):
        plots.plot_family_capacity([{"experiment": "capacity"}])


def test_plot_draws_a_positive_sdm_capacity(tmp_path):
    pytest.importorskip("matplotlib")
    from fastsdm import plots

    rows = fe.family_capacity(n_bits=128, n_locations=10_000, radius=47, n_patterns=[20],
                              noise=[0], n_cues=4, iterations=1, models=["sdm"],
                              progress=False)
    cap = theory.capacity(128, 47, 10_000)
    assert cap > 0
    fig = plots.plot_family_capacity(rows)
    xs = {round(line.get_xdata()[0], 6) for line in fig.axes[0].lines
          if len(set(line.get_xdata())) == 1}
    assert round(cap, 6) in xs


def test_the_memory_check_counts_the_hopfield_weights(monkeypatch):
    from fastsdm import _machine

    small = dict(n_bits=4096, n_locations=1000, radius=1950, n_patterns=[10], noise=[0],
                 n_cues=2)
    monkeypatch.setattr(_machine, "available_memory", lambda: 100 * 2**20)
    # n² int32 weights (64 MiB), their float32 copy for reads, a write's two temporaries
    assert fe.model_nbytes(4096, 10, 2, ["hopfield"]) == {"Hopfield weights": 16 * 4096**2}
    assert fe.model_nbytes(4096, 5000, 2, ["hopfield"]) == {"Hopfield weights": 20 * 4096**2}
    with pytest.raises(MemoryError, match=r"^the memory, patterns and Hopfield weights need "
                                          r"[\d.]+ MiB \(n_bits=4096, n_locations=1000, int16 "
                                          r"counters; Hopfield weights 256.0 MiB\) but only "
                                          r"100.0 MiB is available; leave hopfield out of "
                                          r"models or use a smaller n_bits$"):
        ex.configure("family_capacity", **small, models=["sdm", "hopfield"])
    with pytest.raises(MemoryError, match=r"^the memory, patterns, Hopfield weights, modern "
                                          r"Hopfield patterns and pattern-view reads need "):
        ex.configure("family_capacity", **small)
    config = ex.configure("family_capacity", **small, models=["sdm", "modern_hopfield"])
    parts = fe.model_nbytes(4096, 10, 2, ["modern_hopfield"])
    assert set(parts) == {"modern Hopfield patterns", "pattern-view reads"}
    assert config["estimated_nbytes"] == (fastsdm.SDM.estimate_nbytes(4096, 1000)
                                          + 10 * 8 * 64 + sum(parts.values()))


def test_a_one_bit_family_run_draws_no_theory_instead_of_failing():
    # theory.capacity and classical_capacity have no 1-bit case: their errors
    # named p_whole and n, arguments family_capacity does not take, and the
    # command printed a traceback.
    from fastsdm.experiments import family_capacity

    for model in ("sdm", "hopfield"):
        rows = family_capacity(n_bits=1, n_locations=10, radius=0, n_patterns=[1], noise=[0],
                               n_cues=1, models=[model], progress=False)
        assert rows and all(r["theory_capacity"] is None for r in rows)
