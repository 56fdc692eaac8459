"""Defects found by an adversarial review of this session's features, each fixed.

Aliased designs, a 'given' design without one, edits of fastsdm.json that stayed
valid, read_sums advancing the tie stream, the Hopfield networks' caches, and the
format-version messages.
"""

import json
import pickle

import numpy as np
import pytest

import fastsdm
from fastsdm.hopfield import Hopfield, ModernHopfield


def _bipolar(words, n):
    bits = np.unpackbits(np.ascontiguousarray(words).view(np.uint8), axis=-1)[..., :n]
    return 2 * bits.astype(np.int64) - 1


# -- hyperplane SDM -------------------------------------------------------------------


def test_explicit_design_masks_are_not_aliased_to_the_callers_array(tmp_path):
    # sdm_design copies values (V & M) but keeps the caller's masks array: editing it
    # afterwards changes mem.design.masks behind the memory's back (its cached keys
    # still answer with the old masks) and save() then writes a memory load() refuses.
    n = 65
    masks = fastsdm.pack_bits(np.eye(4, n, dtype=np.uint8))
    values = masks.copy()
    mem = fastsdm.SDM(n, design=(masks, values), ties="zero")
    masks[0] = 0  # the caller reuses its buffer
    assert not np.shares_memory(mem.design.masks, masks)
    assert int(np.bitwise_count(mem.design.masks).sum(axis=1)[0]) == mem.selected
    mem.save(tmp_path / "m")
    fastsdm.SDM.load(tmp_path / "m")


def test_required_given_without_a_design_is_refused():
    # 'given' means an explicit design= (the error message for a bad required says so),
    # but without a design it silently draws a random design labelled 'given'.
    with pytest.raises(ValueError, match="given"):
        fastsdm.SDM(65, 4, selected=3, required="given", seed=0)


# -- persistence: fastsdm.json has no integrity check of its own -------------------------


@pytest.mark.parametrize("field, old, new", [("n_bits", 65, 75), ("seed", 3, 33)])
@pytest.mark.parametrize("rule", [dict(selected=4), dict(radius=20)])
def test_one_byte_edit_of_fastsdm_json_is_refused(tmp_path, field, old, new, rule):
    # A one-digit edit of n_bits (within the same word count) or of the seed loads
    # silently: the n_bits edit turns an autoassociative memory into a
    # heteroassociative one (n_data_bits stays 65), the seed edit changes the tie
    # stream and the seed that claims to have generated the design.
    mem = fastsdm.SDM(65, 300, seed=3, counter_dtype="int8", **rule)
    path = mem.save(tmp_path / "m")
    meta = path / "fastsdm.json"
    text = meta.read_text()
    before = f'"{field}": {old},'
    assert text.count(before) == 1
    meta.write_text(text.replace(before, f'"{field}": {new},'))
    with pytest.raises(ValueError, match="fastsdm.json"):
        fastsdm.SDM.load(path)


# -- SDM.read_sums draws tie bits ------------------------------------------------------


@pytest.mark.parametrize("z", [None, 2])
def test_read_sums_does_not_advance_the_tie_stream(z):
    # read_sums returns sums, not bits, yet it draws tie bits from the memory's
    # generator (memory.py read_sums -> self._tie_words), so inspecting the sums
    # changes what a later read returns.
    x = fastsdm.random_addresses(3, 64, seed=1)
    a = fastsdm.SDM(64, 100, radius=30, seed=0)
    b = fastsdm.SDM(64, 100, radius=30, seed=0)
    b.read_sums(x, z=z)
    assert (a.read(x) == b.read(x)).all()


# -- Hopfield caches -------------------------------------------------------------------


def _hopfield(n=100):
    patterns = fastsdm.random_addresses(8, n, seed=0)
    net = Hopfield(n, update="synchronous", seed=0)
    net.write(patterns)
    cues = fastsdm.flip_bits(patterns, n, 15, seed=1)
    return net, cues


def test_hopfield_weights_cannot_go_stale_behind_the_float_cache():
    # Reads keep float copies of the weights; the public weights are therefore a
    # read-only view (edited in place they would leave the copies stale), and the
    # fields always follow them.
    net, cues = _hopfield()
    net.fields(cues)
    with pytest.raises(ValueError, match="read-only"):
        net.weights[0, 1] += 1000
    with pytest.raises(AttributeError):
        net.weights = np.zeros((100, 100), np.int32)
    net.write(cues[:1])  # the one way to change them: the cache follows
    assert (net.fields(cues) == _bipolar(cues, 100) @ net.weights.astype(np.int64)).all()


def test_hopfield_pickle_does_not_carry_the_float_weights_cache():
    # ModernHopfield drops its cache when pickled; Hopfield pickles its float copies
    # of the weights too: a network pickled after a read is twice the size.
    net, cues = _hopfield(512)
    before = len(pickle.dumps(net))
    net.read(fastsdm.random_addresses(2, 512, seed=1))
    assert len(pickle.dumps(net)) < 1.1 * before


def test_modern_hopfield_patterns_cannot_go_stale_behind_the_cache():
    n = 100
    patterns = fastsdm.random_addresses(8, n, seed=0)
    cues = fastsdm.flip_bits(patterns, n, 15, seed=1)
    net = ModernHopfield(n, 0.3)
    net.write(patterns)
    net.read(cues)
    with pytest.raises(ValueError, match="read-only"):
        net.patterns[0] = cues[0]
    net.write(cues[:1])  # the cache follows a write
    fresh = ModernHopfield(n, 0.3)
    fresh.write(net.patterns)
    assert (net.read(cues) == fresh.read(cues)).all()


# -- format_version messages ------------------------------------------------------------


def test_missing_format_version_key_is_reported_as_corrupt_not_as_too_new(tmp_path):
    # A one-byte edit of the key "format_version" gives "has format version None; this
    # fastsdm reads version 1: upgrade fastsdm": wrong advice, and fastsdm.json is not named.
    path = fastsdm.SDM(64, 10, radius=20, seed=0).save(tmp_path / "m")
    meta = path / "fastsdm.json"
    data = json.loads(meta.read_text())
    data["gormat_version"] = data.pop("format_version")
    meta.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="fastsdm.json") as info:
        fastsdm.SDM.load(path)
    assert "upgrade" not in str(info.value)


def test_format_version_zero_does_not_advise_an_upgrade(tmp_path):
    path = fastsdm.SDM(64, 10, radius=20, seed=0).save(tmp_path / "m")
    meta = path / "fastsdm.json"
    meta.write_text(meta.read_text().replace('"format_version": 1', '"format_version": 0'))
    with pytest.raises(ValueError, match="fastsdm.json") as info:
        fastsdm.SDM.load(path)
    assert "upgrade fastsdm" not in str(info.value)



def test_the_description_checksum_catches_any_edit_and_older_files_load(tmp_path):
    mem = fastsdm.SDM(64, 50, radius=20, seed=0, kappa=5, counter_dtype="int8")
    path = mem.save(tmp_path / "m")
    meta = path / "fastsdm.json"
    data = json.loads(meta.read_text())
    assert "description_crc32" in data
    for key, value in (("kappa", 6), ("ties", "zero"), ("n_locations", 50)):
        edited = {**data, key: value}
        meta.write_text(json.dumps(edited, indent=1))
        if value == data[key]:
            fastsdm.SDM.load(path)  # unchanged content: loads
        else:
            with pytest.raises(ValueError, match="fastsdm.json fails its checksum"):
                fastsdm.SDM.load(path)
    # A file written before the checksum existed (no field) loads as before.
    del data["description_crc32"]
    meta.write_text(json.dumps(data, indent=1))
    back = fastsdm.SDM.load(path)
    assert back.kappa == 5 and (back.counters == mem.counters).all()
