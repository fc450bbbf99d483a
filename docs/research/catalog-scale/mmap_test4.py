import faiss, numpy as np
rng = np.random.default_rng(1); qq = rng.integers(0,256,(20,32),dtype=np.uint8)
iv = faiss.read_index_binary("/tmp/i11/mm/big_ivf.faissb", faiss.IO_FLAG_MMAP)
print("ivf invlists", type(faiss.downcast_InvertedLists(iv.invlists)).__name__)
iv.nprobe=4; print(iv.search(qq[:2], 2)[0])
try:
    iv.add(qq); print("add to mmapped ivf ok", iv.ntotal)
except Exception as e: print("ivf add fails:", str(e).splitlines()[0][:150])
