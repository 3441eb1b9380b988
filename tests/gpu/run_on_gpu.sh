#!/usr/bin/env bash
# On a machine with NVIDIA GPUs: install tugboat, run tests/gpu, start `tug up`, run a CUDA job
# through tug, and print discovery next to `nvidia-smi -q`, the job's GPU attribution, and the
# cost of NVML sampling. Usage: bash tests/gpu/run_on_gpu.sh   (from a checkout; ~5 minutes)
set -uo pipefail
cd "$(dirname "$0")/../.."
python3 -m venv .venv-gpu && . .venv-gpu/bin/activate
pip install -q -e '.[test]' || exit 1
python -c "import torch" 2>/dev/null || pip install -q torch || echo "(no torch: the job only reports its GPU)"
echo "== nvidia-smi"; nvidia-smi -L; nvidia-smi --query-gpu=index,uuid,name,memory.total,driver_version --format=csv
echo "== tests/gpu"; pytest -q -rs -s tests/gpu
export TUG_HOME; TUG_HOME=$(mktemp -d /tmp/tug-gpu.XXXX)
tug up --headless --port 0 > "$TUG_HOME/up.log" 2>&1 &
for _ in $(seq 120); do tug get nodes >/dev/null 2>&1 && break; sleep 1; done
sleep 5
echo "== discovery (tug)"; tug get nodes -o wide; tug describe node | sed -n '/^Labels/,/^Annotations/p;/^Conditions/,/^Addresses/p'
tug get nodes -o json | python -c 'import json,sys; [print(g) for n in json.load(sys.stdin)["items"] for g in n["status"].get("gpus", [])]'
echo "== the CUDA job"; tug apply -f configs/examples/gpu-matmul.yaml
for _ in $(seq 180); do [ "$(tug get pod gpu-matmul -o json | python -c 'import json,sys; print(json.load(sys.stdin)["status"].get("phase"))')" = Running ] && break; sleep 1; done
sleep 15
tug top nodes; tug top pods
tug get pod gpu-matmul -o json | python -c 'import json,sys; print("attribution:", json.load(sys.stdin)["status"].get("gpus"))'
python - <<'PY'
import json, statistics, time
from engine.client import Client
from gpu import Nvml
c = Client.from_config()
node = c.list("nodes", namespace=None)["items"][0]["metadata"]["name"]
h = c.request("GET", f"/apis/tugboat.dev/v1/nodes/{node}/gpus")
print("samples kept:", len(h["samples"]), "period:", h["periodSeconds"], "s; last:", json.dumps(h["samples"][-1])[:600])
nv = Nvml(); inv = nv.discover(); times = []
for _ in range(200):
    t = time.perf_counter(); nv.sample(); times.append(time.perf_counter() - t)
per = statistics.median(times)
print(f"NVML sample(): {per*1e6:.0f} us per tick for {len(inv.gpus)} GPU(s) = {per*1e6/max(len(inv.gpus),1):.0f} us per GPU;"
      f" at one tick per 2 s that is {per/2*100:.3f}% of a core")
PY
tug logs -f gpu-matmul
echo "== nvidia-smi -q (head)"; nvidia-smi -q | head -60
tug down
