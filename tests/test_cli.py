"""The fastsdm command: subcommands in-process, files written, bad arguments, Ctrl-C."""

import inspect
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import fastsdm
from fastsdm import experiments as ex
from fastsdm.cli import main
from fastsdm.experiments import _attention, _common

REPO = Path(fastsdm.__file__).resolve().parents[1]
TINY_MEMORY = ["--n-bits", "64", "--locations", "500", "--radius", "24", "--cues", "5"]
TINY = {
    "capacity": ["capacity", *TINY_MEMORY, "--patterns", "10,40", "--noise", "0,8"],
    "critical-distance": ["critical-distance", *TINY_MEMORY, "--patterns", "20",
                          "--distances", "0:32:8", "--iterations", "5"],
    "attention": ["attention", "--radii", "5,11", "--patterns", "32", "--noise", "0,4",
                  "--cues", "4"],
    "family": ["family", *TINY_MEMORY, "--patterns", "4,20", "--noise", "0,6",
               "--iterations", "3"],
}
ROWS = {"capacity": 4, "critical-distance": 5, "attention": 4, "family": 20}
EXPERIMENT = {"capacity": "capacity", "critical-distance": "critical_distance",
              "attention": "attention", "family": "family_capacity"}


def _run(argv, capsys):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("command", list(TINY))
def test_experiment_writes_results_config_and_summary(command, tmp_path, capsys):
    out_dir = tmp_path / "out"
    code, out, err = _run([*TINY[command], "--out", str(out_dir), "--no-plot"], capsys)
    assert code == 0, err
    rows = json.loads((out_dir / "results.json").read_text())
    assert len(rows) == ROWS[command]
    experiment = EXPERIMENT[command]
    assert {r["experiment"] for r in rows} == {experiment}
    config = json.loads((out_dir / "config.json").read_text())
    assert config["experiment"] == experiment and config["preset"] == "small"
    assert config["command"].startswith(f"fastsdm {command} ")
    assert config["rows"] == ROWS[command] and config["interrupted"] is False
    assert config["versions"]["fastsdm_version"] == fastsdm.__version__
    assert config["config"] == ex.configure(experiment, **_kwargs(config["config"]))
    assert config["environment"]["OMP_WAIT_POLICY"]
    assert "results.json" in config["files"] and not list(out_dir.glob("*.png"))
    summary = (out_dir / "summary.md").read_text()
    assert summary.startswith(f"# fastsdm {command}") and "|" in summary
    # stdout: the table, then where the files went; the bar went to stderr.
    assert out.splitlines()[0].startswith("| ")
    assert f"{ROWS[command]} rows in" in out and str(out_dir) in out
    assert "100%" in err
    if command == "attention":
        assert len(json.loads((out_dir / "weights.json").read_text())) == 2 * 2 * 65
    if command == "critical-distance":
        assert "critical distance" in out and "one-step model" in out
    if command == "family":
        assert {r["model"] for r in rows} == set(ex.FAMILY_MODELS)
        assert "noise 6: exact recall after iterating >= 50% up to m = sdm" in summary


def _kwargs(config):
    """Arguments that rebuild a configuration through ex.configure."""
    names = set(inspect.signature(ex.EXPERIMENTS[config["experiment"]]).parameters)
    kwargs = {k: v for k, v in config.items() if k in names and k != "progress"}
    if kwargs.get("radius") is not None:
        kwargs.pop("activation_probability", None)
    if "step" in kwargs:
        kwargs.pop("step" if config.get("step") is None else "distances")
    return kwargs


def test_csv_format_and_quiet(tmp_path, capsys):
    code, out, err = _run([*TINY["capacity"], "--out", str(tmp_path), "--format", "csv",
                           "--quiet", "--no-plot"], capsys)
    assert code == 0 and out == "" and err == ""
    lines = (tmp_path / "results.csv").read_text().splitlines()
    assert lines[0].startswith("experiment,repetition,n_patterns,noise,")
    assert len(lines) == 1 + 4
    assert not (tmp_path / "results.json").exists()


def test_overrides_seed_and_repetitions(tmp_path, capsys):
    code, _, err = _run([*TINY["capacity"], "--seed", "7", "--repetitions", "2",
                         "--out", str(tmp_path), "--quiet", "--no-plot"], capsys)
    assert code == 0, err
    rows = json.loads((tmp_path / "results.json").read_text())
    assert {r["seed"] for r in rows} == {7} and {r["repetition"] for r in rows} == {0, 1}
    assert {(r["n_bits"], r["n_locations"], r["radius"], r["n_cues"]) for r in rows} == {
        (64, 500, 24, 5)}


def test_preset_radius_gives_way_to_overrides(tmp_path, capsys):
    # kanerva fixes radius=451 for n=1000; --n-bits alone re-derives it from p = 0.001.
    code, _, err = _run(["capacity", "--preset", "kanerva", "--n-bits", "64", "--locations",
                         "300", "--patterns", "5", "--noise", "0", "--cues", "2",
                         "--out", str(tmp_path), "--quiet", "--no-plot"], capsys)
    assert code == 0, err
    row = json.loads((tmp_path / "results.json").read_text())[0]
    assert row["counter_dtype"] == "int8"  # the rest of the preset stays
    assert row["radius"] == fastsdm.theory.radius_for_probability(64, 0.001)


def test_a_tilde_in_out_is_the_home_folder(tmp_path, capsys, monkeypatch):
    # "--out=~/runs" reaches the command unexpanded (the shell expands only a
    # word that starts with ~).
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    code, _, err = _run([*TINY["capacity"], "--out=~/runs", "--no-plot", "--quiet"], capsys)
    assert code == 0, err
    assert (tmp_path / "home" / "runs" / "results.json").is_file()
    assert not (tmp_path / "~").exists()
    code, _, err = _run([*TINY["capacity"], "--out=~no-such-user-here/runs"], capsys)
    assert code == 2 and "Traceback" not in err
    assert ("argument --out: cannot expand '~no-such-user-here/runs': no such user's home "
            "folder") in err


def test_figures(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    for command in TINY:
        out_dir = tmp_path / command
        code, _, err = _run([*TINY[command], "--out", str(out_dir), "--quiet"], capsys)
        assert code == 0, err
        png = out_dir / f"{command}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
        # config.json names exactly the files the run wrote, itself included.
        listed = json.loads((out_dir / "config.json").read_text())["files"]
        assert png.name in listed
        assert sorted(listed) == sorted(p.name for p in out_dir.iterdir())


def test_no_matplotlib_prints_a_hint(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    code, _, err = _run([*TINY["capacity"], "--out", str(tmp_path)], capsys)
    assert code == 0
    assert "install fastsdm[plot] for figures" in err
    assert not list(tmp_path.glob("*.png"))


def test_default_output_folder(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for _ in range(2):  # the same second twice: a second, distinct folder
        assert _run([*TINY["capacity"], "--quiet", "--no-plot"], capsys)[0] == 0
    folders = sorted((tmp_path / "fastsdm-results").iterdir())
    assert len(folders) == 2
    assert all(f.name.split("-")[2] == "capacity" for f in folders)
    assert all((f / "results.json").is_file() for f in folders)


def test_omp_wait_policy(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    assert _run(["info"], capsys)[0] == 0
    assert os.environ["OMP_WAIT_POLICY"] == "passive"
    monkeypatch.setenv("OMP_WAIT_POLICY", "active")  # a user's choice is kept
    assert _run(["info"], capsys)[0] == 0
    assert os.environ["OMP_WAIT_POLICY"] == "active"


def test_info(capsys):
    code, out, _ = _run(["info"], capsys)
    assert code == 0
    for key in ("fastsdm", "numpy", "numba", "cpu flags", "avx512_vpopcntdq", "popcnt",
                "numba threads", "threading layer", "numba cache", "OMP_WAIT_POLICY",
                "kernels"):
        assert key in out, key
    code, out, _ = _run(["info", "--json"], capsys)
    info = json.loads(out)
    assert info["versions"]["fastsdm"] == fastsdm.__version__
    assert set(info["cpu"]["flags"]) >= {"avx512f", "avx512_vpopcntdq", "popcnt"}
    assert info["numba"]["threads"] >= 1
    assert info["numba"]["threading_layer"] in ("omp", "tbb", "workqueue")
    assert {"enabled", "dirs", "index_files"} <= info["numba"]["cache"].keys()
    from fastsdm import _jit

    assert info["kernels"]["variant"] == _jit.SIMD  # the variant in use, not the CPU's flags


def test_python_m_fastsdm_info_subprocess():
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])}
    env.pop("OMP_WAIT_POLICY", None)
    result = subprocess.run([sys.executable, "-m", "fastsdm", "info"], capture_output=True,
                            text=True, env=env, timeout=300, cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert re.search(rf"^fastsdm +{re.escape(fastsdm.__version__)}$", result.stdout, re.M)
    assert re.search(r"^OMP_WAIT_POLICY +passive$", result.stdout, re.M)


@pytest.mark.parametrize("argv", [["--help"], ["capacity", "--help"],
                                  ["critical-distance", "--help"], ["attention", "--help"],
                                  ["family", "--help"], ["paper", "--help"], ["info", "--help"]])
def test_help(argv, capsys):
    code, out, _ = _run(argv, capsys)
    assert code == 0 and out.startswith("usage: fastsdm")
    if argv[0] in TINY:
        assert "presets:" in out and "small:" in out


def test_version(capsys):
    code, out, _ = _run(["--version"], capsys)
    assert code == 0 and out.strip() == f"fastsdm {fastsdm.__version__}"


BAD = [
    (["capacity", "--locations", "-5"], r"argument --locations: must be a positive integer, "
                                        r"got '-5'"),
    (["capacity", "--n-bits", "0"], r"argument --n-bits: must be a positive integer"),
    (["capacity", "--cues", "0"], r"argument --cues: must be a positive integer"),
    (["capacity", "--radius", "-1"], r"argument --radius: must be a non-negative integer"),
    (["capacity", "--n-bits", "64", "--radius", "65"], r"--radius must be in \[0, 64\], got 65"),
    (["capacity", "--patterns", "0,100"], r"argument --patterns: values must be positive, "
                                          r"got 0"),
    (["capacity", "--patterns", "100,-200"], r"argument --patterns: values must be positive"),
    (["capacity", "--patterns", "1,x"], r"argument --patterns: expected an integer, got 'x'"),
    (["capacity", "--noise", "0,300"], r"each of --noise must be in \[0, 256\], got 300"),
    (["capacity", "--activation-probability", "2"],
     r"argument --activation-probability: must be in \(0, 1\]"),
    (["capacity", "--radius", "100", "--activation-probability", "0.01"],
     r"--radius and --activation-probability are alternatives: give one, not both"),
    (["capacity", "--n-bits", "1000", "--locations", "50000000000", "--counter-dtype", "int8"],
     r"the memory and patterns need [\d.]+ TiB .* but only [\d.]+ [GT]iB is available; use "
     r"fewer locations"),
    (["capacity", "--preset", "huge"], r"unknown preset 'huge'; choose one of small, kanerva"),
    (["attention", "--preset", "kanerva"], r"unknown preset 'kanerva'; choose one of small, "
                                           r"digits"),
    (["capacity", "--format", "xml"], r"argument --format: invalid choice: 'xml'"),
    (["capacity", "--counter-dtype", "int64"], r"argument --counter-dtype: invalid choice"),
    (["capacity", "--bogus"], r"unrecognized arguments: --bogus"),
    (["frobnicate"], r"argument COMMAND: invalid choice: 'frobnicate'"),
    ([], r"the following arguments are required: COMMAND"),
    (["critical-distance", "--step", "0"], r"argument --step: must be a positive integer"),
    (["critical-distance", "--distances", "0:64:0"], r"a range is start:stop:step with "
                                                     r"step > 0"),
    (["critical-distance", "--n-bits", "64", "--distances", "0,100"],
     r"each of --distances must be in \[0, 64\], got 100"),
    (["attention", "--radii", "1,5"], r"each of --radii must be in \[2, 64\], got 1"),
    (["capacity", "--storage", "hetero"], r"argument --storage: invalid choice: 'hetero'"),
    (["capacity", "--storage", "heteroassociative", "--iterations", "3"],
     r"--iterations 3 needs --storage autoassociative: a heteroassociative read returns "
     r"data"),
    (["paper", "--seed", "-1"], r"argument --seed: must be a non-negative integer"),
    (["attention", "--dataset", "digits", "--n-bits", "32"],
     r"--dataset digits has 64-bit patterns"),
    (["family", "--models", "sdm,transformer"],
     r"argument --models: unknown name 'transformer' in 'sdm,transformer'; choose from sdm, "),
    (["family", "--models", ","], r"argument --models: expected names from sdm, "),
    (["family", "--modern-beta", "0"], r"--modern-beta must be a positive finite number, got "
                                       r"0.0; e.g. --modern-beta 0.1, or leave it out for "
                                       r"1/sqrt\(n_bits\)$"),
    (["family", "--radius", "1"], r"--radius must be >= 2 for the fitted β"),
    (["attention", "--threshold", "x"], r"argument --threshold: expected a number, got 'x'"),
    (["capacity", "--activation-probability", "x"],
     r"argument --activation-probability: expected a probability, got 'x'"),
    (["capacity", "--patterns", ","], r"argument --patterns: expected at least one integer"),
    # refused at once by the size check, not after hours of exact theory at n = 10^9
    (["capacity", "--n-bits", "1000000000"], r"need [\d.]+ TiB \(--n-bits 1000000000, "),
    (["critical-distance", "--n-bits", "1000000000"], r"need [\d.]+ TiB \(--n-bits 10"),
    (["family", "--n-bits", "1000000000"], r"need [\d.]+ TiB \(--n-bits 1000000000, "),
    (["attention", "--n-bits", "1000000000"],
     r"the patterns, reads and weight curves need [\d.]+ TiB \(--n-bits 1000000000, "
     r"--patterns 1024, --cues 256, 4 radii; .*\) but only .* is available; use a smaller "
     r"--n-bits or fewer --radii"),
    (["attention", "--patterns", "1000000000000", "--radii", "5", "--cues", "8"],
     r"the patterns, reads and weight curves need [\d.]+ TiB \(--n-bits 64, --patterns "
     r"1000000000000, --cues 8, 1 radius; .*\) but only .* is available; use fewer "
     r"--patterns"),
    (["family", "--n-bits", "200000", "--locations", "10", "--radius", "99000", "--patterns",
      "10", "--noise", "0", "--cues", "2", "--models", "hopfield"],
     r"the memory, patterns and Hopfield weights need [\d.]+ GiB .*; leave hopfield out of "
     r"--models or use a smaller --n-bits"),
    # ranges are counted, not built (10^12 values would need 8 TB of pointers first)
    (["capacity", "--patterns", "1:1000000000000:1"],
     r"argument --patterns: a list holds at most 100,000 values, but '1:1000000000000:1' has "
     r"1,000,000,000,000; use a larger step"),
    (["capacity", "--noise", "0:1000000000000:1"], r"argument --noise: a list holds at most "),
    (["capacity", "--patterns", "0:1000000000000:1"],
     r"argument --patterns: values must be positive, got 0 in '0:1000000000000:1'"),
    (["critical-distance", "--n-bits", "1000", "--locations", "1000", "--step", "0"],
     r"argument --step: must be a positive integer"),
]


@pytest.mark.parametrize("argv, match", BAD, ids=[" ".join(a) or "none" for a, _ in BAD])
def test_bad_arguments_exit_2_with_one_line(argv, match, tmp_path, capsys):
    out_dir = tmp_path / "out"
    argv = [*argv, "--out", str(out_dir)] if argv and argv[0] in TINY else argv
    code, out, err = _run(argv, capsys)
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("fastsdm"), err
    assert re.search(match, err), err
    assert not out_dir.exists()  # failed before any work


def test_a_range_longer_than_the_limit_is_refused_when_parsed():
    from fastsdm.cli import _UsageError, build_parser
    from fastsdm.experiments._fields import MAX_VALUES

    parser = build_parser()
    ok = parser.parse_args(["capacity", "--patterns", f"1:{MAX_VALUES}:1"])
    assert ok.n_patterns == list(range(1, MAX_VALUES + 1))
    for flag in ("--patterns", "--noise"):
        with pytest.raises(_UsageError, match=f"argument {flag}: a list holds at most "
                                              f"100,000 values, but '1:{MAX_VALUES + 1}:1' has "
                                              "100,001; use a larger step"):
            parser.parse_args(["capacity", flag, f"1:{MAX_VALUES + 1}:1"])


@pytest.mark.parametrize("command", ["attention", "paper"])
def test_a_crash_before_the_first_file_leaves_no_empty_folder(command, tmp_path, monkeypatch,
                                                               capsys):
    from fastsdm import gallery

    def crash(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(_attention, "weight_rows", crash)  # the attention run's first step
    monkeypatch.setattr(gallery, "_EXHIBITS", ((gallery._EXHIBITS[0][0], crash),))
    argv = [*TINY["attention"], "--no-plot"] if command == "attention" else ["paper", "--quick"]
    with pytest.raises(RuntimeError, match="boom"):
        main([*argv, "--out", str(tmp_path / "new" / "out")])
    assert not (tmp_path / "new" / "out").exists()
    monkeypatch.chdir(tmp_path)                    # the default folder is removed too
    with pytest.raises(RuntimeError, match="boom"):
        main(argv)
    assert list((tmp_path / "fastsdm-results").iterdir()) == []
    mine = tmp_path / "mine"                       # a folder the user made stays
    mine.mkdir()
    with pytest.raises(RuntimeError, match="boom"):
        main([*argv, "--out", str(mine)])
    assert mine.is_dir()


def test_more_cues_than_stored_patterns_is_said(tmp_path, capsys):
    # TINY capacity stores 10 and 40 patterns; 20 cues are more than 10
    code, out, err = _run([*TINY["capacity"], "--cues", "20", "--no-plot", "--out",
                           str(tmp_path / "c")], capsys)
    note = ("--cues 20 is more than the stored patterns at 1 of 2 checkpoints (10): every "
            "stored pattern is read there, once (n_cues_read in the rows)")
    assert code == 0 and f"fastsdm capacity: note: {note}" in err
    assert f"Note: {note}." in (tmp_path / "c" / "summary.md").read_text()
    rows = json.loads((tmp_path / "c" / "results.json").read_text())
    assert {r["n_patterns"]: r["n_cues_read"] for r in rows} == {10: 10, 40: 20}
    code, _, err = _run(["attention", "--patterns", "16", "--cues", "1000", "--radii", "5",
                         "--noise", "0", "--no-plot", "--out", str(tmp_path / "a")], capsys)
    assert code == 0 and ("note: --cues 1000 is more than the 16 stored patterns: every "
                          "stored pattern is read, once") in err
    code, _, err = _run([*TINY["capacity"], "--no-plot", "--out", str(tmp_path / "d")], capsys)
    assert code == 0 and "note:" not in err          # 5 cues: nothing to say
    assert "Note:" not in (tmp_path / "d" / "summary.md").read_text()
    help_text = build_help("capacity", capsys)
    assert "at most the number stored" in " ".join(help_text.split())


def build_help(command, capsys):
    assert main([command, "--help"]) == 0
    return capsys.readouterr().out


def test_out_is_a_file(tmp_path, capsys):
    target = tmp_path / "file"
    target.write_text("x")
    code, _, err = _run([*TINY["capacity"], "--out", str(target)], capsys)
    assert code == 2 and "exists and is not a folder" in err and len(err.splitlines()) == 1
    code, _, err = _run([*TINY["capacity"], "--out", str(target / "below")], capsys)
    assert code == 2 and len(err.splitlines()) == 1
    assert re.search(r"^fastsdm capacity: error: --out: cannot create the output folder "
                     r".*below \(Not a directory\); choose another folder$", err), err


def test_digits_without_sklearn(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    code, _, err = _run(["attention", "--preset", "digits", "--out", str(tmp_path / "o")],
                        capsys)
    assert code == 2
    assert "needs scikit-learn" in err and "pip install scikit-learn" in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("command, module, step", [("capacity", _common, "recall"),
                                                   ("critical-distance", _common, "recall"),
                                                   ("attention", _attention, "pattern_recall")])
def test_ctrl_c_writes_finished_rows_and_exits_130(command, module, step, tmp_path, capsys,
                                                   monkeypatch):
    original = getattr(module, step)
    calls = []

    def interrupted_step(*args, **kwargs):
        if len(calls) == 2:
            raise KeyboardInterrupt
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(module, step, interrupted_step)
    code, out, err = _run([*TINY[command], "--out", str(tmp_path), "--no-plot"], capsys)
    assert code == 130
    assert "interrupted; kept the 2 finished rows" in err
    saved = json.loads((tmp_path / "results.json").read_text())
    assert len(saved) == 2 and all(row["interrupted"] is True for row in saved)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["interrupted"] is True and config["rows"] == 2
    assert config["expected_rows"] == ROWS[command]
    assert "2 rows in" in out
    # said where people look: at the top of summary.md (and in the figure, below)
    summary = (tmp_path / "summary.md").read_text().splitlines()
    assert summary[2] == (f"> **Interrupted (Ctrl-C) after 2 of {ROWS[command]} rows: partial "
                          "results, the unfinished points are missing.**")


def test_ctrl_c_during_paper_keeps_the_finished_exhibits(tmp_path, capsys, monkeypatch):
    pytest.importorskip("matplotlib")
    from fastsdm import gallery

    def finished(ctx):
        fig, _ = gallery._figure(1, (2.0, 2.0))
        return fig, [gallery._row("weights", "a number", 1.0)], {"weights_data": [{"h": 0}]}

    def stopped(ctx):
        raise KeyboardInterrupt

    first, second, third = gallery._EXHIBITS[:3]
    monkeypatch.setattr(gallery, "_EXHIBITS", ((first[0], finished), (second[0], stopped),
                                               (third[0], finished)))
    out = tmp_path / "P"
    code, _, err = _run(["paper", "--quick", "--out", str(out)], capsys)
    assert code == 130
    assert f"fastsdm paper: interrupted; kept the 1 of 3 finished exhibits in {out}" in err
    assert {p.name for p in out.iterdir()} == {"weights.png", "weights_data.csv", "summary.md",
                                               "numbers.json"}
    summary = (out / "summary.md").read_text()
    assert ("> **Interrupted (Ctrl-C) after 1 of 3 exhibits: partial results, the unfinished "
            "exhibits are missing.**") in summary
    assert first[0].title in summary and second[0].title not in summary
    numbers = json.loads((out / "numbers.json").read_text())
    assert numbers["interrupted"] is True and numbers["exhibits_done"] == 1
    # the rerun is refused with a message that now matches the folder
    code, _, err = _run(["paper", "--quick", "--out", str(out)], capsys)
    assert code == 2 and "from an earlier run" in err


def test_a_full_disk_during_paper_is_named(tmp_path, capsys, monkeypatch):
    pytest.importorskip("matplotlib")
    from fastsdm import gallery

    def finished(ctx):
        fig, _ = gallery._figure(1, (2.0, 2.0))
        return fig, [gallery._row("weights", "a number", 1.0)], {"weights_data": [{"h": 0}]}

    monkeypatch.setattr(gallery, "_EXHIBITS", ((gallery._EXHIBITS[0][0], finished),))
    _disk_fills_after(monkeypatch, 100)  # the figure fits, its listing does not
    out = tmp_path / "P"
    code, _, err = _run(["paper", "--quick", "--out", str(out)], capsys)
    assert code == 1 and "Traceback" not in err
    assert (f"fastsdm paper: could not write into {out}: No space left on device (the disk or "
            "your quota is full)") in err
    assert {p.name for p in out.iterdir()} == {"weights.png"}


def test_ctrl_c_in_the_gallery_simulation_draws_no_partial_curve(monkeypatch):
    from fastsdm import experiments, gallery

    monkeypatch.setattr(experiments, "critical_distance",
                        lambda **kwargs: ex.Records([], interrupted=True))
    with pytest.raises(KeyboardInterrupt):
        gallery._one_step(gallery._Context(quick=True, seed=0, progress=False))


def test_ctrl_c_outside_an_experiment(monkeypatch, capsys):
    from fastsdm.experiments._registry import Experiment

    def boom(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(Experiment, "configure", boom)
    code, _, err = _run(TINY["capacity"], capsys)
    assert code == 130 and "interrupted" in err


def test_a_failing_figure_keeps_the_results(tmp_path, capsys, monkeypatch):
    pytest.importorskip("matplotlib")
    from fastsdm import plots

    def broken(records, path):
        raise RuntimeError("no ink")

    monkeypatch.setattr(plots, "plot", broken)
    code, _, err = _run([*TINY["capacity"], "--out", str(tmp_path), "--quiet"], capsys)
    assert code == 1
    assert "could not draw or write the figure capacity.png: RuntimeError: no ink" in err
    assert (tmp_path / "results.json").is_file() and (tmp_path / "config.json").is_file()


def _disk_fills_after(monkeypatch, budget: int) -> None:
    """Text written through pathlib stops with ENOSPC once ``budget`` characters are out,
    having written what fitted (as a real full disk does)."""
    import errno
    import pathlib

    left = [budget]
    write_text = pathlib.Path.write_text

    def full(self, data, *args, **kwargs):
        fits, left[0] = data[: left[0]], max(0, left[0] - len(data))
        write_text(self, fits, *args, **kwargs)
        if len(fits) < len(data):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return len(data)

    monkeypatch.setattr(pathlib.Path, "write_text", full)


def test_a_full_disk_is_named_and_leaves_no_truncated_results(tmp_path, capsys, monkeypatch):
    out_dir = tmp_path / "run"
    with monkeypatch.context() as patch:
        _disk_fills_after(patch, 5_000)  # config.json fits, results.json does not
        code, out, err = _run([*TINY["capacity"], "--out", str(out_dir), "--quiet",
                               "--no-plot"], capsys)
    assert code == 1
    assert (f"could not write {out_dir / 'results.json'}: No space left on device (the disk or "
            f"your quota is full). {out_dir} holds none of this run's results and its "
            "config.json, which says the output is not complete. The rows are printed below as "
            "JSON; free some space and run again with --force") in err
    assert "Traceback" not in err
    # the rows are not lost: every one is printed, whole, even with --quiet
    rows = json.loads(out)
    assert len(rows) == ROWS["capacity"] and {"bit_error_rate_1", "seed"} <= rows[0].keys()
    # no truncated results.json that would read as a short result, and no leftovers
    assert sorted(p.name for p in out_dir.iterdir()) == ["config.json"]
    assert json.loads((out_dir / "config.json").read_text())["complete"] is False
    # a forced run over an earlier one that fails keeps the earlier results, and says so
    earlier = tmp_path / "earlier"
    assert main([*TINY["capacity"], "--out", str(earlier), "--no-plot", "-q"]) == 0
    before = (earlier / "results.json").read_bytes()
    with monkeypatch.context() as patch:
        _disk_fills_after(patch, 2_000)  # its config.json fits, its results.json does not
        code, out, err = _run([*TINY["capacity"], "--noise", "4", "--out", str(earlier),
                               "--force", "--no-plot", "-q"], capsys)
    assert code == 1 and "; the earlier run's files are still there." in err
    assert (earlier / "results.json").read_bytes() == before
    # a folder that cannot be written is not a full disk
    import errno

    def refused(*args, **kwargs):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))

    monkeypatch.setattr("fastsdm.experiments._io.to_json", refused)
    code, _, err = _run([*TINY["capacity"], "--out", str(tmp_path / "p"), "--no-plot", "-q"],
                        capsys)
    assert code == 1 and "Permission denied. " in err and "make the folder writable" in err


def test_results_files_keep_what_a_plain_write_did(tmp_path):
    from fastsdm import plots
    from fastsdm.experiments import to_json

    # a name without a suffix gets the figure format's, as savefig does
    pytest.importorskip("matplotlib")
    rows = fastsdm.experiments.capacity(n_bits=64, n_locations=500, radius=24,
                                        n_patterns=[10], noise=[0], n_cues=5, progress=False)
    plots.plot(rows, tmp_path / "fig")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fig.png"]
    # a symbolic link is written through, and stays a link
    target = tmp_path / "target.json"
    target.write_text("[]")
    (tmp_path / "link.json").symlink_to(target)
    to_json([{"m": 1}], tmp_path / "link.json")
    assert (tmp_path / "link.json").is_symlink() and json.loads(target.read_text()) == [{"m": 1}]
    # the file replaced keeps its permissions
    target.chmod(0o640)
    to_json([{"m": 2}], target)
    assert target.stat().st_mode & 0o777 == 0o640


def test_a_forced_run_clears_what_a_killed_run_left(tmp_path, capsys):
    out = tmp_path / "run"
    assert main([*TINY["capacity"], "--out", str(out), "--no-plot", "-q"]) == 0
    (out / ".results-partial-0123abcd.json").write_text("[{")   # killed while writing
    config = json.loads((out / "config.json").read_text())
    config["files"].append("x" * 300 + ".json")                  # a name no file system takes
    (out / "config.json").write_text(json.dumps(config))
    assert main([*TINY["capacity"], "--out", str(out), "--no-plot", "-q"]) == 2
    assert main([*TINY["capacity"], "--out", str(out), "--no-plot", "-q", "--force"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "results.json", "summary.md"]


def test_results_files_are_replaced_whole_or_not_at_all(tmp_path, monkeypatch):
    from fastsdm.experiments import to_json

    path = to_json([{"m": 1}], tmp_path / "r.json")
    _disk_fills_after(monkeypatch, 10)
    with pytest.raises(OSError, match="No space left"):
        to_json([{"m": k, "recall": 0.5} for k in range(100)], path)
    assert json.loads(path.read_text()) == [{"m": 1}]
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


def test_capacity_storage_and_theory_in_the_summary(tmp_path, capsys):
    out_dir = tmp_path / "hetero"
    code, out, err = _run([*TINY["capacity"], "--storage", "heteroassociative", "--out",
                           str(out_dir), "--no-plot", "-q"], capsys)
    assert code == 0, err
    rows = json.loads((out_dir / "results.json").read_text())
    assert {r["storage"] for r in rows} == {r["theory_model"] for r in rows} == {
        "heteroassociative"}
    assert {r["iterations"] for r in rows} == {1}
    summary = (out_dir / "summary.md").read_text()
    assert "the heteroassociative one-read model" in summary
    assert re.search(r"theory \(heteroassociative model, one read\) vs measurement: largest "
                     r"gap [\d.e-]+ \(bit error rate, at m = \d+, noise \d+\), median", summary)
    assert "the paper model's largest gap" in summary


def test_hetero_storage_drops_the_presets_iterations():
    from fastsdm.experiments._registry import REGISTRY

    record = REGISTRY["capacity"]
    kwargs = record.arguments("kanerva", {"storage": "heteroassociative"})
    assert "iterations" not in kwargs and kwargs["storage"] == "heteroassociative"
    assert record.arguments("kanerva", {})["iterations"] == 10


def test_an_interrupted_figure_says_so(tmp_path, capsys, monkeypatch):
    pytest.importorskip("matplotlib")
    from fastsdm import plots

    original_recall, original_plot, calls, drawn = _common.recall, plots.plot, [], []

    def interrupted_step(*args, **kwargs):
        if len(calls) == 1:
            raise KeyboardInterrupt
        calls.append(1)
        return original_recall(*args, **kwargs)

    def plot(records, path):
        drawn.append(original_plot(records, path))
        return drawn[-1]

    monkeypatch.setattr(_common, "recall", interrupted_step)
    monkeypatch.setattr(plots, "plot", plot)
    code, _, err = _run([*TINY["capacity"], "--out", str(tmp_path), "-q"], capsys)
    assert code == 130, err
    assert (tmp_path / "capacity.png").stat().st_size > 20_000
    (fig,) = drawn
    assert [t.get_text() for t in fig.texts if "INTERRUPTED" in t.get_text()] == [
        "INTERRUPTED (Ctrl-C) after 1 of 4 rows: partial results, the unfinished points are "
        "missing"]


# -- --out never overwrites an earlier run unasked ---------------------------------


def test_out_twice_is_refused_and_force_replaces_the_earlier_run(tmp_path, capsys):
    out_dir = tmp_path / "run"
    assert _run([*TINY["capacity"], "--out", str(out_dir), "-q", "--no-plot"], capsys)[0] == 0
    before = {p.name: p.read_bytes() for p in out_dir.iterdir()}
    code, out, err = _run([*TINY["capacity"], "--seed", "5", "--out", str(out_dir), "-q",
                           "--no-plot"], capsys)
    assert code == 2 and out == "" and len(err.splitlines()) == 1
    assert re.search(r"^fastsdm capacity: error: --out: the output folder .*run already holds "
                     r"files \(config.json, results.json, summary.md\), from an earlier run; "
                     r"choose a new folder, or pass --force to overwrite them$", err), err
    assert {p.name: p.read_bytes() for p in out_dir.iterdir()} == before  # untouched
    (out_dir / "notes.txt").write_text("mine")
    code, _, err = _run([*TINY["capacity"], "--seed", "5", "--out", str(out_dir), "-q",
                         "--format", "csv", "--no-plot", "--force"], capsys)
    assert code == 0, err
    # The earlier run's files are gone (no stale results.json next to results.csv), the
    # user's own file stays.
    assert sorted(p.name for p in out_dir.iterdir()) == [
        "config.json", "notes.txt", "results.csv", "summary.md"]
    assert json.loads((out_dir / "config.json").read_text())["config"]["seed"] == 5
    assert (out_dir / "notes.txt").read_text() == "mine"


def test_out_with_unrelated_files_is_not_called_an_earlier_run(tmp_path, capsys):
    out_dir = tmp_path / "mine"
    out_dir.mkdir()
    (out_dir / "notes.txt").write_text("mine")
    code, _, err = _run([*TINY["capacity"], "--out", str(out_dir), "-q", "--no-plot"], capsys)
    assert code == 2 and "earlier run" not in err, err
    assert re.search(r"^fastsdm capacity: error: --out: the output folder .*mine already holds "
                     r"files \(notes.txt\); choose a new folder, or pass --force to write into "
                     r"it \(files with the names of this run's are replaced, others stay\)$",
                     err), err
    assert [p.name for p in out_dir.iterdir()] == ["notes.txt"]


def test_the_readme_names_the_flags_each_experiment_takes():
    readme = " ".join((REPO / "README.md").read_text(encoding="utf-8").split())
    sentence = readme[readme.index("Every experiment (capacity, critical-distance, attention, "
                                   "family) takes"):]
    sentence = sentence[:sentence.index("shows progress")]
    from fastsdm.cli import build_parser

    commands = build_parser().commands
    experiments = {name: sub.flags for name, sub in commands.items()
                   if name not in ("paper", "info")}
    assert sorted(experiments) == ["attention", "capacity", "critical-distance", "family"]
    said_of_all, *said_of_some = sentence.split(";")
    for flag in re.findall(r"`(--[a-z-]+)", said_of_all):
        assert all(flag in flags for flags in experiments.values()), flag
    assert "critical-distance `--distances`, the others `--noise`" in said_of_some[0]
    assert "--noise" not in experiments["critical-distance"]
    assert all("--noise" in f for c, f in experiments.items() if c != "critical-distance")
    assert "SDM experiments also `--locations` and `--radius`" in said_of_some[1]
    assert {c for c, f in experiments.items() if "--locations" in f and "--radius" in f} == {
        "capacity", "critical-distance", "family"}
    assert "attention `--radii`" in said_of_some[1] and "--radii" in experiments["attention"]


# -- typing mistakes -------------------------------------------------------------------


@pytest.mark.parametrize("argv, expected", [
    (["capacity", "--nosie", "16"],
     "fastsdm capacity: error: unrecognized arguments: --nosie 16; did you mean --noise? "
     "(see fastsdm capacity --help)"),
    (["critical-distance", "--iteratoins=5", "--cues", "3"],
     "fastsdm critical-distance: error: unrecognized arguments: --iteratoins=5; did you mean "
     "--iterations? (see fastsdm critical-distance --help)"),
    (["family", "--hopfeild-update", "synchronous"],
     "fastsdm family: error: unrecognized arguments: --hopfeild-update synchronous; did you "
     "mean --hopfield-update? (see fastsdm family --help)"),
    (["capacity", "--zzz"],
     "fastsdm capacity: error: unrecognized arguments: --zzz (see fastsdm capacity --help)"),
    (["capcity"], "fastsdm: error: argument COMMAND: invalid choice: 'capcity'; did you mean "
                  "'capacity'? (choose from capacity, critical-distance, attention, family, "
                  "paper, info; see fastsdm --help)"),
])
def test_a_typo_is_answered_with_the_closest_option(argv, expected, capsys):
    code, out, err = _run(argv, capsys)
    assert (code, out, err) == (2, "", expected + "\n")


def test_the_command_does_not_reword_library_messages():
    # Messages are spelled with flags when they are made (the registry's Names), and
    # errors carry their parameters: no regular expressions in the command.
    source = Path(fastsdm.cli.__file__).read_text(encoding="utf-8")
    assert "import re\n" not in source and "re.sub" not in source


def test_memory_hint_in_flags(monkeypatch, tmp_path, capsys):
    from fastsdm import _machine

    monkeypatch.setattr(_machine, "available_memory", lambda: 3 * 2**30)
    code, _, err = _run(["capacity", "--n-bits", "1000", "--locations", "2000000", "--out",
                         str(tmp_path / "o")], capsys)
    assert code == 2 and err.rstrip().endswith("use --counter-dtype int8 (it fits)"), err
    code, _, err = _run(["capacity", "--n-bits", "1000", "--locations", "50000000000",
                         "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and "counter-dtype" not in err and "use fewer locations: about" in err


# -- Ctrl-C while the command starts -------------------------------------------------------


def test_ctrl_c_while_building_the_parser(monkeypatch, capsys):
    # build_parser is where the heavy imports happen (the registry, numpy, numba).
    import fastsdm.cli as cli

    def interrupted():
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "build_parser", interrupted)
    code, out, err = _run(TINY["capacity"], capsys)
    assert (code, out, err) == (130, "", "fastsdm: interrupted\n")


def _env():
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])}
    return env


def test_the_entry_point_imports_nothing_heavy():
    # `python -m fastsdm` and the console script import fastsdm and fastsdm.cli before
    # main() runs: neither may load numpy or numba, or Ctrl-C there would print a traceback.
    code = ("import sys, fastsdm.__main__, fastsdm.cli\n"
            "print(sorted({m.split('.')[0] for m in sys.modules} & "
            "{'numpy', 'numba', 'matplotlib', 'scipy'}))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=_env(), timeout=300, cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_ctrl_c_in_the_first_second_exits_130_quietly(tmp_path):
    import signal
    import time

    process = subprocess.Popen(
        [sys.executable, "-m", "fastsdm", *TINY["capacity"], "--out", str(tmp_path / "o")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(), cwd=REPO,
        # a shell may start background jobs with SIGINT ignored; a terminal would not
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    time.sleep(0.3)  # past the interpreter's start, within the imports (about 0.6 s)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=300)
    # Under `python -m` CPython 3.11 sometimes ends the process by SIGINT after main()
    # returned 130 (when Ctrl-C landed in the first writes; the console script does
    # not): a shell reports that as 130 too.
    assert process.returncode in (130, -signal.SIGINT), err
    assert "Traceback" not in err and "interrupted" in err


def test_ctrl_c_while_the_command_imports_its_own_modules_exits_130_quietly():
    # The console script imported fastsdm.cli (about 30 ms of argparse, json,
    # ...) before main() could catch anything: a Ctrl-C then printed a
    # traceback.  It now imports the light fastsdm._launch, and the rest inside
    # its try.  A Ctrl-C is made to land in that import, deterministically.
    code = """
import sys


class CtrlCWhileImportingTheCli:
    def find_spec(self, name, path=None, target=None):
        if name == "fastsdm.cli":
            raise KeyboardInterrupt
        return None


import fastsdm._launch

sys.meta_path.insert(0, CtrlCWhileImportingTheCli())
sys.exit(fastsdm._launch.main(["info"]))
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=_env(), timeout=300, cwd=REPO)
    assert result.returncode == 130, result.stderr
    assert result.stderr.strip() == "fastsdm: interrupted"
    # What the console script and `python -m fastsdm` import before that try:
    # the package and the launcher only, a few milliseconds.
    code = "import sys, fastsdm._launch; print(sorted(m for m in sys.modules if 'fastsdm' in m))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=_env(), timeout=300, cwd=REPO)
    assert result.stdout.strip() == "['fastsdm', 'fastsdm._launch', 'fastsdm._version']"
    assert "fastsdm._launch:main" in (REPO / "pyproject.toml").read_text()


def test_an_out_folder_that_cannot_be_written_is_refused_before_the_run(tmp_path, capsys,
                                                                         monkeypatch):
    # Found out before the run, not when the results are written (the run's work lost).
    real = Path.write_bytes

    def read_only(self, data):
        if self.name.startswith(".fastsdm-write-test"):
            raise PermissionError(1, "Operation not permitted")
        return real(self, data)

    monkeypatch.setattr(Path, "write_bytes", read_only)  # root ignores modes: simulate it
    monkeypatch.setattr(_common, "recall", lambda *a, **k: pytest.fail("the run started"))
    code, out, err = _run([*TINY["capacity"], "--out", str(tmp_path / "ro")], capsys)
    assert code == 2
    assert err.strip() == (f"fastsdm capacity: error: --out: cannot write into the output "
                           f"folder {tmp_path / 'ro'} (Operation not permitted); choose another "
                           "folder")


def test_ctrl_c_while_the_results_are_written_leaves_a_folder_that_says_so(tmp_path, capsys,
                                                                           monkeypatch):
    from fastsdm.experiments import _io

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(_io, "summary_markdown", interrupted)
    code, out, err = _run([*TINY["capacity"], "--out", str(tmp_path), "--no-plot"], capsys)
    assert code == 130
    assert (f"fastsdm capacity: interrupted while writing the results: {tmp_path} holds "
            "this run's results.json and its config.json, which says the output is not "
            "complete") in err
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["complete"] is False
    assert config["files"] == ["results.json", "summary.md", "config.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json", "results.json"]
    # --force knows what to clear, and a whole run says it is complete.
    monkeypatch.undo()
    code, out, err = _run([*TINY["capacity"], "--out", str(tmp_path), "--no-plot", "--force"],
                          capsys)
    assert code == 0, err
    assert json.loads((tmp_path / "config.json").read_text())["complete"] is True


def _send_ctrl_c():
    import signal
    import time

    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(1)  # the handler runs here, and raises


def _swallowed_ctrl_c():
    # What a __del__ or a C callback does with a KeyboardInterrupt: drop it.
    try:
        _send_ctrl_c()
    except KeyboardInterrupt:
        pass


def _capacity_run(step, out, capsys, monkeypatch):
    # The tiny capacity run, with step() called as its summary.md is written.
    from fastsdm.experiments import _io

    real = _io.summary_markdown

    def summary(*args, **kwargs):
        step()
        return real(*args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(_io, "summary_markdown", summary)
        return _run([*TINY["capacity"], "--out", str(out), "--no-plot"], capsys)


def test_a_ctrl_c_that_a_library_swallows_still_ends_in_130(tmp_path, capsys, monkeypatch):
    code, out, err = _capacity_run(_swallowed_ctrl_c, tmp_path / "a", capsys, monkeypatch)
    assert code == 130
    assert "fastsdm: interrupted (Ctrl-C came as the command was finishing; the files it " \
           "reported are complete)" in err
    assert json.loads((tmp_path / "a" / "config.json").read_text())["complete"] is True

    def swallowed_then_failing():
        # llvmlite drops the KeyboardInterrupt in a compile callback, then numba
        # fails with "no compiled object yet".
        _swallowed_ctrl_c()
        raise RuntimeError("no compiled object yet")

    code, out, err = _capacity_run(swallowed_then_failing, tmp_path / "b", capsys, monkeypatch)
    assert code == 130 and err.strip().endswith("fastsdm: interrupted")

    class Finalised:
        def __del__(self):  # a Ctrl-C here is reported as "Exception ignored in"
            _send_ctrl_c()

    code, out, err = _capacity_run(Finalised, tmp_path / "d", capsys, monkeypatch)
    assert code == 130 and "Exception ignored" not in err and "Traceback" not in err
    assert "fastsdm: interrupted (Ctrl-C came as the command was finishing" in err


def test_errors_after_or_without_a_ctrl_c_are_raised(tmp_path, capsys, monkeypatch):
    from fastsdm.experiments import _io

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    def broken(*args, **kwargs):
        raise RuntimeError("a bug in the writer")

    # A Ctrl-C the experiment handled (it kept its rows) does not hide a real
    # error after it, nor turn a full disk into an interruption.
    with monkeypatch.context() as patch:
        patch.setattr(_common, "recall", lambda *a, **k: _send_ctrl_c())
        patch.setattr(_io, "to_json", broken)
        with pytest.raises(RuntimeError, match="a bug in the writer"):
            main([*TINY["capacity"], "--out", str(tmp_path / "e"), "--no-plot"])
        patch.setattr(_io, "to_json", disk_full)
        code, _, err = _run([*TINY["capacity"], "--out", str(tmp_path / "f"), "--no-plot"],
                            capsys)
        assert code == 1 and "No space left on device (the disk or your quota is full)" in err
        assert "interrupted" not in err.replace("not complete", "")

    # Without a Ctrl-C the error the swallowed case above turns into 130 is raised.
    def a_real_bug():
        raise RuntimeError("a real bug")

    with pytest.raises(RuntimeError, match="a real bug"):
        _capacity_run(a_real_bug, tmp_path / "c", capsys, monkeypatch)
