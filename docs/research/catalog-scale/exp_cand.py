# candidate stage experiments: exact sub-code keys over the catalog's codes, work-level recall
import sys, numpy as np, pickle, time, collections
sys.path.insert(0, "/tmp/i11")
from load import load_catalog, load_queries
cat, work = load_catalog("/tmp/i11/home-s4")
qs = load_queries("/tmp/i11/q4")
orc = pickle.load(open("/tmp/i11/oracle.pkl", "rb"))
ALL = np.unpackbits
def bits(codes): return np.unpackbits(codes, axis=1)
def keyfun(bitsel):
    w = (1 << np.arange(len(bitsel), dtype=np.uint64)[::-1]).astype(np.uint64)
    def f(b):  # b: (n, 256) unpacked bits
        return (b[:, bitsel].astype(np.uint64) * w).sum(1)
    return f
def make_keys(sig, kind, L, b, flip, marg):
    D = 256
    if kind == "contig":
        return [np.arange(i * b, (i + 1) * b) for i in range(L)]
    # stable: bits with marginal in [0.2, 0.8], sorted by flip rate, dealt round-robin into L keys
    ok = np.flatnonzero((marg > 0.2) & (marg < 0.8))
    order = ok[np.argsort(flip[ok])]
    order = order[: L * b]
    return [order[i::L] for i in range(L)]
def run(sig, kind, L, b, min_rows=3, ref_stride=1, ref_variants=None, report=True):
    refs = cat[sig]
    rb = np.concatenate([bits(r["codes"][::ref_stride] if ref_variants is None else r["codes"][np.isin(r["variants"], ref_variants)]) for r in refs])
    rw = np.concatenate([np.full(len(r["codes"][::ref_stride]) if ref_variants is None else int(np.isin(r["variants"], ref_variants).sum()), i) for i, r in enumerate(refs)])
    marg = rb.mean(0)
    keys = make_keys(sig, kind, L, b, orc["flip"][sig], marg)
    tables = []
    for ks in keys:
        k = keyfun(ks)(rb); o = np.argsort(k, kind="stable"); tables.append((ks, k[o], rw[o]))
    entries = len(rb) * L
    # bucket stats
    occ = [np.unique(t[1], return_counts=True)[1] for t in tables]
    found, exact_found, total_true, total_exact = 0, 0, 0, 0
    lookups, other_hits = 0, 0
    misses = []
    t0 = time.process_time()
    for q in qs:
        u = q["upload"]; tw = u.get("work_id") if u["kind"] != "negative" else None
        for label, sigs in q["streams"].items():
            if sig not in sigs or len(sigs[sig][0]) == 0: continue
            qb = bits(np.ascontiguousarray(sigs[sig][0]))
            rows_per_ref = collections.defaultdict(set)
            for ks, sk, sw in tables:
                qk = keyfun(ks)(qb)
                lo = np.searchsorted(sk, qk, "left"); hi = np.searchsorted(sk, qk, "right")
                lookups += len(qk)
                n = hi - lo
                idx = np.repeat(np.arange(len(qk)), n)
                pos = np.concatenate([np.arange(a, c) for a, c in zip(lo[n > 0], hi[n > 0])]) if n.sum() else np.zeros(0, int)
                for r in np.unique(sw[pos]) if len(pos) else []:
                    rows_per_ref[int(r)].update(idx[sw[pos] == r].tolist())
            cand = {refs[r]["work"] for r, rows in rows_per_ref.items() if len(rows) >= min_rows}
            for r, rows in rows_per_ref.items():
                if refs[r]["work"] != tw: other_hits += len(rows)
            # exact-found works for this stream: >= 5 distinct query rows within radius
            o = orc["res"].get((u["upload_id"], label, sig), {"per": {}})
            ex = {work[r] for r, (nr, nh) in o["per"].items() if nr >= 5}
            total_exact += len(ex); exact_found += len(ex & cand)
            if tw and tw in ex:
                total_true += 1; found += tw in cand
                if tw not in cand: misses.append(u["upload_id"])
    dt = time.process_time() - t0
    if report:
        print(f"{sig:5s} {kind:6s} L={L:2d} b={b:2d} stride={ref_stride} var={ref_variants} min_rows={min_rows}: entries/code={L} "
              f"true works found {found}/{total_true}, exact-found works {exact_found}/{total_exact}; "
              f"distinct keys/table {np.mean([len(x) for x in occ]):.0f} of {len(rb)} codes, max bucket {max(x.max() for x in occ)}, "
              f"other-work rows hit {other_hits}, cpu {dt:.1f}s  misses {misses[:6]}", flush=True)
    return found, total_true
if __name__ == "__main__":
    sig = sys.argv[1]
    for spec in sys.argv[2:]:
        kind, L, b, *rest = spec.split(",")
        stride = int(rest[0]) if rest else 1
        var = [int(v) for v in rest[1].split("+")] if len(rest) > 1 and rest[1] else None
        mr = int(rest[2]) if len(rest) > 2 else 3
        run(sig, kind, int(L), int(b), min_rows=mr, ref_stride=stride, ref_variants=var)
