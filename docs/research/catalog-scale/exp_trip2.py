import sys, numpy as np, collections
sys.path.insert(0, "/tmp/i11")
from load import load_catalog, load_queries
from fingerprint.landmarks import pair_peaks, LandmarkParams
cat, work = load_catalog("/tmp/i11/home-s4")
qs = load_queries("/tmp/i11/q4")
FIRST2 = len(sys.argv) > 1; lp = LandmarkParams(); fs = lp.frame_seconds(11025)
def triplets(codes, starts, first_two=False):
    bins, frames = pair_peaks(codes, np.rint(starts / fs))
    a_bin, t_bin = bins; a_fr, t_fr = frames
    df = t_bin - a_bin + 64; dt = t_fr - a_fr
    order = np.lexsort((df, dt, a_fr, a_bin)); a_bin, a_fr, df, dt = a_bin[order], a_fr[order], df[order], dt[order]
    g = np.flatnonzero(np.r_[True, (a_fr[1:] != a_fr[:-1]) | (a_bin[1:] != a_bin[:-1])])
    ends = np.r_[g[1:], len(a_fr)]
    keys, at = [], []
    for s, e in zip(g, ends):
        if e - s < 2: continue
        i, j = np.triu_indices(e - s, 1)
        if first_two: i, j = i[:1], j[:1]
        i += s; j += s
        keys.append((a_bin[i] << 26) | (df[i] << 19) | (dt[i] << 13) | (df[j] << 6) | dt[j]); at.append(a_fr[i])
    if not keys: return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(keys), np.concatenate(at)
rk, rr, rt = [], [], []
pk, pr_, pt = [], [], []
for i, r in enumerate(cat["landmark"]):
    k, t = triplets(r["codes"], r["starts"], FIRST2); rk.append(k); rr.append(np.full(len(k), i)); rt.append(t)
    h = r["codes"].view(">u4").ravel().astype(np.int64); pk.append(h); pr_.append(np.full(len(h), i)); pt.append(np.rint(r["starts"] / fs).astype(np.int64))
def table(k, r, t):
    k, r, t = np.concatenate(k), np.concatenate(r), np.concatenate(t); o = np.argsort(k, kind="stable"); return k[o], r[o], t[o]
TR = table(rk, rr, rt); PA = table(pk, pr_, pt)
dur = 2355.6
print(f"reference triplets {len(TR[0])} ({len(TR[0])/dur:.0f}/s), distinct {len(np.unique(TR[0]))}; pairs {len(PA[0])} ({len(PA[0])/dur:.0f}/s), distinct {len(np.unique(PA[0]))}")
res = {"pairs": [], "triplets": []}; chance = {"pairs": [0, 0], "triplets": [0, 0]}
for q in qs:
    u = q["upload"]; tw = u.get("work_id") if u["kind"] != "negative" else None
    for label, s in q["streams"].items():
        if "landmark" not in s or len(s["landmark"][0]) == 0: continue
        qc, qst = s["landmark"][0], s["landmark"][1]
        for name, (sk, sr, st), (qk, qt) in [("pairs", PA, (qc.view(">u4").ravel().astype(np.int64), np.rint(qst / fs).astype(np.int64))),
                                             ("triplets", TR, triplets(qc, qst))]:
            lo = np.searchsorted(sk, qk, "left"); hi = np.searchsorted(sk, qk, "right"); n = hi - lo
            if n.sum() == 0:
                best = {}
            else:
                idx = np.repeat(np.arange(len(qk)), n); pos = np.repeat(lo - np.r_[0, np.cumsum(n)[:-1]], n) + np.arange(n.sum())
                off = (st[pos] - qt[idx]) // 43  # ~1 s offset bins
                trip = np.unique(np.stack([sr[pos], off, qt[idx]], 1), axis=0)
                rb, c = np.unique(trip[:, :2], axis=0, return_counts=True)
                best = collections.defaultdict(int)
                for (ref, o_), cc in zip(rb.tolist(), c.tolist()): best[ref] = max(best[ref], cc)
            chance[name][0] += int(n.sum()); chance[name][1] += len(qk)
            if tw:
                true = max([v for r_, v in best.items() if work[cat["landmark"][r_]["ref"]] == tw] or [0])
                other = max([v for r_, v in best.items() if work[cat["landmark"][r_]["ref"]] != tw] or [0])
                res[name].append((u["upload_id"], label, true, other))
for name in res:
    print(f"{name}: bucket hits per query key {chance[name][0]/chance[name][1]:.3f}; query keys per upload-stream {chance[name][1]/len(res[name]):.0f}")
pairs = {(a, b): (c, d) for a, b, c, d in res["pairs"]}
print(f"{'upload':40s} {'pairs true/other':>17s} {'triplets true/other':>20s}   (best 1-s offset bin: distinct query anchor frames)")
for a, b, c, d in res["triplets"]:
    pc, pd = pairs[(a, b)]
    if pc >= 5 or c >= 3:
        print(f"{a[:32]+' '+b[-7:]:40s} {pc:8d}/{pd:<8d} {c:10d}/{d:<8d}")
