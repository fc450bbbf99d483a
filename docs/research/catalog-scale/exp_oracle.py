# exact oracle hits per (upload, signal, ref) + per-bit flip statistics of true hits
import sys, numpy as np, faiss, pickle, time
sys.path.insert(0, "/tmp/i11")
from load import load_catalog, load_queries
cat, work = load_catalog("/tmp/i11/home-s4")
qs = load_queries("/tmp/i11/q4")
RAD = {"video": 64, "audio": 62}
faiss.omp_set_num_threads(1)
res = {}
flip = {s: np.zeros(256) for s in RAD}; nflip = {s: 0 for s in RAD}
for sig, rad in RAD.items():
    codes = np.concatenate([r["codes"] for r in cat[sig]]); refid = np.concatenate([np.full(len(r["codes"]), r["ref"]) for r in cat[sig]])
    ix = faiss.IndexBinaryFlat(codes.shape[1] * 8); ix.add(codes)
    for q in qs:
        uid = q["upload"]["upload_id"]
        for label, sigs in q["streams"].items():
            if sig not in sigs or len(sigs[sig][0]) == 0: continue
            qc = np.ascontiguousarray(sigs[sig][0])
            lims, D, I = ix.range_search(qc, rad + 1)
            rows = np.repeat(np.arange(len(qc)), np.diff(lims).astype(np.int64))
            per = {}
            for r in np.unique(refid[I]) if len(I) else []:
                m = refid[I] == r
                per[int(r)] = (len(np.unique(rows[m])), int(m.sum()))
            res[(uid, label, sig)] = dict(per=per, nq=len(qc))
            # flips for the true work's hits
            tw = q["upload"].get("work_id")
            if tw and len(I):
                m = np.array([work[int(r)] == tw for r in refid[I]])
                if m.any():
                    x = np.unpackbits(qc[rows[m]] ^ codes[I[m]], axis=1)
                    flip[sig] += x.sum(0); nflip[sig] += len(x)
pickle.dump(dict(res=res, flip={s: flip[s] / max(nflip[s], 1) for s in RAD}, nflip=nflip), open("/tmp/i11/oracle.pkl", "wb"))
for s in RAD: print(s, "true hits", nflip[s], "mean flip rate", (flip[s] / max(nflip[s], 1)).mean().round(3), "min/max per bit", (flip[s]/max(nflip[s],1)).min().round(3), (flip[s]/max(nflip[s],1)).max().round(3))
