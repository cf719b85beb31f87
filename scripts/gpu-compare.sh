#!/usr/bin/env bash
# The GPU check, prepared for a machine with an NVIDIA GPU and its driver but no Rust: run from
# the repository root with the binary that scripts/build-cuda.sh made (BIN) and the CUDA 13
# libraries it links (CUDA_LIBS, e.g. the wheels' nvidia/cu13/lib carried along).
#
#   BIN=thinkscale CUDA_LIBS=cu13/lib scripts/gpu-compare.sh [OUT]
#
# It runs the same work on the CPU and on cuda:0 and compares: the toy policy's majority@16 and
# weighted best-of-16 with the toy PRM on 100 problems (how many samples differ, how far PRM
# scores move), SmolLM2's greedy solutions, then `bench` on the GPU and the toy world's `run`
# throughput at N = 256. Everything lands in OUT (default gpu-check/) with a summary.txt.
set -euo pipefail
bin="${BIN:-target/cuda/release/thinkscale}"
out="${1:-gpu-check}"
export LD_LIBRARY_PATH="${CUDA_LIBS:-}:${LD_LIBRARY_PATH:-}"
smol="models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
mkdir -p "$out"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv >"$out/gpu.txt" || true
for dev in cpu cuda:0; do
  d="${dev%%:*}"
  "$bin" run --strategy majority --budget 16 --limit 100 --device "$dev" --out "$out/$d-maj16"
  "$bin" run --strategy weighted-best-of-n --verifier toy-prm --budget 16 --limit 100 \
    --device "$dev" --out "$out/$d-wbon16-prm"
  if [ -f "$smol" ]; then
    "$bin" run --policy "$smol" --strategy majority --budget 1 --temperature 0 --limit 5 \
      --max-tokens 64 --device "$dev" --out "$out/$d-smol-greedy"
  fi
done
python3 - "$out" >"$out/summary.txt" <<'PY'
import json, os, sys
out = sys.argv[1]

def records(name):
    path = os.path.join(out, name, "records.jsonl")
    if not os.path.exists(path):
        return None
    return [json.loads(l) for l in open(path) if l.strip()]

for run in ["maj16", "wbon16-prm", "smol-greedy"]:
    a, b = records("cpu-" + run), records("cuda-" + run)
    if a is None or b is None:
        print(f"{run}: missing")
        continue
    samples = differ = 0
    worst = 0.0
    for ra, rb in zip(a, b):
        for ca, cb in zip(ra["candidates"], rb["candidates"]):
            samples += 1
            ta = [s["text"] for s in ca["steps"]]
            tb = [s["text"] for s in cb["steps"]]
            if ta != tb:
                differ += 1
            else:
                for sa, sb in zip(ca["steps"], cb["steps"]):
                    worst = max(worst, abs(sa["score"] - sb["score"]))
    acc = lambda rs: sum(r["correct"] for r in rs) / len(rs)
    print(f"{run}: accuracy cpu {acc(a):.3f} gpu {acc(b):.3f}; {differ} of {samples} samples "
          f"differ; largest score difference on equal samples {worst:.2e}")
PY
cat "$out/summary.txt"
"$bin" bench --device cuda:0 --json >"$out/bench-toy.json" || true
if [ -f "$smol" ]; then
  "$bin" bench --policy "$smol" --device cuda:0 --json >"$out/bench-smollm2.json" || true
fi
/usr/bin/time -v "$bin" run --strategy weighted-best-of-n --budget 256 --limit 100 \
  --device cuda:0 --out "$out/cuda-wbon256" 2>"$out/cuda-wbon256.time" || true
echo "gpu-compare: results in $out"
