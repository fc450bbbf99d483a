import sqlite3, pickle, numpy as np
from pathlib import Path
def load_catalog(home):
    db = sqlite3.connect(f"file:{home}/catalog.sqlite?mode=ro", uri=True)
    work = {r[0]: r[1] for r in db.execute("select ref_id, work_id from refs")}
    out = {}
    for ref_id, sig, n, cb, codes, st, en, va in db.execute("select ref_id, signal, n, code_bytes, codes, starts, ends, variants from fingerprints"):
        if n == 0: continue
        out.setdefault(sig, []).append(dict(ref=ref_id, work=work[ref_id], codes=np.frombuffer(codes, np.uint8).reshape(n, cb),
            starts=np.frombuffer(st, np.float64), ends=np.frombuffer(en, np.float64), variants=np.frombuffer(va, np.uint8)))
    return out, work
def load_queries(folder):
    qs = []
    for p in sorted(Path(folder).glob("*.pkl")):
        qs.append(pickle.load(open(p, "rb")))
    return qs
