import sys, numpy as np, pickle, collections, time
sys.path.insert(0, "/tmp/i11")
from load import load_catalog, load_queries
from fingerprint.audio import AudioParams
cat, work = load_catalog("/tmp/i11/home-s4")
qs = load_queries("/tmp/i11/q4")
orc = pickle.load(open("/tmp/i11/oracle.pkl", "rb"))
ap = AudioParams(); S = ap.word_stride; FS = ap.frame_seconds
rng = np.random.default_rng(5)
R = int(sys.argv[1])
def words(codes): return codes.reshape(len(codes), 8, 4).copy().view(">u4").reshape(-1, 8).astype(np.uint32)
def ref_words(codes, starts):  # one word per frame: word 0 of each code + tail words of the last code
    w = words(codes); t = starts + FS / 2 - ((8 - 1) * S + 16 - 1) / 2 * FS  # code centre -> first frame time
    return np.concatenate([w[:, 0], w[-1, 1:]]), np.concatenate([t, t[-1] + S * FS * np.arange(1, 8)])
fill = pickle.load(open("/tmp/i11/filler_audio.pkl", "rb"))
K, RF, T = [], [], []
for i, r in enumerate(cat["audio"]):
    w, t = ref_words(r["codes"], r["starts"]); K.append(w); RF.append(np.full(len(w), i)); T.append(t)
nreal = len(cat["audio"]); k = nreal
for rep in range(R):
    for c in fill:
        w = words(c)[:, 0]
        # phrase reorder (8-s blocks), 3 % bit noise (a few bits of 32)
        blocks = np.array_split(w, max(1, len(w) // 64)); w = np.concatenate([blocks[j] for j in rng.permutation(len(blocks))])
        b = np.unpackbits(w.view(np.uint8).reshape(-1, 4), axis=1); b ^= (rng.random(b.shape) < 0.03); w = np.packbits(b, axis=1).view(np.uint32).ravel()
        K.append(w); RF.append(np.full(len(w), k)); T.append(np.arange(len(w)) * FS); k += 1
K, RF, T = np.concatenate(K), np.concatenate(RF), np.concatenate(T)
o = np.argsort(K, kind="stable"); K, RF, T = K[o], RF[o], T[o]
print(f"audio word table: {len(K)} words ({nreal} real refs, {k-nreal} filler refs)", flush=True)
ranks = []; TS = []; OS = []; hits = lk = 0; cpu = 0
for q in qs:
    u = q["upload"]; tw = u.get("work_id") if u["kind"] != "negative" else None
    for label, s in q["streams"].items():
        if "audio" not in s or len(s["audio"][0]) == 0: continue
        o_ = orc["res"].get((u["upload_id"], label, "audio"), {"per": {}})
        if not (tw and any(work[r] == tw and nr >= 3 for r, (nr, nh) in o_["per"].items())): continue
        t0 = time.process_time()
        qw = words(np.ascontiguousarray(s["audio"][0])); qt = s["audio"][1][:, None] + S * FS * np.arange(8)[None, :]
        flat = qw.ravel(); ft = qt.ravel(); row = np.repeat(np.arange(len(qw)), 8)
        lo = np.searchsorted(K, flat, "left"); hi = np.searchsorted(K, flat, "right"); n = hi - lo
        hits += int(n.sum()); lk += len(flat)
        idx = np.repeat(np.arange(len(flat)), n); pos = np.repeat(lo - np.r_[0, np.cumsum(n)[:-1]], n) + np.arange(n.sum())
        trip = np.unique(np.stack([RF[pos], np.floor((T[pos] - ft[idx]) / 2.0).astype(np.int64), row[idx]], 1), axis=0)
        rb, c = np.unique(trip[:, :2], axis=0, return_counts=True)
        refs_, inv = np.unique(rb[:, 0], return_inverse=True); cnt = np.zeros(len(refs_), int); np.maximum.at(cnt, inv, c)
        cpu += time.process_time() - t0
        ordr = np.argsort(-cnt); wk = [work[cat["audio"][r]["ref"]] if r < nreal else "filler" for r in refs_[ordr]]
        rank = wk.index(tw) + 1 if tw in wk else 10**6; ranks.append(rank)
        TS.append(cnt[ordr][wk.index(tw)] if tw in wk else 0); OS.append(max([c_ for x, c_ in zip(wk, cnt[ordr]) if x == "filler"] or [0]))
        if rank > 3: print("   rank", rank, u["upload_id"], label, "true", TS[-1], "best filler", OS[-1], "top", list(zip(wk[:3], cnt[ordr][:3])))
ranks = np.array(ranks)
print(f"R={R}: true works {len(ranks)}: rank1 {np.sum(ranks<=1)}, <=3 {np.sum(ranks<=3)}, <=10 {np.sum(ranks<=10)}, found {np.sum(ranks<10**6)}; "
      f"hits per query word {hits/lk:.3f} over {len(K)} words ({hits/lk/(len(K)/1e6):.3f} per 1M); cpu per upload-stream {cpu/len(ranks)*1000:.0f} ms; "
      f"true score median {int(np.median(TS))} min {min(TS)}, best filler median {int(np.median(OS))} max {max(OS)}")
