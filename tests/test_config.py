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
    ("[fingerprint]\nquery_fps = 0\n", "fingerprint.query_fps", "greater than 0"),
    ("[fingerprint]\nreference_fps = -8.0\n", "fingerprint.reference_fps", "greater than 0"),
    ('[index]\nkind = "hnsw"\n', "index.kind", '"flat" or "ivf"'),
    ("[index]\nnlist = 0\n", "index.nlist", "at least 1"),
    ("[index]\nnlist = 16.5\n", "index.nlist", "whole number"),
    ("[policy]\nblock_upload_share = 1.5\n", "policy.block_upload_share", "between 0 and 1"),
    ("[policy.fair_use]\nenabled = 1\n", "policy.fair_use.enabled", "true or false"),
    ("[fingerprint.video]\nhash_size = 6\n", "fingerprint.video.hash_size", "multiple of 4"),
    ("[fingerprint.video]\ncrop_scales = [0.9, \"x\"]\n", "fingerprint.video.crop_scales[1]", "must be a number"),
    ("[fingerprint.audio]\nfmax = 20.0\n", "fingerprint.audio.fmax", "above fmin"),
    ("[match.video]\nradius = 300\n", "match.video.radius", "at most"),
    ('[workflow]\nreview_expiry_outcome = "later"\n', "workflow.review_expiry_outcome", "allow, block"),
    ('[[policy.rules]]\naction = "block"\nmin_seconds = "5"\n', "policy.rules[0].min_seconds", "must be a number"),
    ('[[policy.rules]]\naction = "blok"\n', "policy.rules[0]", "unknown action"),
    ("[policy]\nblock_upload_shar = 0.4\n", "policy.block_upload_shar", "unknown configuration key"),
    ("policy = 3\n", "policy", "must be a table"),
    ("[fingerprint.audio]\nquery_speed_range = [0.8]\n", "fingerprint.audio.query_speed_range", "[lowest, highest]"),
    ("[fingerprint.audio]\nquery_tempo_range = [1.2, 0.9]\n", "fingerprint.audio.query_tempo_range", "[lowest, highest]"),
    ("[fingerprint.audio]\nquery_speed_step = 0.001\n", "fingerprint.audio.query_speed_step", "between 0.05 and 12"),
    ("[fingerprint.audio]\nquery_altered_stride = 3\n", "fingerprint.audio.query_altered_stride", "divide word_stride"),
    ("[fingerprint.audio]\nquery_speed_range = [0.5, 2.0]\nquery_speed_step = 0.05\n", "fingerprint.audio",
     "more than 160 variants"),
    ("[match.audio]\ngap_edge_seconds = -1\n", "match.audio.gap_edge_seconds", "must not be negative"),
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
    import tomllib

    from service.config import _CHECKS

    def numeric_leaves(table, prefix=""):
        for key, value in table.items():
            if isinstance(value, dict):
                yield from numeric_leaves(value, f"{prefix}{key}.")
            elif not isinstance(value, bool) and (isinstance(value, (int, float)) or (
                    isinstance(value, list) and value and all(isinstance(x, (int, float)) for x in value))):
                yield prefix + key

    unchecked = set(numeric_leaves(tomllib.loads(default_toml()))) - set(_CHECKS)
    assert not unchecked
