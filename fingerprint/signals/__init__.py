"""The signal registry: every signal as one object, in the order the pipeline uses them.

``REGISTRY`` holds the built-in signals (video, audio, landmark, cut, window); see
``signals.base`` for what a signal declares and why the two reframing signals are not searched
like the others. Adding a signal is one class and one ``REGISTRY.register(...)`` (or, scoped,
``with REGISTRY.registered(...)``); the fingerprinter, config, index, engine, policy and CLI
loop over the registry.
"""

from __future__ import annotations

from .base import (
    AUDIO_MODALITY, EXACT, HAMMING, VIDEO_MODALITY, FrameWindows, Signal, SignalRegistry,
)
from .chroma import ChromaSignal
from .cut import CutSignal
from .landmark import LandmarkSignal
from .video import VideoSignal
from .window import WindowSignal

REGISTRY = SignalRegistry((VideoSignal(), ChromaSignal(), LandmarkSignal(), CutSignal(), WindowSignal()))

__all__ = ["AUDIO_MODALITY", "EXACT", "HAMMING", "REGISTRY", "VIDEO_MODALITY", "FrameWindows", "Signal",
           "SignalRegistry"]
