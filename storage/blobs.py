"""How a reference's fingerprint is kept in the catalog's ``fingerprints`` row: compact and lossless.

A fingerprint is ``n`` codes of ``code_bytes`` bytes, ``starts`` and ``ends`` in seconds (float64) and
one ``variants`` byte per code. Stored raw (schema <= 6, encoding ``raw``) that is 17 bytes of times and
variants per code beside the code itself, most of the catalog: a landmark code is 4 bytes. The
``zlib-delta-1`` encoding (schema 7, every row written since) keeps exactly the same values:

- ``codes``: zlib (chroma words repeat from frame to frame; hashes barely compress);
- ``starts``: the differences of the float64 bit patterns taken as unsigned 64-bit integers (mod 2^64,
  so any order and any value comes back bit for bit with a cumulative sum), their bytes regrouped by
  significance (byte-shuffled: the high bytes of a regular time grid are nearly all equal), zlib;
- ``ends``: the same differences against ``starts``;
- ``variants``: zlib.

Measured on a catalog of 28 generated references (2 068 s): times 3.8 MB -> 0.27 MB, codes
2.4 MB -> 1.7 MB. Decoding is a few milliseconds per reference. Rows of either encoding are read.
Pure functions over bytes and numpy arrays; the SQL lives in ``stores``.
"""

from __future__ import annotations

import zlib

import numpy as np

from fingerprint import Fingerprint

RAW = "raw"
ZLIB_DELTA = "zlib-delta-1"
ENCODINGS = (RAW, ZLIB_DELTA)
_LEVEL = 6  # zlib level: 9 saves under 1 % more here at several times the CPU


class BlobError(ValueError):
    """A stored fingerprint that cannot be decoded (an unknown encoding, or damaged bytes)."""


def _shuffled(words: np.ndarray) -> bytes:
    """The bytes of 64-bit ``words`` grouped by byte position (all first bytes, then all second ...)."""
    return np.ascontiguousarray(words.view(np.uint8).reshape(-1, 8).T).tobytes()


def _unshuffled(data: bytes, n: int) -> np.ndarray:
    if len(data) != 8 * n:
        raise BlobError(f"{len(data)} bytes of times for {n} codes")
    return np.ascontiguousarray(np.frombuffer(data, np.uint8).reshape(8, n).T).view(np.uint64).ravel()


def encode(fp: Fingerprint, encoding: str = ZLIB_DELTA) -> tuple[bytes, bytes, bytes, bytes]:
    """(codes, starts, ends, variants) blobs of ``fp`` in ``encoding``."""
    codes = np.ascontiguousarray(fp.codes, np.uint8).tobytes()
    starts = np.ascontiguousarray(fp.starts, np.float64)
    ends = np.ascontiguousarray(fp.ends, np.float64)
    variants = np.ascontiguousarray(fp.variants, np.uint8).tobytes()
    if encoding == RAW:
        return codes, starts.tobytes(), ends.tobytes(), variants
    if encoding != ZLIB_DELTA:
        raise BlobError(f"unknown fingerprint encoding {encoding!r}")
    s_bits, e_bits = starts.view(np.uint64), ends.view(np.uint64)
    with np.errstate(over="ignore"):
        s_delta = np.diff(s_bits, prepend=np.uint64(0))
        e_delta = e_bits - s_bits
    return (zlib.compress(codes, _LEVEL), zlib.compress(_shuffled(s_delta), _LEVEL),
            zlib.compress(_shuffled(e_delta), _LEVEL), zlib.compress(variants, _LEVEL))


def decode(signal: str, n: int, code_bytes: int, encoding: str, codes: bytes, starts: bytes, ends: bytes,
           variants: bytes) -> Fingerprint:
    """The fingerprint of a stored row (``n`` codes of ``code_bytes`` bytes); BlobError if it cannot be."""
    if encoding == RAW:
        raw_codes, raw_variants = bytes(codes), bytes(variants)
        s = np.frombuffer(bytes(starts), np.float64)
        e = np.frombuffer(bytes(ends), np.float64)
    elif encoding == ZLIB_DELTA:
        try:
            raw_codes, raw_variants = zlib.decompress(codes), zlib.decompress(variants)
            s_delta = _unshuffled(zlib.decompress(starts), n)
            e_delta = _unshuffled(zlib.decompress(ends), n)
        except zlib.error as exc:
            raise BlobError(f"damaged {signal} fingerprint ({exc})") from exc
        with np.errstate(over="ignore"):
            s_bits = np.cumsum(s_delta, dtype=np.uint64)
            e_bits = s_bits + e_delta
        s, e = s_bits.view(np.float64), e_bits.view(np.float64)
    else:
        raise BlobError(f"unknown fingerprint encoding {encoding!r}")
    if len(raw_codes) != n * code_bytes or len(s) != n or len(e) != n or len(raw_variants) != n:
        raise BlobError(f"a {signal} fingerprint of {n} codes whose stored arrays have other lengths")
    return Fingerprint(signal, np.frombuffer(raw_codes, np.uint8).reshape(n, code_bytes), s, e,
                       np.frombuffer(raw_variants, np.uint8))
