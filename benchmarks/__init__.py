"""prescreen's benchmark suite: accuracy and speed against established peers, in one run.

``python -m benchmarks`` generates a synthetic corpus with ground truth
(:mod:`benchmarks.corpus`), runs prescreen and the peers that are installed
(:mod:`benchmarks.systems`: Meta's vPDQ, Chromaprint's fpcalc) on the same
files, scores them (:mod:`benchmarks.metrics`), measures speed
(:mod:`benchmarks.speed`) and writes tables, plots and a JSON file with every
figure (:mod:`benchmarks.report`) to ``benchmarks/results/``.
"""
