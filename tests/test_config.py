"""Config files are checked at load time: unknown keys, wrong types and out-of-range values are
reported as '<file>: <key>: <why>' instead of failing later in the middle of a batch."""

from __future__ import annotations

import numpy as np
import pytest

from fingerprint import Fingerprint
from index import Catalog, IndexParams, IndexStore, NewReference
from service import ConfigError, default_toml, load_config

BAD = [
    ('[policy]\nblock_min_seconds = "x"\n', "policy.block_min_seconds", "must be a number"),
    ("[fingerprint]\nquery_fps = 0\n", "fingerprint.query_fps", "between 0.5 and 60"),
    ("[fingerprint]\nreference_fps = -8.0\n", "fingerprint.reference_fps", "between 0.5 and 60"),
    ('[index]\nkind = "hnsw"\n', "index.kind", '"flat" or "ivf"'),
    ("[index]\nnlist = 0\n", "index.nlist", "between 1 and 1,048,576"),
    ("[index]\nnlist = 16.5\n", "index.nlist", "whole number"),
    ("[policy]\nblock_upload_share = 1.5\n", "policy.block_upload_share", "between 0 and 1"),
    ("[policy.fair_use]\nenabled = 1\n", "policy.fair_use.enabled", "true or false"),
    ("[fingerprint.video]\nhash_size = 6\n", "fingerprint.video.hash_size", "multiple of 4"),
    ("[fingerprint.video]\ncrop_scales = [0.9, \"x\"]\n", "fingerprint.video.crop_scales[1]", "must be a number"),
    ("[fingerprint.audio]\nfmax = 20.0\n", "fingerprint.audio.fmax", "above fmin"),
    ("[match.video]\nradius = 300\n", "match.video.radius", "at most"),
    ('[workflow]\nreview_expiry_outcome = "later"\n', "workflow.review_expiry_outcome", "allow, block"),
    ('[[policy.rules]]\naction = "block"\nmin_seconds = "5"\n', "policy.rules[0].min_seconds", "must be a number"),
    ('[[policy.rules]]\naction = "blok"\n', "policy.rules[0].action", "unknown action"),
    ("[policy]\nblock_upload_shar = 0.4\n", "policy.block_upload_shar", "unknown configuration key"),
    ("policy = 3\n", "policy", "must be a table"),
    ("[fingerprint.audio]\nquery_speed_range = [0.8]\n", "fingerprint.audio.query_speed_range", "[lowest, highest]"),
    ("[fingerprint.audio]\nquery_tempo_range = [1.2, 0.9]\n", "fingerprint.audio.query_tempo_range", "[lowest, highest]"),
    ("[fingerprint.audio]\nquery_speed_step = 0.001\n", "fingerprint.audio.query_speed_step", "between 0.05 and 12"),
    ("[fingerprint.audio]\nquery_altered_stride = 3\n", "fingerprint.audio.query_altered_stride", "divide word_stride"),
    ("[fingerprint.audio]\nquery_speed_range = [0.5, 2.0]\nquery_speed_step = 0.05\n", "fingerprint.audio",
     "more than 160 variants"),
    ("[match.audio]\ngap_edge_seconds = -1\n", "match.audio.gap_edge_seconds", "between 0 and 60"),
    ("[match]\nwindow_seconds = 10\n", "match.window_seconds", "between 60 and 86 400"),
    ("[match]\nwindow_seconds = inf\n", "match.window_seconds", "finite"),
    ("[match]\nwindow_overlap_seconds = -5\n", "match.window_overlap_seconds", "between 0 and 3,600"),
    ("[match]\nwindow_seconds = 120\nwindow_overlap_seconds = 90\n", "match.window_overlap_seconds",
     "at most half of window_seconds"),
]


@pytest.mark.parametrize("text,key,why", BAD, ids=[b[1] for b in BAD])
def test_bad_values_name_file_key_and_reason(tmp_path, text, key, why):
    path = tmp_path / "config.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith(f"{path}: {key}: "), message
    assert why in message


def test_whole_numbers_are_accepted_for_decimals_and_do_not_change_the_version(tmp_path):
    a, b = tmp_path / "a.toml", tmp_path / "b.toml"
    a.write_text("[fingerprint]\nquery_fps = 5\n[policy]\nblock_min_seconds = 6\n")
    b.write_text("[fingerprint]\nquery_fps = 5.0\n[policy]\nblock_min_seconds = 6.0\n")
    ca, cb = load_config(a), load_config(b)
    assert ca.fingerprint.query_fps == 5.0 and isinstance(ca.fingerprint.query_fps, float)
    assert ca.policy.thresholds.block_min_seconds == 6.0
    assert ca.version == cb.version


def test_unreadable_and_invalid_toml(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("x = [\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)


def _ref(path: str, seed: int, n: int) -> NewReference:
    rng = np.random.default_rng(seed)
    t = np.arange(n) * 0.125
    fps = tuple(Fingerprint(s, rng.integers(0, 256, (n, 32), dtype=np.uint8), t, t + 0.125)
                for s in ("video", "audio"))
    return NewReference(path, f"sha{seed}", f"md5{seed}", 10, 5.0, True, True, fps)


def test_changing_ivf_nlist_rebuilds_the_index(tmp_path):
    catalog = Catalog(tmp_path / "catalog.sqlite")
    catalog.add_references("w1", "one", "o", [_ref("a", 1, 400)])
    widths = {"video": 32, "audio": 32}
    params = IndexParams(kind="ivf", nlist=8, nprobe=8, ivf_min_train_per_list=10)
    assert IndexStore(tmp_path / "index", params, widths).load(catalog) is True  # first build
    same = IndexStore(tmp_path / "index", params, widths)
    assert same.load(catalog) is False and same.signals["video"].index.nlist == 8
    changed = IndexStore(tmp_path / "index", IndexParams(kind="ivf", nlist=16, nprobe=8,
                                                         ivf_min_train_per_list=10), widths)
    assert changed.load(catalog) is True and changed.signals["video"].index.nlist == 16
    # nprobe is a search-time setting: no rebuild, the loaded index takes the new value
    probe = IndexStore(tmp_path / "index", IndexParams(kind="ivf", nlist=16, nprobe=4,
                                                       ivf_min_train_per_list=10), widths)
    assert probe.load(catalog) is False and probe.signals["video"].index.nprobe == 4


def test_every_numeric_setting_has_a_range_check():
    """A number nobody checks reaches the pipeline mid-batch (a speed of 0 divided by zero while screening)."""
    from service.config import _CHECKS

    unchecked = {key for key, _ in _numeric_keys()} - set(_CHECKS)
    assert not unchecked


def _numeric_keys():
    """(dotted key, value) of every number and numeric list in the defaults."""
    import tomllib

    def walk(table, prefix=""):
        for key, value in table.items():
            if isinstance(value, dict):
                yield from walk(value, f"{prefix}{key}.")
            elif not isinstance(value, bool) and (isinstance(value, (int, float)) or (
                    isinstance(value, list) and value and all(isinstance(x, (int, float)) for x in value))):
                yield prefix + key, value

    return list(walk(tomllib.loads(default_toml())))


def _toml_setting(key: str, literal: str) -> str:
    table, _, name = key.rpartition(".")
    return f"[{table}]\n{name} = {literal}\n" if table else f"{name} = {literal}\n"


@pytest.mark.parametrize("literal", ["inf", "-inf", "nan", "1e300", "-1e300", "4611686018427387904"])
def test_every_numeric_key_refuses_values_without_bounds(tmp_path, literal):
    """inf, nan and absurd magnitudes are refused for every number, naming the key: query_fps = inf divided
    by zero, 1e9 silently disabled video matching, NaN compares false with every range."""
    path = tmp_path / "config.toml"
    for key, default in _numeric_keys():
        value = f"[{literal}]" if isinstance(default, list) else literal
        path.write_text(_toml_setting(key, value))
        with pytest.raises(ConfigError) as info:
            load_config(path)
        shown = f"{key}[0]" if isinstance(default, list) else key
        assert str(info.value).startswith(f"{path}: {shown}: "), (key, literal, str(info.value))


BOUNDED_WORK = [
    # the reproduction: a speed grid of a billion points grew the process to 24 GB
    ("[match.video]\nmin_speed = 0.0001\nmax_speed = 1000\nspeed_step = 0.000001\n", "match.video.min_speed",
     "between 0.1 and 10"),
    ("[match.video]\nmin_speed = 0.5\nmax_speed = 2.0\nspeed_step = 0.0001\n", "match.video.speed_step",
     "grid of 15,001 speeds"),
    ("[match.audio]\noffset_bin_seconds = 0.01\n", "match.audio.offset_bin_seconds", "each hit would vote in"),
    ("[fingerprint]\nquery_fps = 1e9\n", "fingerprint.query_fps", "between 0.5 and 60"),
    ("[fingerprint.audio]\nhop_length = 1\n", "fingerprint.audio.hop_length", "values per second"),
    ("[fingerprint.audio]\nquery_semitones = [" + ", ".join(str(k) for k in range(-10, 11)) + "]\n"
     "query_pitch_tempos = [" + ", ".join(f"{0.6 + k * 0.05:.2f}" for k in range(20)) + "]\n",
     "fingerprint.audio", "more than 160 variants"),
    ("[fingerprint.video]\ncrop_scales = [" + ", ".join(["0.9"] * 40) + "]\n", "fingerprint.video.crop_scales",
     "at most 32 values"),
    ("[fingerprint.landmark]\nquery_peaks_per_second = 1000\nquery_fan_out = 64\n",
     "fingerprint.landmark.query_fan_out", "landmarks per second"),
    ("[index]\nnlist = 16\nnprobe = 64\n", "index.nprobe", "at most nlist"),
    ("[workflow]\nreview_expiry_hours = 1e9\n", "workflow.review_expiry_hours", "hours"),
    ("[service]\nlock_timeout_seconds = -1\n", "service.lock_timeout_seconds", "between 0 and 86,400"),
    ("[[policy.rules]]\naction = \"block\"\nmin_seconds = nan\n", "policy.rules[0].min_seconds", "finite"),
    ("[[policy.rules]]\naction = \"block\"\nmin_upload_share = 2\n", "policy.rules[0].min_upload_share",
     "from 0 to 1"),
    ("[[policy.rules]]\nband = \"partial\"\n", "policy.rules[0].action", "is required"),
]


@pytest.mark.parametrize("text,key,why", BOUNDED_WORK, ids=[b[1] for b in BOUNDED_WORK])
def test_settings_that_imply_unbounded_work_are_refused(tmp_path, text, key, why):
    path = tmp_path / "config.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value).startswith(f"{path}: {key}: "), str(info.value)
    assert why in str(info.value)


def test_any_table_grid_is_bounded_whatever_its_name():
    """A min_<x> / max_<x> / <x>_step triple added to any table later is bounded without a check of its own."""
    from service.config import MAX_GRID_POINTS, _Bad, _check_grids

    _check_grids({"match": {"video": {"min_tilt": -20.0, "max_tilt": 20.0, "tilt_step": 1.0}}})
    with pytest.raises(_Bad) as info:
        _check_grids({"match": {"video": {"min_tilt": -20.0, "max_tilt": 20.0, "tilt_step": 40.0 / MAX_GRID_POINTS}}})
    assert info.value.key == "match.video.tilt_step" and f"{MAX_GRID_POINTS + 1:,} tilts" in info.value.why


def test_a_config_path_that_is_no_file(tmp_path):
    folder = tmp_path / "config.toml"
    folder.mkdir()
    with pytest.raises(ConfigError, match="it is a folder"):
        load_config(folder)
    with pytest.raises(ConfigError, match="not a regular file"):
        load_config("/dev/zero")  # would be read for ever
    deep = tmp_path / "deep.toml"
    deep.write_text("x = " + "[" * 100_000 + "]" * 100_000 + "\n")
    with pytest.raises(ConfigError, match="nested too deeply|not valid TOML"):
        load_config(deep)


def test_rules_from_any_source_are_checked_the_same_way():
    from policy import Rule, RuleError

    for bad, field in (({"action": "block", "min_seconds": float("nan")}, "min_seconds"),
                       ({"action": "block", "min_seconds": float("inf")}, "min_seconds"),
                       ({"action": "block", "min_seconds": "ten"}, "min_seconds"),
                       ({"action": "block", "min_reference_share": True}, "min_reference_share"),
                       ({"action": ["block"]}, "action"), ({"band": "partial"}, "action")):
        with pytest.raises(RuleError) as info:
            Rule.from_dict(bad)
        assert info.value.field == field, bad
    for bad in ([1], "block", None):
        with pytest.raises(RuleError, match="must be an object"):
            Rule.from_dict(bad)
    rule = Rule.from_dict({"action": "block", "min_seconds": 5})
    assert rule.min_seconds == 5.0 and isinstance(rule.min_seconds, float)


def test_upload_windows_default_and_can_be_turned_off(tmp_path):
    """[match] window_seconds / window_overlap_seconds: the TOML's defaults are the dataclass's,
    and 0 (the whole upload at once) is accepted whatever the overlap."""
    from service.config import MatchParams

    m = load_config().match
    assert (m.window_seconds, m.window_overlap_seconds) == (MatchParams.window_seconds,
                                                            MatchParams.window_overlap_seconds) == (300.0, 30.0)
    path = tmp_path / "config.toml"
    path.write_text("[match]\nwindow_seconds = 0\nwindow_overlap_seconds = 600\n")
    assert load_config(path).match.window_seconds == 0
