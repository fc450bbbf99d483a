"""What a signal is: one object that says everything the layers above need to know about it.

A signal (video pHash, audio chroma, landmarks, scene cuts, the central window, or any later
one) is a subclass of :class:`Signal`, one instance of it in the :data:`REGISTRY`
(``fingerprint.signals``). Nothing else names a signal to decide what to do with it: the
streaming fingerprinter, the config loader, the index store, the engine's search, the policy
and the CLI loop over the registry and ask the signal. It declares

- ``name`` (the catalog's, the index files', the JSON ``signals``, the TOML sections
  ``[fingerprint.<name>]`` and ``[match.<name>]``), ``modality`` ("video" or "audio": which
  streams it reads, what a match by it watches) and ``stage`` (its key in ``timings``);
- its settings: ``settings_type`` (the dataclass of ``[fingerprint.<name>]``), ``match_kind``
  (what ``[match.<name>]`` is: "align" for ``match.align.AlignParams``, "cut" for the cut-timing
  candidate settings, None for none), defaults for a signal ``service/default.toml`` does not
  list (``settings_type()``'s, ``match_defaults``), and a range check for every key of its
  sections (``checks``) plus checks across keys (``cross_checks``);
- its codes: ``code_bytes`` per role, ``query_period`` (seconds between an upload's codes),
  ``fingerprint`` of decoded media per role and the same per streamed window
  (``video_stream`` / ``audio_fingerprint``), with the context it needs either side;
- its search: ``index_kind`` (``HAMMING``: FAISS flat or IVF by ``[index] kind``, searched within
  a radius; ``EXACT``: a hash table, radius 0; None: codes kept in the catalog only, read per
  candidate), ``subkeys`` (what of a code a large catalog's candidate stage looks up),
  ``searched`` (searched code by code and aligned into segments, or not: see below),
  ``search_plan`` (query variants searched in stages), ``candidate_hints`` (the speed a query
  variant implies), ``rendition_namer`` (what a variant id means, for the JSON);
- its traits: ``matchable_alone`` (its codes alone can make a reference usable),
  ``alone_under_other_sound`` (policy: a match found only by it is music under other sound, sent
  to review, in these words), ``verifies_quotes`` (weak lines of it are checked peak by peak),
  ``code_column`` (how the CLI heads its code counts).

Why the reframing signals (scene cuts, the central window) are registered with
``searched = False`` rather than forced into the search shape: neither makes segments by
itself. Cut codes are looked up only for upload stretches the searched signals left
unexplained, and what they find is a candidate line, never evidence; window codes are not
indexed at all (an upload's window rows are its small frames, not codes) and are read from the
catalog for each candidate reference, where a geometry is fitted before anything is aligned
(``match.verify``). Giving them a radius, a period and an alignment section they do not use
would make every loop above pretend they do; instead the engine's one reframing step names the
two, and everything else (their codes, settings, index, timings) comes from their objects.

Registration is by instance (``REGISTRY.register(ToySignal())``, or scoped:
``with REGISTRY.registered(ToySignal()):``). Signals are searched, stored and reported in
registration order; the built-in order is video, audio, landmark, cut, window.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict
from typing import Any

import numpy as np

from ..types import QUERY, REFERENCE, Fingerprint

VIDEO_MODALITY, AUDIO_MODALITY = "video", "audio"
HAMMING, EXACT = "hamming", "exact"
__all__ = ["AUDIO_MODALITY", "EXACT", "HAMMING", "QUERY", "REFERENCE", "VIDEO_MODALITY", "FrameWindows", "Signal",
           "SignalRegistry"]


class Signal:
    """One kind of fingerprint and everything the pipeline does with it (see the module docstring).

    Subclasses set the class attributes and implement ``code_bytes``, ``query_period`` and the
    fingerprinting of their modality: ``frames_fingerprint`` (video; or ``video_stream`` for a
    signal that needs the whole stream) or ``audio_fingerprint`` (audio, with ``audio_context``);
    a searched signal of the "align" kind also ``code_seconds``. ``params`` is always the
    ``fingerprint.FingerprintParams`` in force (a signal reads its own section with ``settings``,
    and may read the shared ones: sampling rates, the decoder's audio rate).
    """

    name: str = ""
    modality: str = VIDEO_MODALITY
    stage: str = ""  # timings key; default: the name
    settings_type: type | None = None  # dataclass of [fingerprint.<name>]
    match_kind: str | None = "align"  # [match.<name>]: "align" (AlignParams), "cut", or None
    match_defaults: Mapping[str, Any] = {}  # [match.<name>] values unlike AlignParams's defaults
    checks: Mapping[str, tuple] = {}  # dotted key -> (test, why), for every key of its sections
    cross_checks: tuple = ()  # (dotted key reported, test(raw config), why)
    index_kind: str | None = HAMMING
    searched: bool = True
    matchable_alone: bool = True
    alone_under_other_sound: str = ""
    verifies_quotes: bool = False
    code_column: str | None = None  # the CLI's column of its code counts ("" hides it; default "<name> codes"
    #                                  for a searched signal)

    def __init__(self) -> None:
        if not self.name:
            raise ValueError(f"{type(self).__name__} has no name")
        if self.modality not in (VIDEO_MODALITY, AUDIO_MODALITY):
            raise ValueError(f"signal {self.name!r}: modality must be video or audio, got {self.modality!r}")
        if self.index_kind not in (HAMMING, EXACT, None):
            raise ValueError(f"signal {self.name!r}: unknown index kind {self.index_kind!r}")
        if not self.stage:
            self.stage = self.name
        if self.code_column is None:
            self.code_column = f"{self.name} codes" if self.searched else ""

    def __repr__(self) -> str:
        return f"<signal {self.name}>"

    # -- settings ------------------------------------------------------------------------------
    def settings(self, params) -> Any:
        """This signal's ``[fingerprint.<name>]`` settings out of ``FingerprintParams`` (its
        defaults when ``params`` was made without them)."""
        found = params.settings_of(self.name)
        if found is None and self.settings_type is not None:
            return self.settings_type()
        return found

    def reference_settings(self, params) -> dict:
        """The settings that shape stored reference codes (``format_id``): all but ``query_*``."""
        value = self.settings(params)
        return {k: v for k, v in asdict(value).items() if not k.startswith("query_")} if value is not None else {}

    def code_seconds(self, raw: dict) -> float:
        """Longest time one stored code stands for on the reference axis, seconds, from the raw
        config (the aligner's vote-grid bound, ``service.config``)."""
        raise NotImplementedError

    # -- codes ---------------------------------------------------------------------------------
    def code_bytes(self, params, role: str) -> int:
        """Bytes a row of this signal's codes takes for ``role`` (REFERENCE or QUERY)."""
        raise NotImplementedError

    def query_period(self, params) -> float:
        """Seconds between an upload's codes (the aligner's instants are at least this)."""
        raise NotImplementedError

    def subkeys(self, codes: np.ndarray) -> np.ndarray | None:
        """The candidate stage of a two-stage search (``index.store``, ``[index] two_stage_min_codes``):
        (n, T) uint32 sub-keys of (n, code bytes) codes, each column a posting table. Every reference
        code's keys are kept, each upload code's are looked up: the references its codes hit there on
        one diagonal are the only ones searched within the radius. None (the default): searched in one
        stage whatever the catalog's size."""
        return None

    def empty(self, params, role: str) -> Fingerprint:
        return Fingerprint.empty(self.name, self.code_bytes(params, role))

    def fingerprint(self, media, role: str, period: float, params, shared: dict) -> Fingerprint:
        """This signal's codes of already decoded media (``decode.DecodedMedia``) for ``role``.

        period: seconds between sampled frames. shared: values several signals derive from the
        same frames (computed by the first that asks)."""
        if self.modality == VIDEO_MODALITY:
            stream = self.video_stream((role,), period, params)
            return Fingerprint.concat([fp for _, fp in stream.window(media.frames, media.frame_times, shared)
                                       + stream.finish()] or [self.empty(params, role)])
        return self.audio_fingerprint(media.audio, media.sample_rate, 0, role, params)

    # video: sampled frames, window by window
    def video_stream(self, roles: tuple[str, ...], period: float, params) -> "FrameWindows":
        """What fingerprints one video stream window by window: ``window(frames, times, shared)``
        and ``finish()`` return (role, codes) pairs. The default fingerprints each window alone."""
        return FrameWindows(self, roles, period, params)

    def frames_fingerprint(self, frames: np.ndarray, times: np.ndarray, period: float, role: str, params,
                           shared: dict) -> Fingerprint:
        """Codes of (n, s, s) uint8 grey frames sampled at ``times`` (seconds)."""
        raise NotImplementedError

    # audio: mono samples, window by window with context
    def audio_context(self, params) -> int:
        """Samples of context a window needs either side so that its codes are the whole signal's."""
        return 0

    def silent(self, samples: np.ndarray, params) -> bool:
        """Whether ``samples`` cannot give a code (skipped without computing)."""
        return False

    def audio_fingerprint(self, samples: np.ndarray, rate: int, origin: int, role: str, params) -> Fingerprint:
        """Codes of mono ``samples`` at ``rate`` Hz that start at sample ``origin`` of the stream
        (times are the stream's)."""
        raise NotImplementedError

    def at_stream_end(self, fp: Fingerprint, end_seconds: float) -> Fingerprint:
        """A stream's codes once every window is in, the audio ending at ``end_seconds``."""
        return fp

    # -- search --------------------------------------------------------------------------------
    def search_plan(self, codes: Fingerprint, params) -> tuple[np.ndarray, int] | None:
        """(rows searched first, hits per (variant, reference) that earn a variant its full search)
        for an upload's codes, or None: every row at once (``index.staged_search``)."""
        return None

    def candidate_hints(self, codes: Fingerprint, params) -> tuple[np.ndarray | None, np.ndarray | None]:
        """(speed each code's variant implies or None, whether it reads the upload as altered or None)."""
        return None, None

    def rendition_namer(self, params) -> Callable[[int], str] | None:
        """Variant id -> the words for the reading of the upload that matched, or None."""
        return None

    def peaks(self, codes: Fingerprint, params) -> tuple[np.ndarray, np.ndarray]:
        """(bins, frames) of the spectral peaks the codes were made of (``verifies_quotes``)."""
        raise NotImplementedError

    def peak_frame_seconds(self, params) -> float:
        raise NotImplementedError


class FrameWindows:
    """The default video stream: each window of frames fingerprinted on its own, per role."""

    def __init__(self, signal: Signal, roles: tuple[str, ...], period: float, params):
        self.signal, self.roles, self.period, self.params = signal, roles, period, params

    def window(self, frames: np.ndarray, times: np.ndarray, shared: dict) -> list[tuple[str, Fingerprint]]:
        return [(role, self.signal.frames_fingerprint(frames, times, self.period, role, self.params, shared))
                for role in self.roles]

    def finish(self) -> list[tuple[str, Fingerprint]]:
        return []


class SignalRegistry:
    """The registered signals, in order (see the module docstring)."""

    def __init__(self, signals: tuple[Signal, ...] = ()):
        self._signals: dict[str, Signal] = {}
        for s in signals:
            self.register(s)

    def register(self, signal: Signal) -> Signal:
        if not isinstance(signal, Signal):
            raise TypeError(f"not a Signal: {signal!r}")
        if signal.name in self._signals:
            raise ValueError(f"a signal named {signal.name!r} is already registered")
        self._signals[signal.name] = signal
        return signal

    def unregister(self, name: str) -> None:
        self._signals.pop(name)

    @contextlib.contextmanager
    def registered(self, signal: Signal) -> Iterator[Signal]:
        """``signal`` registered inside the ``with`` block only."""
        self.register(signal)
        try:
            yield signal
        finally:
            self.unregister(signal.name)

    def __iter__(self) -> Iterator[Signal]:
        return iter(tuple(self._signals.values()))

    def __len__(self) -> int:
        return len(self._signals)

    def __contains__(self, name: object) -> bool:
        return name in self._signals

    def __getitem__(self, name: str) -> Signal:
        return self._signals[name]

    def get(self, name: str) -> Signal | None:
        return self._signals.get(name)

    def names(self) -> tuple[str, ...]:
        return tuple(self._signals)

    def of_modality(self, modality: str) -> tuple[Signal, ...]:
        return tuple(s for s in self if s.modality == modality)

    def searched(self) -> tuple[Signal, ...]:
        return tuple(s for s in self if s.searched)

    def indexed(self) -> tuple[Signal, ...]:
        return tuple(s for s in self if s.index_kind is not None)

    def is_exact(self, name: str) -> bool:
        """Whether codes of the signal ``name`` match only when equal (a hash table, radius 0)."""
        s = self._signals.get(name)
        return s is not None and s.index_kind == EXACT
