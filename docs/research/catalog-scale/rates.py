import sqlite3, sys, numpy as np
db = sqlite3.connect(f"file:{sys.argv[1]}/catalog.sqlite?mode=ro", uri=True)
refs = {r[0]: r[1:] for r in db.execute("select ref_id, path, duration, has_video from refs")}
for sig in ["video", "audio", "landmark", "window", "cut"]:
    tot = {}
    secs = 0
    for ref_id, n, cb, codes, st, en, va in db.execute("select ref_id, n, code_bytes, codes, starts, ends, variants from fingerprints where signal=?", (sig,)):
        path, dur, hv = refs[ref_id]
        if n == 0: continue
        secs += dur
        v = np.frombuffer(va, np.uint8)
        for k, c in zip(*np.unique(v, return_counts=True)): tot[int(k)] = tot.get(int(k), 0) + int(c)
        s = np.frombuffer(st, np.float64); e = np.frombuffer(en, np.float64)
        if sig in ("video",) and ref_id == 1:
            c = np.frombuffer(codes, np.uint8).reshape(n, cb)
            for k in np.unique(v):
                ck = c[v == k]
                d = np.bitwise_count(ck[1:] ^ ck[:-1]).sum(1)
                print(f"  ref1 variant {k}: consecutive-kept distance median {np.median(d):.0f} p10 {np.percentile(d,10):.0f}, run len median {np.median((e-s)[v==k]):.3f}s")
        if sig == "landmark" and ref_id == 1:
            print("  landmark start==end share", np.mean(s == e), "unique starts", len(np.unique(s)), "n", n, "dt median", np.median(np.diff(np.sort(s))))
            h = np.frombuffer(codes, '>u4'); print("  landmark max hash bits", int(h.max()).bit_length())
        if sig == "audio" and ref_id == 1:
            print("  audio dt", np.median(np.diff(s)), "span", np.median(e-s))
    print(sig, "seconds with codes", round(secs,1), {k: round(c/secs, 2) for k, c in tot.items()}, "total/s", round(sum(tot.values())/secs, 2))
