import sys, numpy as np, zlib, lzma
sys.path.insert(0, "/tmp/i11")
from load import load_catalog
from fingerprint.landmarks import LandmarkParams, landmark_hashes, landmark_peaks, CODE_BYTES
from fingerprint.types import Fingerprint
from fingerprint.audio import AudioParams
cat, work = load_catalog("/tmp/i11/home-s4")
lp = LandmarkParams(); SR = 11025
dur = 2355.6
# --- landmarks from peaks
ok = tot = 0; npk = nlm = 0; pk_bytes = 0
for r in cat["landmark"]:
    fp = Fingerprint("landmark", r["codes"], r["starts"], r["ends"])
    bins, frames = landmark_peaks(fp, lp, SR)
    h, a = landmark_hashes(bins, frames, lp)
    stored = np.rint(r["starts"] / lp.frame_seconds(SR)).astype(np.int64)
    sh = r["codes"].view(">u4").ravel()
    A = sorted(zip(stored.tolist(), sh.tolist())); B = sorted(zip(a.tolist(), h.astype(np.int64).tolist()))
    tot += 1; ok += A == B; npk += len(bins); nlm += len(sh)
    # packed peaks: frame delta varint + 9-bit bin -> 16 bits when delta < 128
    d = np.diff(np.concatenate([[0], frames]))
    pk_bytes += int(np.sum(np.where(d < 128, 2, 4)))
print(f"landmarks regenerated exactly from their peaks: {ok}/{tot} references; peaks {npk} ({npk/dur:.1f}/s), landmarks {nlm} ({nlm/dur:.1f}/s); "
      f"peaks packed 2 B each (frame delta <128 + 9-bit bin): {pk_bytes/dur:.0f} B/s vs landmark blobs today {(nlm*(4+16+1))/dur:.0f} B/s")
# --- audio codes from words
ap = AudioParams(); s = ap.word_stride
ok = tot = 0; nw = nc = 0
for r in cat["audio"]:
    w = r["codes"].reshape(len(r["codes"]), 8, 4).copy().view(">u4").reshape(-1, 8)
    st = r["starts"]; fi = np.rint((st - st[0]) / ap.frame_seconds).astype(int)
    contiguous = np.all(np.diff(fi) >= 1)
    # sequence of words per frame: word j of code at frame f is the word at frame f + j*s
    seq = {}
    consistent = True
    for k in range(len(w)):
        for j in range(8):
            f = fi[k] + j * s
            if seq.setdefault(f, w[k, j]) != w[k, j]: consistent = False
    tot += 1; ok += consistent; nw += len(seq); nc += len(w)
print(f"audio: codes consistent with one word per frame: {ok}/{tot} refs; distinct frame words {nw} ({nw/dur:.1f}/s, {4*nw/dur:.0f} B/s + 1 bit/frame voiced mask) vs code blobs {nc*32/dur:.0f} B/s (+ times {nc*16/dur:.0f} B/s)")
# --- video: compressibility of codes and times
vb = b"".join(r["codes"].tobytes() for r in cat["video"])
print(f"video codes {len(vb)/dur:.0f} B/s; zlib-9 ratio {len(zlib.compress(vb, 9))/len(vb):.3f}, lzma ratio {len(lzma.compress(vb))/len(vb):.3f}")
# XOR with previous code of the same variant, then compress
xs = []
for r in cat["video"]:
    for v in np.unique(r["variants"]):
        c = r["codes"][r["variants"] == v]
        xs.append(np.concatenate([c[:1], c[1:] ^ c[:-1]]).tobytes())
xb = b"".join(xs); print(f"video xor-delta then lzma ratio {len(lzma.compress(xb))/len(vb):.3f}")
# times: frame index on the 8 fps grid + run length in frames
rt = []
for r in cat["video"]:
    f0 = np.rint(r["starts"] * 8).astype(np.int64); f1 = np.rint(r["ends"] * 8).astype(np.int64)
    rt.append(np.all(np.abs(r["starts"] * 8 - f0) < 1e-3)); 
print("video starts on the 8-fps grid:", all(rt), "; run lengths (frames) max", max(int(np.max(np.rint((r['ends']-r['starts'])*8))) for r in cat['video']))
# variant grouping: codes sorted by variant within a reference?
print("video variants sorted within each reference:", all(np.all(np.diff(r["variants"].astype(int)) >= 0) for r in cat["video"]))
