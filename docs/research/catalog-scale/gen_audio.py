import sys, time, numpy as np, pickle
from scipy.signal import resample_poly
from mediagen.synth import synth_music
from fingerprint.audio import reference_audio_fingerprint, AudioParams
p = AudioParams()
print("audio sample rate", p.sample_rate)
t = time.process_time()
out = []
n, dur = int(sys.argv[1]), float(sys.argv[2])
for s in range(n):
    x = synth_music(50000 + s, dur, sample_rate=22050); x = resample_poly(x, 1, 2)
    fp = reference_audio_fingerprint(x.astype(np.float32), p)
    out.append(fp.codes)
    if s % 10 == 0: print(s, len(fp.codes), round(time.process_time() - t, 1), flush=True)
pickle.dump(out, open("/tmp/i11/filler_audio.pkl", "wb"))
print("done", sum(len(c) for c in out), "codes", round(time.process_time() - t, 1), "cpu s")
