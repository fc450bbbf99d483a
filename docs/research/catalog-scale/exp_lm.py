import sys, numpy as np, time, os
sys.path.insert(0, "/tmp/i11")
from load import load_catalog, load_queries
cat, work = load_catalog("/tmp/i11/home-s4")
qs = load_queries("/tmp/i11/q4")
dur = 2355.6
h = np.concatenate([r["codes"].view(">u4").ravel() for r in cat["landmark"]]).astype(np.uint32)
print("landmark hash max bits", int(h.max()).bit_length(), "distinct", len(np.unique(h)), "of", len(h))
vals, cnt = np.unique(h, return_counts=True)
lut = dict(zip(vals.tolist(), cnt.tolist()))
N_target = 76.7 * 3.6e7  # 10^4 h
scale = N_target / len(h)
tot_q = tot_hits = 0; secs = 0
for q in qs:
    for label, s in q["streams"].items():
        if "landmark" not in s or len(s["landmark"][0]) == 0: continue
        qh = s["landmark"][0].view(">u4").ravel()
        tot_q += len(qh); tot_hits += sum(lut.get(int(x), 0) for x in qh)
    secs += q["upload"]["duration"]
print(f"query landmarks per upload second {tot_q/secs:.0f}; bucket hits per query landmark now {tot_hits/tot_q:.3f} "
      f"(catalog {len(h)} landmarks); at 10^4 h (x{scale:.0f}) ~{tot_hits/tot_q*scale:.0f} per lookup, "
      f"~{tot_hits/tot_q*scale*tot_q/secs*600/1e6:.0f} M hits per 10-min upload")
# packed layout: sorted (hash, pos) u32 pairs memmapped; searchsorted timing on a 50M-entry synthetic-from-real table
rng = np.random.default_rng(0)
M = 20_000_000
big = np.sort(rng.choice(h, M))  # real hash distribution, resampled
path = "/tmp/i11/mm/lm_hash.u32"; big.tofile(path)
mm = np.memmap(path, np.uint32, "r")
qh = np.concatenate([s["landmark"][0].view(">u4").ravel() for q in qs[:10] for s in q["streams"].values() if "landmark" in s]).astype(np.uint32)
t = time.process_time(); lo = np.searchsorted(mm, qh, "left"); hi = np.searchsorted(mm, qh, "right"); dt = time.process_time() - t
print(f"searchsorted of {len(qh)} query hashes in a memmapped sorted array of {M} u32: {dt*1000:.0f} ms CPU (rough), hits {int((hi-lo).sum())}")
# bucket-offset layout: 2^22 offsets
off = np.searchsorted(big, np.arange((1 << 22) + 1, dtype=np.uint32)).astype(np.uint32)
t = time.process_time(); lo2 = off[qh]; hi2 = off[qh + 1]; dt2 = time.process_time() - t
print(f"direct offsets table (2^22+1 u32 = 16 MiB): {dt2*1000:.1f} ms, same ranges {np.array_equal(lo, lo2) and np.array_equal(hi, hi2)}")
