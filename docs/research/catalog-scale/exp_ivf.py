import sys, numpy as np, faiss, time
sys.path.insert(0, "/tmp/i11")
from load import load_catalog, load_queries
from filler import shots
cat, work = load_catalog("/tmp/i11/home-s4")
qs = load_queries("/tmp/i11/q4")
rng = np.random.default_rng(11)
faiss.omp_set_num_threads(1)
real = np.concatenate([r["codes"] for r in cat["video"]]); nreal = len(real)
realwork = np.concatenate([[r["work"]] * len(r["codes"]) for r in cat["video"]])
NF = 1_000_000
rb = [np.unpackbits(r["codes"], axis=1) for r in cat["video"]]
parts = []; tot = 0
while tot < NF:
    b = rb[rng.integers(len(rb))].reshape(-1, 16, 16).transpose(0, 2, 1).reshape(-1, 256)
    sh = shots(b, 64); b = b[np.concatenate([sh[i] for i in rng.permutation(len(sh))])]
    b = b ^ (rng.random(b.shape) < 0.02); parts.append(np.packbits(b.astype(np.uint8), axis=1)); tot += len(b)
fillers = {"realistic (transposed real, reordered, 2% noise)": np.concatenate(parts)[:NF],
           "uniform random": rng.integers(0, 256, (NF, 32), dtype=np.uint8)}
Q, QW = [], []
for q in qs:
    u = q["upload"]
    if u["kind"] == "negative": continue
    for s in q["streams"].values():
        if "video" in s and len(s["video"][0]):
            c = s["video"][0]; sel = rng.choice(len(c), min(150, len(c)), replace=False); Q.append(c[sel]); QW += [u["work_id"]] * len(sel); break
Q = np.ascontiguousarray(np.concatenate(Q)); QW = np.array(QW)
print("query codes", len(Q))
for name, F in fillers.items():
    X = np.ascontiguousarray(np.concatenate([real, F]))
    flat = faiss.IndexBinaryFlat(256); flat.add(X)
    t = time.process_time(); lims, D, I = flat.range_search(Q, 65); tf = time.process_time() - t
    rows = np.repeat(np.arange(len(Q)), np.diff(lims).astype(np.int64))
    m = I < nreal
    exact_pairs = set(zip(rows[m].tolist(), I[m].tolist()))
    exact_works = set((int(r), realwork[i]) for r, i in zip(rows[m], I[m]) if realwork[i] == QW[r])
    upl_true = {}
    for nlist, nprobe in [(1024, 16), (1024, 64)]:
        qz = faiss.IndexBinaryFlat(256); ivf = faiss.IndexBinaryIVF(qz, 256, nlist); ivf.own_fields = True; qz.this.disown()
        ivf.train(X[rng.choice(len(X), 100_000, replace=False)]); ivf.add(X); ivf.nprobe = nprobe
        t = time.process_time(); l2, D2, I2 = ivf.range_search(Q, 65); ti = time.process_time() - t
        r2 = np.repeat(np.arange(len(Q)), np.diff(l2).astype(np.int64)); m2 = I2 < nreal
        got = set(zip(r2[m2].tolist(), I2[m2].tolist()))
        true_pairs = {p for p in exact_pairs if realwork[p[1]] == QW[p[0]]}
        # work level: per query work, did IVF return >= 5 true-work hits where exact had >= 5
        def per_work(pairs):
            c = {}
            for r, i in pairs:
                if realwork[i] == QW[r]: c[QW[r]] = c.get(QW[r], 0) + 1
            return c
        ew, gw = per_work(exact_pairs), per_work(got)
        wr = sum(1 for w, c in ew.items() if c >= 5 and gw.get(w, 0) >= 5) / max(1, sum(1 for c in ew.values() if c >= 5))
        sizes = np.array([ivf.invlists.list_size(i) for i in range(nlist)])
        print(f"{name:48s} IVF{nlist} nprobe {nprobe:3d}: code-level recall of exact hits on real codes {len(got & exact_pairs)/max(1,len(exact_pairs)):.3f} "
              f"(true-work hits {len(got & true_pairs)/max(1,len(true_pairs)):.3f}), work-level {wr:.3f}; list sizes max/mean {sizes.max()/sizes.mean():.1f}; "
              f"cpu flat {tf:.1f}s ivf {ti:.2f}s (rough)", flush=True)
