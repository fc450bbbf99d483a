"""Range checks of settings, shared by the config loader and each signal's settings declaration.

A check is ``(test, why)``: ``test(value)`` is true for a good value, ``why`` says what a good
value is ("must be between 0 and 1 (seconds)"). ``service.config`` reports a failed check as
``<file>: <key>: <why>, got <value>``. Pure: no config loading here, only the vocabulary.
"""

from __future__ import annotations


def number_words(v: float) -> str:
    """1048576 -> '1,048,576', 0.5 -> '0.5' (limits in messages)."""
    return f"{int(v):,}" if float(v).is_integer() else f"{v:g}"


def between(lo: float, hi: float, unit: str = "", lo_open: bool = False) -> tuple:
    """A range check: lo <= v <= hi (lo < v with ``lo_open``), with the message that says so."""
    test = (lambda v: lo < v <= hi) if lo_open else (lambda v: lo <= v <= hi)
    span = (f"greater than {number_words(lo)} and at most {number_words(hi)}" if lo_open
            else f"between {number_words(lo)} and {number_words(hi)}")
    return test, f"must be {span}" + (f" ({unit})" if unit else "")


def each(lo: float, hi: float, what: str, unit: str, non_empty: bool = False) -> tuple:
    """A check over a list: every entry in [lo, hi] (and at least one entry)."""
    return ((lambda v: (len(v) >= 1 or not non_empty) and all(lo <= x <= hi for x in v)),
            ("must list at least one " + what + ", each " if non_empty else f"each {what} must be ")
            + f"between {number_words(lo)} and {number_words(hi)}" + (f" {unit}" if unit else "")
            + ("" if non_empty else " (an empty list tries none)"))


SHARE = between(0, 1)
SECONDS = between(0, 3600, "seconds")  # spans of time inside one file
COUNT = between(1, 1e6)


MAX_SPECTRUM_CELLS_PER_SECOND = 200_000  # STFT frames per second x frequency bins (defaults 16 k and 11 k)


def spectrum_cells(r: dict, table: str) -> float:
    """STFT values computed per second of audio by ``[fingerprint.<table>]`` (its ``hop_length`` and
    ``n_fft`` at the decoder's ``[fingerprint.audio] sample_rate``): frames per second x frequency bins."""
    t = r["fingerprint"][table]
    return r["fingerprint"]["audio"]["sample_rate"] / t["hop_length"] * (t["n_fft"] // 2 + 1)


def spectrum_check(table: str) -> tuple:
    """The cross check (key, test, why) that bounds ``spectrum_cells`` of ``table``."""
    return (f"fingerprint.{table}.hop_length", lambda r: spectrum_cells(r, table) <= MAX_SPECTRUM_CELLS_PER_SECOND,
            f"is too small for n_fft and the sample rate: the spectrogram would hold more than "
            f"{MAX_SPECTRUM_CELLS_PER_SECOND:,} values per second (frames per second x (n_fft / 2 + 1))")
