import sys, numpy as np, pickle, time, collections
sys.path.insert(0, "/tmp/i11")
from load import load_catalog, load_queries
cat, work = load_catalog("/tmp/i11/home-s4")
qs = load_queries("/tmp/i11/q4")
orc = pickle.load(open("/tmp/i11/oracle.pkl", "rb"))
flip = orc["flip"]["audio"].reshape(8, 32).mean(0)  # per bit within a word (MSB first as unpacked)
def words(codes):  # (n, 32) uint8 -> (n, 8) uint32 (big-endian bytes order as stored)
    return codes.reshape(len(codes), 8, 4).copy().view(">u4").reshape(len(codes), 8).astype(np.uint32)
def run(nbits, topk, min_rows, ref_stride=1):
    order = np.argsort(flip)[:nbits]  # bit index 0 = MSB
    mask = np.uint32(sum(1 << (31 - int(i)) for i in order))
    refs = cat["audio"]
    rk, rr = [], []
    for i, r in enumerate(refs):
        w = words(r["codes"])[::ref_stride]
        # word j of code k is the word at frame k + j*stride: the set of words = word 0 of every code + tail words
        allw = np.unique(np.concatenate([w[:, 0], w[-1, 1:]]) & mask)
        rk.append(allw); rr.append(np.full(len(allw), i))
    rk = np.concatenate(rk); rr = np.concatenate(rr); o = np.argsort(rk, kind="stable"); rk, rr = rk[o], rr[o]
    found = tot = 0; cands = []; misses = []; hits_total = 0
    for q in qs:
        u = q["upload"]; tw = u.get("work_id") if u["kind"] != "negative" else None
        for label, sigs in q["streams"].items():
            if "audio" not in sigs or len(sigs["audio"][0]) == 0: continue
            qw = words(np.ascontiguousarray(sigs["audio"][0])) & mask
            flat = qw.ravel(); row = np.repeat(np.arange(len(qw)), 8)
            lo = np.searchsorted(rk, flat, "left"); hi = np.searchsorted(rk, flat, "right"); n = hi - lo
            hits_total += int(n.sum())
            idx = np.repeat(row, n); pos = np.concatenate([np.arange(a, c) for a, c in zip(lo[n > 0], hi[n > 0])]) if n.sum() else np.zeros(0, int)
            pairs = np.unique(np.stack([rr[pos], idx], 1), axis=0) if len(pos) else np.zeros((0, 2), int)
            refc = collections.Counter(pairs[:, 0].tolist())
            ranked = [refs[r]["work"] for r, c in refc.most_common(topk) if c >= min_rows]
            cands.append(len(ranked))
            o = orc["res"].get((u["upload_id"], label, "audio"), {"per": {}})
            if tw and any(work[r] == tw for r in o["per"]):
                tot += 1; found += tw in ranked
                if tw not in ranked: misses.append((u["upload_id"], label))
    print(f"audio words masked to {nbits} stable bits, top-{topk}, min_rows {min_rows}, ref stride {ref_stride}: true works found {found}/{tot}; "
          f"table entries {len(rk)} ({len(rk)/sum(len(r['codes']) for r in refs):.2f}/code), mean candidates {np.mean(cands):.1f}, hits {hits_total}; misses {misses[:5]}", flush=True)
for spec in sys.argv[1:]:
    a = [int(x) for x in spec.split(",")]
    run(*a)
