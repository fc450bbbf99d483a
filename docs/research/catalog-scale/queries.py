import json, sys, time, numpy as np, pickle
from pathlib import Path
from fingerprint import fingerprint_file, FingerprintParams, QUERY
from service.config import load_config
corpus = Path(sys.argv[1]); out = Path(sys.argv[2]); out.mkdir(exist_ok=True)
g = json.load(open(corpus / "ground_truth.json"))
ups = [u for u in g["uploads"] if u["upload_id"].endswith("-1")]
params = FingerprintParams()
t = time.process_time()
for u in ups:
    p = out / (u["upload_id"] + ".pkl")
    if p.exists(): continue
    try:
        ff = fingerprint_file(corpus / u["path"], QUERY, params)
    except Exception as e:
        print("fail", u["upload_id"], e); continue
    keep = {}
    for label, sigs in ff.streams.items():
        keep[label] = {s: (fp.codes, fp.starts, fp.ends, fp.variants) for s, fp in sigs.items() if s in ("video", "audio", "landmark")}
    pickle.dump({"upload": u, "streams": keep}, open(p, "wb"))
    print(u["upload_id"], round(time.process_time() - t, 1), flush=True)
