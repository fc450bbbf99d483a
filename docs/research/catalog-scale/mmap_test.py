import faiss, numpy as np, os, resource, sys
print("faiss", faiss.__version__, "IO_FLAG_MMAP", faiss.IO_FLAG_MMAP, "READ_ONLY", getattr(faiss, "IO_FLAG_READ_ONLY", None), "MMAP_IFC", getattr(faiss, "IO_FLAG_MMAP_IFC", None))
rng = np.random.default_rng(0)
n, d = 200_000, 256
x = rng.integers(0, 256, (n, d // 8), dtype=np.uint8)
ids = np.arange(n, dtype=np.int64) + (7 << 32)
def mk(kind):
    if kind == "flat": return faiss.IndexBinaryFlat(d)
    if kind == "idmap_flat":
        return faiss.IndexBinaryIDMap(faiss.IndexBinaryFlat(d))
    if kind == "ivf":
        q = faiss.IndexBinaryFlat(d); ix = faiss.IndexBinaryIVF(q, d, 256); ix.own_fields = True; q.this.disown(); ix.train(x[:20000]); return ix
    if kind == "hash": return faiss.IndexBinaryHash(d, 64)
    if kind == "multihash": return faiss.IndexBinaryMultiHash(d, 8, 32)
    if kind == "hnsw": return faiss.IndexBinaryHNSW(d, 16)
for kind in ["flat", "idmap_flat", "ivf", "hash", "multihash", "hnsw"]:
    ix = mk(kind)
    try:
        if kind in ("idmap_flat", "ivf", "hash"): ix.add_with_ids(x, ids)
        else: ix.add(x[:50000] if kind == "hnsw" else x)
    except Exception as e:
        print(kind, "add fail", str(e)[:100]); continue
    p = f"/tmp/i11/mm/{kind}.faissb"
    faiss.write_index_binary(ix, p)
    q = x[:50]
    ref = ix.search(q, 3)
    for flag, name in [(faiss.IO_FLAG_MMAP, "MMAP"), (faiss.IO_FLAG_MMAP | getattr(faiss, "IO_FLAG_READ_ONLY", 0), "MMAP|RO")]:
        try:
            r0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            m = faiss.read_index_binary(p, flag)
            got = m.search(q, 3)
            same = np.array_equal(got[1], ref[1])
            print(f"{kind:11s} {name:8s} ok type={type(m).__name__} same={same} file={os.path.getsize(p)} B ({os.path.getsize(p)/len(x) if kind!='hnsw' else os.path.getsize(p)/50000:.1f} B/code)")
        except Exception as e:
            print(f"{kind:11s} {name:8s} FAIL {str(e).splitlines()[0][:160]}")
