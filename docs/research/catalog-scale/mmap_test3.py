import faiss, numpy as np, time
p = "/tmp/i11/mm/big_flat.faissb"
a = faiss.read_index_binary(p, 0); b = faiss.read_index_binary(p, faiss.IO_FLAG_MMAP_IFC)
q = faiss.rev_swig_ptr(a.xb.data(), 64)  if False else None
rng = np.random.default_rng(1); qq = rng.integers(0,256,(20,32),dtype=np.uint8)
faiss.omp_set_num_threads(1)
t=time.process_time(); ra = a.search(qq, 5); t1=time.process_time(); rb = b.search(qq, 5); t2=time.process_time()
print("same", np.array_equal(ra[1], rb[1]), "cpu s ram", round(t1-t,2), "mmap", round(t2-t1,2))
try:
    b.add(qq); print("add to mmapped ok, ntotal", b.ntotal)
except Exception as e: print("add fails:", str(e).splitlines()[0][:150])
iv = faiss.read_index_binary("/tmp/i11/mm/big_ivf.faissb", faiss.IO_FLAG_MMAP)
print("ivf invlists type", type(faiss.downcast_InvertedLists(iv.invlists)).__name__ if hasattr(faiss,'downcast_InvertedLists') else iv.invlists)
try:
    iv.add(qq); print("add to mmapped ivf ok")
except Exception as e: print("ivf add fails:", str(e).splitlines()[0][:150])
