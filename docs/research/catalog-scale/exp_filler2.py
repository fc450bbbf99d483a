import sys, numpy as np, faiss
sys.path.insert(0, "/tmp/i11")
from load import load_catalog, load_queries
cat, work = load_catalog("/tmp/i11/home-s4")
qs = load_queries("/tmp/i11/q4")
rng = np.random.default_rng(7)
faiss.omp_set_num_threads(1)
U = np.arange(16)
def dihedral(codes, kind):
    b = np.unpackbits(codes, axis=1).reshape(-1, 16, 16)  # (v, u) row-major as imagehash flattens
    if kind in ("T", "T+H"): b = b.transpose(0, 2, 1)
    if kind in ("H", "T+H"):  # mirror: odd-u coefficients change sign -> bit flips (median ~ 0 approximation), DC kept
        m = (U % 2 == 1)[None, None, :].repeat(16, 1); b = b ^ m
    if kind == "V": b = b ^ (U % 2 == 1)[None, :, None]
    return np.packbits(b.reshape(-1, 256), axis=1)
def noise(codes, p):
    b = np.unpackbits(codes, axis=1); return np.packbits(b ^ (rng.random(b.shape) < p), axis=1)
sig, RAD = "video", 64
res = {}
for q in qs:
    u = q["upload"]; tw = u.get("work_id")
    if u["kind"] == "negative" or not tw: continue
    st = [s for s in q["streams"].values() if sig in s and len(s[sig][0])]
    if not st: continue
    qc = np.ascontiguousarray(st[0][sig][0]); qc = qc[rng.choice(len(qc), min(300, len(qc)), replace=False)]
    real = np.concatenate([r["codes"] for r in cat[sig] if r["work"] != tw])
    own = np.concatenate([r["codes"] for r in cat[sig] if r["work"] == tw])
    sets = {"unrelated real": real, "unrelated, transposed": dihedral(real, "T"), "unrelated, mirrored (sign rule)": dihedral(real, "H"),
            "unrelated, vflip (sign rule)": dihedral(real, "V"), "unrelated + 4% bit noise": noise(real, 0.04),
            "OWN work transposed": dihedral(own, "T"), "OWN work vflip": dihedral(own, "V"), "OWN work + 4% noise": noise(own, 0.04)}
    for k, s in sets.items():
        ix = faiss.IndexBinaryFlat(256); ix.add(np.ascontiguousarray(s))
        D, _ = ix.search(qc, 1); res.setdefault(k, []).append(D[:, 0])
print(f"{'video catalog':34s} {'NN p5':>6s} {'p50':>5s} {'p95':>5s} {'NN<=64':>7s}")
for k, v in res.items():
    d = np.concatenate(v); print(f"{k:34s} {np.percentile(d,5):6.0f} {np.percentile(d,50):5.0f} {np.percentile(d,95):5.0f} {np.mean(d<=RAD):7.3f}")
