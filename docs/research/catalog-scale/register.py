import sys, time, os, shutil
from pathlib import Path
from service import Prescreen
home = Path(sys.argv[1]); src = Path(sys.argv[2])
if home.exists(): shutil.rmtree(home)
os.environ.setdefault("PRESCREEN_AUDIT_KEY", "x"*40)
p = Prescreen(home, create=True)
t=time.process_time()
for f in sorted(src.iterdir()):
    p.register([str(f)], work_id=f.stem, title=f.stem, owner=f.stem, check_conflicts=False)
    print(f.name, round(time.process_time()-t,1), flush=True)
