import sys, numpy as np, collections
sys.path.insert(0, "/tmp/i11")
from load import load_catalog, load_queries
from fingerprint.landmarks import LandmarkParams
cat, work = load_catalog("/tmp/i11/home-s4")
qs = load_queries("/tmp/i11/q4")
fs = LandmarkParams().frame_seconds(11025)
h = np.concatenate([r["codes"].view(">u4").ravel() for r in cat["landmark"]]).astype(np.int64)
rr = np.concatenate([np.full(len(r["codes"]), i) for i, r in enumerate(cat["landmark"])])
rt = np.concatenate([np.rint(r["starts"] / fs).astype(np.int64) for r in cat["landmark"]])
o = np.argsort(h, kind="stable"); h, rr, rt = h[o], rr[o], rt[o]
vals, cnt = np.unique(h, return_counts=True)
N = len(h)
def score(qk, qt, keep, tw):
    qk, qt = qk[keep], qt[keep]
    lo = np.searchsorted(h, qk, "left"); hi = np.searchsorted(h, qk, "right"); n = hi - lo
    if n.sum() == 0: return 0
    idx = np.repeat(np.arange(len(qk)), n); pos = np.repeat(lo - np.r_[0, np.cumsum(n)[:-1]], n) + np.arange(n.sum())
    m = np.array([work[cat["landmark"][r]["ref"]] == tw for r in rr[pos]])
    if not m.any(): return 0
    off = (rt[pos][m] - qt[idx][m]) // 43
    trip = np.unique(np.stack([rr[pos][m], off, qt[idx][m]], 1), axis=0)
    _, c = np.unique(trip[:, :2], axis=0, return_counts=True)
    return int(c.max())
rows = []
for q in qs:
    u = q["upload"]; tw = u.get("work_id") if u["kind"] != "negative" else None
    if not tw: continue
    for label, s in q["streams"].items():
        if "landmark" not in s or len(s["landmark"][0]) == 0: continue
        qk = s["landmark"][0].view(">u4").ravel().astype(np.int64); qt = np.rint(s["landmark"][1] / fs).astype(np.int64)
        full = score(qk, qt, np.ones(len(qk), bool), tw)
        if full < 10: continue
        i = np.searchsorted(vals, qk); i = np.clip(i, 0, len(vals) - 1)
        c = np.where(vals[i] == qk, cnt[i], 0) + 0.5
        order = np.argsort(c, kind="stable")
        out = [u["upload_id"], label, full]
        for H in (1e2, 1e3, 1e4):
            factor = 76.7 * 3600 * H / N
            budget = 20e6 * u["duration"] / 600
            cum = np.cumsum(c[order] * factor)
            keep = np.zeros(len(qk), bool); keep[order[cum <= budget]] = True
            out += [score(qk, qt, keep, tw), keep.mean()]
        rows.append(out)
print(f"{'upload':34s} {'full':>5s} | true score (share of upload landmarks looked up) with 20 M entries per 10 min at 10^2 h | 10^3 h | 10^4 h")
for r in rows:
    print(f"{(r[0]+' '+r[1][-6:])[:34]:34s} {r[2]:5d} | {r[3]:4d} ({r[4]:.2f}) | {r[5]:4d} ({r[6]:.2f}) | {r[7]:4d} ({r[8]:.2f})")
