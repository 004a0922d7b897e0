#!/usr/bin/env bash
# One call on a GPU machine: set-up check, GPU tests, CPU-vs-GPU agreement, a
# short benchmark, the stream overlap ratio and the video pipeline (NVDEC+NVENC).
#
#   bash benchmarks/gpu_check.sh          (from the repository root)
#
# Needs CuPy, NumPy, SciPy, OpenCV, PyAV, pytest and pytest-benchmark; installs
# nothing and runs the project from its tree (PYTHONPATH=.). Each step has its
# own time limit, cut to what is left of a 470-second total, so that the whole
# script ends within 8 minutes. Logs and JSON go to $OUT when it is set (else
# ./gpu-check-out); the summary is printed last and kept in $OUT/report.md.
# Record what it prints in benchmarks/RESULTS.md.
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH=.${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
OUT=${OUT:-gpu-check-out}
mkdir -p "$OUT"
PY=${PYTHON:-python3}
start=$(date +%s)

TOTAL=470

step() {  # step NAME SECONDS COMMAND... : run with a limit, log to $OUT/NAME.log
  local name=$1 limit=$2; shift 2
  local left=$(( TOTAL - ($(date +%s) - start) ))
  if (( left < 10 )); then echo "$name skipped (no time left)" >> "$OUT/status.txt"; return; fi
  (( limit > left )) && limit=$left
  echo "== $name (limit ${limit}s): $*"
  timeout "$limit" "$@" 2>&1 | tee "$OUT/$name.log"
  local rc=${PIPESTATUS[0]}
  echo "== $name exit $rc after $(( $(date +%s) - start ))s"
  echo "$name $rc" >> "$OUT/status.txt"
}

: > "$OUT/status.txt"
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null \
    | sed 's/^/gpu: /'
  $PY -c "import cupy, numpy, scipy, cv2; print('cupy', cupy.__version__, '| numpy', numpy.__version__, '| scipy', scipy.__version__, '| opencv', cv2.__version__)"
} 2>&1 | tee "$OUT/machine.txt"

step doctor 30 $PY -m gpudeconv doctor --require-gpu
step gpu-tests 170 $PY -m pytest -m gpu -q -p no:cacheprovider -o addopts="" -rs
step verify 80 $PY -m gpudeconv verify --backend cupy
step overlap 60 $PY benchmarks/gpu_overlap.py --repeat 3 --json "$OUT/overlap.json"
step video 110 $PY benchmarks/video_pipeline.py --frames 90 --sizes 1080p --no-peer
step bench 120 $PY -m gpudeconv bench --backends cupy --sizes 512 1080p 4k --batch-sizes 1 8 32 \
  --repeat 3 --json "$OUT/bench.json" --plot "$OUT/bench.png"

{
echo
echo "==================== summary ===================="
cat "$OUT/machine.txt"
echo "-- steps (exit status; 124 = timed out)"
cat "$OUT/status.txt"
echo "-- gpu tests"
tail -n 1 "$OUT/gpu-tests.log"
echo "-- verify"
grep -E "^FAIL|cases within tolerance|no usable GPU" "$OUT/verify.log" | tail -n 12
echo "-- bench"
grep -E "^\|" "$OUT/bench.log"
echo "-- video: 1080p H.264 in, NVDEC -> restore (planes and BGR routes) -> NVENC, frames/s (goal: pipeline >= 200)"
grep -E "^\||^load" "$OUT/video.log"
echo "-- overlap (host to host over serial upload+compute+download; goal <= 0.6)"
grep -E "^\|" "$OUT/overlap.log"
echo "-- doctor"
cat "$OUT/doctor.log"
echo "total $(( $(date +%s) - start ))s"
} 2>&1 | tee "$OUT/report.md"
