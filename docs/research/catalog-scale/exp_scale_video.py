import sys, numpy as np, pickle, time, collections
sys.path.insert(0, "/tmp/i11")
from load import load_catalog, load_queries
from filler import shots
cat, work = load_catalog("/tmp/i11/home-s4")
qs = load_queries("/tmp/i11/q4")
orc = pickle.load(open("/tmp/i11/oracle.pkl", "rb"))
rng = np.random.default_rng(3)
R = int(sys.argv[1]) if len(sys.argv) > 1 else 25
MODE = 'diag'
# ---- filler: transposed real codes (pHash of the transposed frame: exact), shots reordered, reversed, 2 % bit noise
real_bits = [np.unpackbits(r["codes"], axis=1) for r in cat["video"]]
fill_bits, fill_ref = [], []
k = 0
for rep in range(R):
    for b in real_bits:
        t = b.reshape(-1, 16, 16).transpose(0, 2, 1).reshape(-1, 256)
        sh = shots(t, 64); t = t[np.concatenate([sh[i] for i in rng.permutation(len(sh))])]
        if rng.random() < 0.5: t = t[::-1]
        t = t ^ (rng.random(t.shape) < 0.02)
        fill_bits.append(t.astype(np.uint8)); fill_ref.append(np.full(len(t), k)); k += 1
nreal = len(cat["video"])
allbits = np.concatenate(real_bits + fill_bits)
allref = np.concatenate([np.full(len(b), i) for i, b in enumerate(real_bits)] + [f + nreal for f in fill_ref])
alltime = np.concatenate([r['starts'] for r in cat['video']] + [np.arange(len(b)) / 8.0 for b in fill_bits])
N = len(allbits); print("catalog codes", N, "filler refs", k, flush=True)
marg = allbits.mean(0); flip = orc["flip"]["video"]
ok = np.flatnonzero((marg > 0.2) & (marg < 0.8)); order = ok[np.argsort(flip[ok])]
def tables(L, b, stride=1):
    keys = [order[: L * b][i::L] for i in range(L)]
    out = []
    sel = np.arange(N) % stride == 0
    for ks in keys:
        w = (np.uint64(1) << np.arange(len(ks), dtype=np.uint64)[::-1])
        kv = (allbits[sel][:, ks].astype(np.uint64) * w).sum(1).astype(np.uint32)
        o = np.argsort(kv, kind="stable"); out.append((ks, w, kv[o], allref[sel][o].astype(np.int32), alltime[sel][o].astype(np.float32)))
    return out
for spec in sys.argv[2:]:
    L, b, stride = [int(x) for x in spec.split(',')]
    T = tables(L, b, stride)
    RAW = [0]; TS, OS = [], []; stats = collections.Counter(); chance = 0; lookups = 0; cpu = 0.0; ranks = []
    for q in qs:
        u = q["upload"]; tw = u.get("work_id") if u["kind"] != "negative" else None
        for label, sigs in q["streams"].items():
            if "video" not in sigs or len(sigs["video"][0]) == 0: continue
            o = orc["res"].get((u["upload_id"], label, "video"), {"per": {}})
            if not (tw and any(work[r] == tw and nr >= 5 for r, (nr, nh) in o["per"].items())): continue
            t0 = time.process_time()
            qb = np.unpackbits(np.ascontiguousarray(sigs["video"][0]), axis=1)
            pr = []
            qt = sigs['video'][1]
            for ks, w, sk, sr, st in T:
                qk = (qb[:, ks].astype(np.uint64) * w).sum(1).astype(np.uint32)
                lo = np.searchsorted(sk, qk, "left"); hi = np.searchsorted(sk, qk, "right"); n = hi - lo
                lookups += len(qk)
                if n.sum():
                    idx = np.repeat(np.arange(len(qk)), n)
                    pos = np.repeat(lo - np.concatenate([[0], np.cumsum(n)[:-1]]), n) + np.arange(n.sum())
                    RAW[0] += int((sr[pos] >= nreal).sum())
                    pr.append(np.stack([sr[pos], idx, np.floor((st[pos] - qt[idx]) / 2.0).astype(np.int64)], 1))
            trip = np.unique(np.concatenate(pr), axis=0) if pr else np.zeros((0, 3), int)
            # distinct query rows per (ref, 2-s offset bin, and its neighbour bin), score = best bin
            rb, c = np.unique(trip[:, [0, 2]], axis=0, return_counts=True)
            if MODE == 'rows':
                refs_, cnt = np.unique(np.unique(trip[:, :2], axis=0)[:, 0], return_counts=True)
            else:
                refs_, inv = np.unique(rb[:, 0], return_inverse=True); cnt = np.zeros(len(refs_), int); np.maximum.at(cnt, inv, c)
            cpu += time.process_time() - t0
            ordr = np.argsort(-cnt)
            wk = [work[cat["video"][r]["ref"]] if r < nreal else f"filler{r}" for r in refs_[ordr]]
            chance += int(sum(c for r, c in zip(refs_, cnt) if r >= nreal))
            rank = wk.index(tw) + 1 if tw in wk else 10**6
            ranks.append(rank)
            TS.append(cnt[ordr][wk.index(tw)] if tw in wk else 0); OS.append(max([c for x, c in zip(wk, cnt[ordr]) if x.startswith('filler')] or [0]))
            if rank > 1: print('   rank', rank, u['upload_id'], 'true score', cnt[ordr][wk.index(tw)] if tw in wk else 0, 'top', list(zip(wk[:3], cnt[ordr][:3])))
    ranks = np.array(ranks)
    print(f"keys {L}x{b} bits, every {stride}th code, over {N} codes: true works (exact-found) {len(ranks)}; rank<=1 {np.sum(ranks<=1)}, <=5 {np.sum(ranks<=5)}, <=20 {np.sum(ranks<=20)}, "
          f"found at all {np.sum(ranks<10**6)}; filler (query row, ref) hits per query-key lookup {chance/lookups:.4f} "
          f"(per 1M codes {chance/lookups/(N/1e6):.4f}); query codes/upload {lookups/len(ranks)/L:.0f}, raw filler entries per lookup {RAW[0]/lookups:.4f} (per 1M codes {RAW[0]/lookups/(N/1e6):.4f}); lookup CPU per upload {cpu/len(ranks)*1000:.0f} ms (rough); true-work score min {min(TS)} median {int(np.median(TS))}, best filler score max {max(OS)} median {int(np.median(OS))}", flush=True)
