import faiss, numpy as np, os, sys
def rss():
    for l in open("/proc/self/status"):
        if l.startswith("VmRSS"): return int(l.split()[1])//1024
def maps(p):
    return [l.split()[0] for l in open("/proc/self/maps") if p in l]
kind, flagname = sys.argv[1], sys.argv[2]
p = f"/tmp/i11/mm/big_{kind}.faissb"
d = 256
if not os.path.exists(p):
    rng = np.random.default_rng(0); n = 2_000_000
    x = rng.integers(0, 256, (n, 32), dtype=np.uint8)
    if kind == "flat": ix = faiss.IndexBinaryFlat(d); ix.add(x)
    elif kind == "ivf":
        q = faiss.IndexBinaryFlat(d); ix = faiss.IndexBinaryIVF(q, d, 256); ix.own_fields=True; q.this.disown(); ix.train(x[:20000]); ix.add(x)
    elif kind == "idmap": ix = faiss.IndexBinaryIDMap(faiss.IndexBinaryFlat(d)); ix.add_with_ids(x, np.arange(len(x), dtype=np.int64))
    elif kind == "hash": ix = faiss.IndexBinaryHash(d, 64); ix.add_with_ids(x[:1000000], np.arange(1000000, dtype=np.int64))
    faiss.write_index_binary(ix, p); del ix, x
    print("written", os.path.getsize(p)); sys.exit()
flags = {"none": 0, "mmap": faiss.IO_FLAG_MMAP, "mmap_ro": faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY, "ifc": getattr(faiss, "IO_FLAG_MMAP_IFC", 0)}[flagname]
r0 = rss()
try:
    ix = faiss.read_index_binary(p, flags)
except Exception as e:
    print(kind, flagname, "FAIL", str(e).splitlines()[0][:200]); sys.exit()
print(f"{kind:6s} {flagname:8s} file {os.path.getsize(p)>>20} MiB, RSS after load +{rss()-r0} MiB, file mapped: {bool(maps(p))}", type(ix).__name__)
