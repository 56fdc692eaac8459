"""The choice of kernel code at import, and what a first compile tells the user.

The dispatch is read once, at import, from ``FASTSDM_SIMD`` and the CPU
features numba compiles for: the tests that change them start a fresh Python
process.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from fastsdm import _jit

REPO = Path(__file__).resolve().parents[1]
HOST_HAS_VPOPCNTDQ = _jit.choose_simd("auto") == "avx512"


def _python(code, tmp_path, **env):
    full = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]),
        "NUMBA_CACHE_DIR": str(tmp_path / "cache")}
    full.pop("FASTSDM_SIMD", None)
    full.pop("FASTSDM_QUIET_COMPILE", None)
    full.update(env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=full, timeout=600, cwd=tmp_path)


@pytest.mark.nojit
def test_choose_simd_by_features_and_setting():
    both = "+64bit,+avx512f,+avx512bw,+avx512vpopcntdq,+popcnt"
    assert _jit.choose_simd(None, both) == "avx512"
    assert _jit.choose_simd("auto", both) == "avx512"
    assert _jit.choose_simd(" AUTO ", both) == "avx512"
    assert _jit.choose_simd(None, "+avx512f,+avx512bw,-avx512vpopcntdq") == "generic"
    assert _jit.choose_simd(None, "+avx512f,+avx512vpopcntdq") == "generic"  # no BW
    assert _jit.choose_simd(None, "+avx2,+popcnt") == "generic"
    assert _jit.choose_simd(None, "") == "generic"
    assert _jit.choose_simd("generic", both) == "generic"
    assert _jit.choose_simd("avx512", "") == "avx512"  # forced: correct anywhere
    with pytest.raises(ValueError, match="FASTSDM_SIMD must be one of auto, avx512, generic, "
                                         "got 'avx2'"):
        _jit.choose_simd("avx2", both)


_CHECK = """
import numpy as np, fastsdm
from fastsdm import _jit
A = fastsdm.random_addresses(300, 200, seed=0)
d = fastsdm.hamming_distances(A[:9], A)
ok = bool((d == np.bitwise_count(A[:9, None] ^ A[None]).sum(-1)).all())
print(_jit.SIMD, ok)
# What `fastsdm info` and a run's config.json report: the variant, and what chose it.
from fastsdm import _machine
print(_machine.kernel_variant()["variant"], _machine.environment()["kernels"])
print(_machine.kernel_variant()["chosen_by"])
# Recorded at import: a later change of the environment does not rewrite it.
import os
os.environ["FASTSDM_SIMD"] = "avx512" if _jit.SIMD == "generic" else "generic"
print(_machine.kernel_variant()["chosen_by"])
"""


@pytest.mark.parametrize("setting,expected", [("generic", "generic"), ("avx512", "avx512")])
def test_fastsdm_simd_forces_a_variant(setting, expected, tmp_path):
    result = _python(_CHECK, tmp_path, FASTSDM_SIMD=setting, FASTSDM_QUIET_COMPILE="1")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:4] == [f"{expected} True", f"{expected} {expected}",
                                             f"FASTSDM_SIMD={setting}", f"FASTSDM_SIMD={setting}"]


def test_generic_cpu_gets_the_portable_kernels(tmp_path):
    # NUMBA_CPU_NAME=generic compiles for a baseline x86-64 (no AVX-512): the
    # explicit kernels must not be chosen, and the portable ones must work.
    result = _python(_CHECK, tmp_path, NUMBA_CPU_NAME="generic", FASTSDM_QUIET_COMPILE="1")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:4] == ["generic True", "generic generic",
                                             "NUMBA_CPU_NAME/NUMBA_CPU_FEATURES",
                                             "NUMBA_CPU_NAME/NUMBA_CPU_FEATURES"]


def test_a_bad_setting_is_refused_when_the_kernels_load(tmp_path):
    # ``import fastsdm`` is lazy; the first call that needs a kernel loads _jit.
    result = _python("import fastsdm.search", tmp_path,
                     FASTSDM_SIMD="sse")
    assert result.returncode != 0
    assert "FASTSDM_SIMD must be one of auto, avx512, generic, got 'sse'" in result.stderr


_ASM = """
import re, numpy as np, fastsdm
from fastsdm import _jit, search
from fastsdm._kernels import hamming as h
A = fastsdm.random_addresses(256, 1024, seed=0)
counts = {}
for simd in _jit.SIMD_VARIANTS:
    Q = search.pad_queries(A[:8], simd)
    mask = np.zeros((8, 4), np.uint64)
    kernel = h.scan_tiled(h.MODE_RADIUS, simd)
    kernel(np.array([0, 1]), 0, Q, 8, A, search.tile_size(16, simd), 8, 1, 500,
           np.zeros((1, 1), np.int32), mask, np.zeros((1, 1, 1), np.int64), 1)
    asm = "".join(kernel.inspect_asm().values())
    counts[simd] = {w: len(re.findall(r"vpopcntq\\s+%" + w, asm)) for w in ("zmm", "ymm")}
rows = h.scan_rows("avx512")
rows(np.array([0, 1]), 0, A[:1], A, 1, h.MODE_RADIUS, 500, np.zeros((1, 1), np.int32),
     np.zeros((1, 4), np.uint64), np.zeros((1, 1, 1), np.int64), 1)
asm = "".join(rows.inspect_asm().values())
counts["rows"] = {w: len(re.findall(r"vpopcntq\\s+%" + w, asm)) for w in ("zmm", "ymm")}
print(counts)
"""


@pytest.mark.slow
@pytest.mark.skipif(not HOST_HAS_VPOPCNTDQ, reason="needs a CPU with AVX-512 VPOPCNTDQ")
def test_explicit_kernels_use_zmm_whatever_the_tuning_prefers(tmp_path):
    # Intel server cores tune LLVM with prefer-256-bit: auto-vectorised loops
    # then use ymm (half of VPOPCNTDQ's width).  Emulate that tuning here:
    # the explicit kernel keeps zmm, the portable one follows the tuning.
    from llvmlite import binding

    features = binding.get_host_cpu_features().flatten() + ",+prefer-256-bit"
    result = _python(_ASM, tmp_path, NUMBA_CPU_FEATURES=features, FASTSDM_NUMBA_CACHE="0",
                     FASTSDM_QUIET_COMPILE="1")
    assert result.returncode == 0, result.stderr
    counts = eval(result.stdout.strip().splitlines()[-1])  # a dict literal we printed
    assert counts["avx512"]["zmm"] >= 16 and counts["avx512"]["ymm"] == 0, counts
    assert counts["generic"]["ymm"] > 0 and counts["generic"]["zmm"] == 0, counts
    # The explicit row kernel (fewer than 8 queries): eight rows, two vectors each.
    assert counts["rows"]["zmm"] >= 16 and counts["rows"]["ymm"] == 0, counts


_SESSION = """
import fastsdm
from fastsdm import _jit
A = fastsdm.random_addresses(100, 64, seed=0)
before = _jit.compile_stats()
fastsdm.hamming_distances(A[:1], A)
after = _jit.compile_stats()
fastsdm.hamming_distances(A[:2], A)  # same kernel: no compile
print(after.count - before.count, _jit.compile_stats().count - after.count,
      after.seconds >= before.seconds)
"""


def test_a_compile_is_announced_once_and_counted(tmp_path):
    cold = _python(_SESSION, tmp_path)
    assert cold.returncode == 0, cold.stderr
    notes = [line for line in cold.stderr.splitlines() if line.startswith("fastsdm: compiling")]
    assert len(notes) == 1, cold.stderr
    assert re.search(r"compiling kernel scan_rows_\w+ for this CPU: .*second.*cached \(.*"
                     r"FASTSDM_QUIET_COMPILE=1", notes[0])
    assert cold.stdout.split() == ["1", "0", "True"]
    warm = _python(_SESSION, tmp_path)  # the same cache directory: nothing to compile
    assert warm.returncode == 0 and "compiling" not in warm.stderr, warm.stderr
    assert warm.stdout.split() == ["0", "0", "True"]
    (tmp_path / "other").mkdir()
    quiet = _python(_SESSION, tmp_path / "other", FASTSDM_QUIET_COMPILE="1")
    assert quiet.returncode == 0 and "compiling" not in quiet.stderr, quiet.stderr
    assert quiet.stdout.split() == ["1", "0", "True"]


_ERROR_FORMATTING = """
from numba.core import event
import fastsdm

names = []


class Listener(event.Listener):
    def on_start(self, ev):
        f = ev.data["dispatcher"].py_func
        names.append(f"{f.__module__}.{f.__qualname__}")

    def on_end(self, ev):
        pass


event.register("numba:compile", Listener())
keys = fastsdm.random_addresses(16, 256, seed=1)
for mem in (fastsdm.SDM(256, 4000, radius=100, seed=0),
            fastsdm.SDM(256, 4000, activation="hyperplane", selected=6, seed=0)):
    mem.write(keys)  # fused write, or the design's index and keys
    mem.read(keys)
print([n for n in names if "shape_context" in n or "unicode" in n])
"""


@pytest.mark.slow
def test_kernels_compile_no_error_message_formatting(tmp_path):
    # An array assigned to a slice inside a kernel (a[i] = b[j] on 2-D arrays,
    # a[:] = b) makes numba compile its shape-mismatch message: string
    # formatting that cost ~1.5 s of a user's first session, once per process.
    # The fused read had one (fixed); a loop of elements compiles none.
    result = _python(_ERROR_FORMATTING, tmp_path, FASTSDM_QUIET_COMPILE="1")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]", result.stdout


def test_info_reports_the_cache_it_found(tmp_path):
    cmd = "import sys; from fastsdm.cli import main; sys.exit(main(['info', '--json']))"
    cold = _python(cmd, tmp_path, FASTSDM_QUIET_COMPILE="1")
    assert cold.returncode == 0, cold.stderr
    cache = json.loads(cold.stdout)["numba"]["cache"]
    assert cache["compiled_now"] >= 1 and cache["state"].startswith("cold"), cache
    assert cache["index_files"] >= 1  # written by this very command
    warm = _python(cmd, tmp_path, FASTSDM_QUIET_COMPILE="1")
    cache = json.loads(warm.stdout)["numba"]["cache"]
    assert cache["compiled_now"] == 0 and cache["loaded_now"] >= 1, cache
    assert cache["state"].startswith("warm"), cache
