import sys, numpy as np, faiss
sys.path.insert(0, "/tmp/i11")
from load import load_catalog, load_queries
from filler import filler_codes
cat, work = load_catalog("/tmp/i11/home-s4")
qs = load_queries("/tmp/i11/q4")
rng = np.random.default_rng(7)
faiss.omp_set_num_threads(1)
RAD = {"video": 64, "audio": 62}
for sig in ["video", "audio"]:
    rows = {k: [] for k in ["unrelated real", "uniform random", "permuted real (filler.py)", "xor-masked real"]}
    fracs = {k: [] for k in rows}
    for q in qs:
        u = q["upload"]; tw = u.get("work_id")
        if u["kind"] == "negative" or not tw: continue
        st = [s for s in q["streams"].values() if sig in s and len(s[sig][0])]
        if not st: continue
        qc = np.ascontiguousarray(st[0][sig][0])
        qc = qc[rng.choice(len(qc), min(300, len(qc)), replace=False)]
        others = [r for r in cat[sig] if r["work"] != tw]
        real = np.concatenate([r["codes"] for r in others])
        n = len(real)
        sets = {"unrelated real": real,
                "uniform random": rng.integers(0, 256, real.shape, dtype=np.uint8),
                "permuted real (filler.py)": filler_codes([np.unpackbits(r["codes"], axis=1) for r in others], n, rng)[0],
                "xor-masked real": np.concatenate([r["codes"] ^ rng.integers(0, 256, (1, r["codes"].shape[1]), dtype=np.uint8) for r in others])}
        for k, s in sets.items():
            ix = faiss.IndexBinaryFlat(s.shape[1] * 8); ix.add(np.ascontiguousarray(s))
            D, _ = ix.search(qc, 1)
            rows[k].append(D[:, 0])
            lims, Dr, _ = ix.range_search(qc, RAD[sig] + 1)
            fracs[k].append(len(Dr) / (len(qc) * len(s)))
    print(f"\n{sig}: query codes of {len(rows['uniform random'])} positive uploads (<=300 sampled each) vs catalogs of the same size without the upload's work; radius {RAD[sig]}")
    print(f"{'catalog':28s} {'NN dist p5':>10s} {'p50':>5s} {'p95':>5s} {'share of queries with NN<=radius':>33s} {'pairs within radius (per 1e6)':>30s}")
    for k in rows:
        d = np.concatenate(rows[k])
        print(f"{k:28s} {np.percentile(d,5):10.0f} {np.percentile(d,50):5.0f} {np.percentile(d,95):5.0f} {np.mean(d <= RAD[sig]):33.3f} {1e6*np.mean(fracs[k]):30.1f}")
