"""fastsdm.gallery and ``fastsdm paper``: every exhibit, the published numbers, safe output."""

import json
import shutil
import sys

import pytest

from fastsdm import gallery, theory
from fastsdm.cli import main

pytest.importorskip("matplotlib")


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    """The reduced gallery, run once through the command line (a few seconds)."""
    out = tmp_path_factory.mktemp("paper") / "gallery"
    assert main(["paper", "--out", str(out), "--quick", "-q"]) == 0
    return out


def test_every_exhibit_has_a_figure_and_a_section(quick):
    summary = (quick / "summary.md").read_text(encoding="utf-8")
    assert "size **quick**" in summary
    for k, exhibit in enumerate(gallery.EXHIBITS, 1):
        png = quick / f"{exhibit.name}.png"
        assert png.stat().st_size > 10_000, exhibit.name  # a drawn figure, not a blank
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"## {k}. {exhibit.title}" in summary
        assert f"Reproduces: {exhibit.reproduces}." in summary
        assert f"]({exhibit.name}.png)" in summary
    for table in ("one_step.csv", "caps_monte_carlo.csv", "kanerva_table.csv"):
        assert (quick / table).read_text().count("\n") >= 8


def test_published_numbers_are_reproduced(quick):
    rows = json.loads((quick / "numbers.json").read_text())["rows"]
    by_source = {}
    for row in rows:
        if row["published"] is not None:
            by_source.setdefault(row["quantity"], row)
    reproduced = {q for q, r in by_source.items() if r["status"].startswith("reproduced")}
    expected = {"β, d = 5 (paper fit)", "β, d = 11 (paper fit)", "β, d = 15 (paper fit)",
                "d*_SNR (paper rounding)", "d*_Mem (paper rounding)",
                "d*_CD (paper model, smallest of the tie)", "mean learned β",
                "fraction in [β_CD, β_Mem]", "p*_SNR, n = 64, r = 2^64, m = 1024",
                *(f"cap-fitted β, n = 64, d = {d}" for d in (5, 9, 11)),
                *(f"1000·I({h})/|O(451)|, rounded"
                  for h in (0, 1, 10, 50, 100, 150, 200, 300, 400, 500))}
    assert expected <= reproduced, expected - reproduced
    values = {r["quantity"]: r["fastsdm"] for r in rows}
    assert values["β, d = 11 (paper fit)"] == theory.fit_beta(64, 11)
    assert values["cap-fitted β, n = 64, d = 11"] == theory.fit_cap_beta(64, 11)
    # The tie is reported, and the one-read models are compared with Kanerva's 209
    # honestly (they differ: a one-read model is not the iterated critical distance).
    tie = by_source["d*_CD (paper model, smallest of the tie)"]
    assert "tied radii 15, 16, 17" in tie["status"]
    canonical = by_source["canonical, one-read autoassociative model"]
    assert canonical["published"] == 209 and canonical["status"].startswith("differs by +19")


def test_theory_and_simulation_agree_in_the_quick_one_step(quick):
    rows = {r["quantity"]: r["fastsdm"]
            for r in json.loads((quick / "numbers.json").read_text())["rows"]}
    auto = rows["largest |model − simulation| after one read, autoassociative (bits)"]
    paper = rows["largest |model − simulation| after one read, paper model (bits)"]
    assert auto < 10 < paper
    lines = (quick / "one_step.csv").read_text().splitlines()
    assert lines[0].startswith("n,n_locations,radius,n_patterns,cue_distance")


TINY_CAPACITY = ["capacity", "--n-bits", "64", "--locations", "500", "--radius", "24",
                 "--cues", "5", "--patterns", "10", "--noise", "0", "--no-plot", "-q"]


def _tiny(ctx):
    """An exhibit's figure, rows and tables, made in no time."""
    fig, _ = gallery._figure(1, (2.0, 2.0))
    return fig, [gallery._row("weights", "a number", 1.0)], {"weights_data": [{"h": 0}]}


def _exhibits(monkeypatch, *makers):
    """The gallery cut to its first exhibits, drawn by ``makers``."""
    monkeypatch.setattr(gallery, "_EXHIBITS", tuple(
        (exhibit, make) for (exhibit, _), make in zip(gallery._EXHIBITS, makers, strict=False)))


def test_a_forced_run_clears_the_files_another_kind_of_run_listed(quick, tmp_path,
                                                                   monkeypatch):
    # The gallery lists what it wrote in numbers.json; an experiment forced
    # over its folder removes those (and only those), and the other way round.
    out = tmp_path / "folder"
    shutil.copytree(quick, out)
    listed = json.loads((out / "numbers.json").read_text())["files"]
    assert sorted(listed) == sorted(p.name for p in quick.iterdir())
    (out / "mine.txt").write_text("a user's own file")
    assert main([*TINY_CAPACITY, "--out", str(out), "--force"]) == 0
    config = json.loads((out / "config.json").read_text())
    assert sorted(p.name for p in out.iterdir()) == sorted([*config["files"], "mine.txt"])
    _exhibits(monkeypatch, _tiny)
    gallery.run(out, quick=True, force=True)
    numbers = json.loads((out / "numbers.json").read_text())
    assert sorted(numbers["files"]) == ["numbers.json", "summary.md", "weights.png",
                                        "weights_data.csv"]
    assert sorted(p.name for p in out.iterdir()) == sorted([*numbers["files"], "mine.txt"])


def test_a_forced_run_removes_nothing_a_fastsdm_run_did_not_list(tmp_path, capsys):
    # An application's own config.json with a "files" list is not a run's listing.
    out = tmp_path / "app"
    out.mkdir()
    (out / "config.json").write_text(json.dumps({"name": "my-app",
                                                 "files": ["index.html", "main.py"]}))
    for name in ("index.html", "main.py"):
        (out / name).write_text(name)
    assert main([*TINY_CAPACITY, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "from an earlier run" not in err and "others stay" in err
    assert main([*TINY_CAPACITY, "--out", str(out), "--force"]) == 0
    assert (out / "index.html").read_text() == "index.html" and (out / "main.py").is_file()
    # A fastsdm listing (here edited) removes only plain names of the kinds a run writes.
    config = json.loads((out / "config.json").read_text())
    (tmp_path / "outside.png").write_text("x")
    (out / "notes.txt").write_text("mine")
    config["files"] += ["main.py", "notes.txt", "../outside.png", str(tmp_path / "outside.png")]
    (out / "config.json").write_text(json.dumps(config))
    assert main([*TINY_CAPACITY, "--out", str(out), "--force"]) == 0
    assert {"index.html", "main.py", "notes.txt"} <= {p.name for p in out.iterdir()}
    assert (tmp_path / "outside.png").is_file()


def test_a_forced_run_that_fails_keeps_the_earlier_results(quick, tmp_path, monkeypatch):
    out = tmp_path / "folder"
    shutil.copytree(quick, out)
    before = sorted(p.name for p in out.iterdir())

    def broken(*args):
        raise MemoryError("the forced re-run fails while computing")

    with monkeypatch.context() as patch:
        _exhibits(patch, broken)
        with pytest.raises(MemoryError):
            gallery.run(out, quick=True, force=True)
    assert sorted(p.name for p in out.iterdir()) == before
    assert (out / "numbers.json").read_bytes() == (quick / "numbers.json").read_bytes()
    # a failure after an exhibit: what was written is listed with the earlier files
    # (a later forced run clears all of it)
    _exhibits(monkeypatch, _tiny, broken)
    with pytest.raises(MemoryError):
        gallery.run(out, quick=True, force=True)
    numbers = json.loads((out / "numbers.json").read_text())
    assert numbers["failed"].startswith("MemoryError") and numbers["exhibits_done"] == 1
    assert sorted(numbers["files"]) == sorted({*before, "weights.png", "weights_data.csv"})
    assert set(numbers["files"]) == {p.name for p in out.iterdir()}
    # and an experiment that fails before writing leaves the folder as it was
    monkeypatch.setattr("fastsdm.experiments._common.recall", broken)
    with pytest.raises(MemoryError):
        main([*TINY_CAPACITY, "--out", str(out), "--force"])
    assert set(numbers["files"]) == {p.name for p in out.iterdir()}


def test_whichever_write_of_a_forced_gallery_fails_every_file_stays_listed(tmp_path,
                                                                           monkeypatch):
    # A full disk at any of the gallery's writes of listings or summary: every file
    # in the folder is then listed by a run (its own or the earlier one's), so the
    # next forced run clears all of them; and the earlier results stay until the
    # gallery's own are written and listed.
    import errno

    from fastsdm.experiments import _io

    real = _io.write_text
    for fail_at in range(1, 9):              # 7 writes of text; the 8th run completes
        out = tmp_path / f"run{fail_at}"
        assert main([*TINY_CAPACITY, "--out", str(out)]) == 0
        def failing(path, text, calls=[], fail_at=fail_at):  # noqa: B006 (one list a run)
            calls.append(path)
            if len(calls) == fail_at:
                raise OSError(errno.ENOSPC, "No space left on device")
            return real(path, text)

        with monkeypatch.context() as patch:
            patch.setattr(_io, "write_text", failing)
            _exhibits(patch, _tiny, _tiny)
            if fail_at < 8:
                with pytest.raises(OSError, match="No space left"):
                    gallery.run(out, quick=True, force=True)
                # the earlier results stay until the gallery's own are all listed
                assert (out / "results.json").is_file() == (fail_at < 7)
            else:
                gallery.run(out, quick=True, force=True)
                assert not (out / "results.json").exists()
        held = {p.name for p in out.iterdir()}
        assert held <= set(_io.earlier_run_files(out)), (fail_at, held)
        assert main([*TINY_CAPACITY, "--out", str(out), "--force"]) == 0
        config = json.loads((out / "config.json").read_text())
        assert sorted(p.name for p in out.iterdir()) == sorted(config["files"]), fail_at


def test_an_existing_output_folder_is_refused(tmp_path, capsys):
    out = tmp_path / "earlier"
    out.mkdir()
    (out / "summary.md").write_text("an earlier run\n")
    assert main(["paper", "--out", str(out), "--quick"]) == 2
    err = capsys.readouterr().err
    assert "already holds files (summary.md)" in err and "--force" in err
    assert (out / "summary.md").read_text() == "an earlier run\n"  # untouched
    with pytest.raises(FileExistsError, match=r"pass force=True \(fastsdm paper --force\)"):
        gallery._output_folder(out, force=False)
    assert gallery._output_folder(out, force=True) == out
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotADirectoryError, match="exists and is not a folder"):
        gallery._output_folder(tmp_path / "file", force=True)


def test_default_output_folders_are_new(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    first = gallery._output_folder(None, force=False)
    (first / "summary.md").write_text("x")
    second = gallery._output_folder(None, force=False)
    assert first != second
    assert first.parent.resolve() == second.parent.resolve() == tmp_path / "fastsdm-results"
    assert first.name.endswith("-paper") and first.exists() and second.exists()


def test_without_matplotlib(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=r'pip install "fastsdm\[plot\]"'):
        gallery.run(tmp_path / "g", quick=True)
    assert not (tmp_path / "g").exists()
    assert main(["paper", "--out", str(tmp_path / "g"), "--quick"]) == 2
    assert "needs" not in (err := capsys.readouterr().err) and "matplotlib" in err


def test_bad_seed(tmp_path):
    with pytest.raises(ValueError, match=r"seed must be in \[0, inf\], got -1"):
        gallery.run(tmp_path / "g", quick=True, seed=-1)


def test_published_table_names_its_sources():
    assert gallery.PUBLISHED["beta_cd"].value == 10.1
    assert all(p.source for p in gallery.PUBLISHED.values())
    assert [e.name for e in gallery.EXHIBITS] == [
        "weights", "beta", "learned_betas", "snr_capacity", "critical_distance",
        "kanerva_table", "caps", "one_step"]
