import sqlite3, sys, os, json
from pathlib import Path
home = Path(sys.argv[1])
db = sqlite3.connect(f"file:{home/'catalog.sqlite'}?mode=ro", uri=True)
dur_v = db.execute("select sum(duration) from refs where has_video").fetchone()[0] or 0
dur_all = db.execute("select sum(duration) from refs").fetchone()[0]
print("refs", db.execute("select count(*) from refs").fetchone()[0], "duration s", round(dur_all,1), "video s", round(dur_v,1))
tot = 0
rows = db.execute("select signal, sum(n), code_bytes, sum(length(codes)), sum(length(starts)), sum(length(ends)), sum(length(variants)) from fingerprints group by signal").fetchall()
print(f"{'signal':9s} {'codes':>8s} {'B/code':>6s} {'codes/s':>8s} {'codeB/s':>8s} {'timesB/s':>8s} {'varB/s':>7s} {'total B/s':>9s}")
for s, n, cb, c, st, en, va in rows:
    t = c+st+en+va; tot += t
    print(f"{s:9s} {n:8d} {cb:6d} {n/dur_all:8.2f} {c/dur_all:8.0f} {(st+en)/dur_all:8.0f} {va/dur_all:7.1f} {t/dur_all:9.0f}")
print("fingerprint blobs total B/s", round(tot/dur_all))
sz = os.path.getsize(home/'catalog.sqlite') + (os.path.getsize(str(home/'catalog.sqlite')+'-wal') if os.path.exists(str(home/'catalog.sqlite')+'-wal') else 0)
print("catalog.sqlite bytes", os.path.getsize(home/'catalog.sqlite'), "B/s", round(os.path.getsize(home/'catalog.sqlite')/dur_all))
for tbl in [r[0] for r in db.execute("select name from sqlite_master where type='table'")]:
    try:
        r = db.execute(f"select sum(pgsize) from dbstat where name=?", (tbl,)).fetchone()[0]
        print("  table", tbl, r, "B/s", round((r or 0)/dur_all))
    except Exception as e:
        print("  dbstat n/a", e); break
idx = home/'index'
for f in sorted(idx.iterdir()):
    print("index", f.name, f.stat().st_size, "B/s", round(f.stat().st_size/dur_all))
print("index total B/s", round(sum(f.stat().st_size for f in idx.iterdir())/dur_all))
