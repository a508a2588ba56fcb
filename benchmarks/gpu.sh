#!/usr/bin/env bash
# The GPU checks and the GPU sweep in one go: bash benchmarks/gpu.sh OUT [SWEEP_SECONDS]
#
# Run from the checkout, with the package installed as the README says, on a machine with one
# CUDA GPU. Everything lands in OUT (kept to a few files):
#   gpu.txt          the GPU, driver, CUDA and torch versions (and the speed script's errors)
#   gpu-tests.txt    the GPU-marked tests (tests/test_gpu.py, tests/test_batching.py, tests/test_fleets.py)
#   speed.json       the original loop, eager on the GPU, against sgd-sin (CUDA graphs, seeds
#                    batched), and the networks' step time, 1 seed and 20 (benchmarks/speed.py)
#   full/            records of `bench run --profile full --device cuda --seeds 20`: the networks
#                    on the failure map's tasks first, then everything else, until SWEEP_SECONDS
#                    (default 360) have passed; an interrupted sweep keeps every finished run
#   sweep.log        the sweep's progress
# Each stage has its own time limit and a failing stage does not stop the next. Then build the
# tables with `python -m bench report OUT/full`.
#
# For the publication, PUBLISH=FOLDER (a cuda folder of results/plan.toml) makes the sweep stage
# `python -m bench publish --device cuda --only FOLDER --staging OUT/publish --resume` instead,
# with BENCH_SOURCE_COMMIT set to the commit the copy was taken from (the device's copy may
# carry a stale .git). Bring OUT/publish/FOLDER back as runs/publish/FOLDER (or carry it to the
# next device call to go on), and in the checkout at that commit's code:
#   python -m bench publish --only FOLDER --no-run     # checks the code hash, then publishes DEVICE=cpu runs the same stages on the CPU
# (a dry run of the script itself); JOBS=N sets the sweep's workers (default: cores - 2).
set -uo pipefail
out=${1:?usage: benchmarks/gpu.sh OUT [SWEEP_SECONDS]}
sweep_s=${2:-360}
device=${DEVICE:-cuda}
# Workers: the host's cores less two (the command and dask's scheduler), at least one; most
# units are CPU work (the estimators) or small GPU steps that share the device well.
cores=$(nproc 2>/dev/null || echo 4)
jobs=${JOBS:-$(( cores > 2 ? cores - 2 : 1 ))}
py=${PYTHON:-python3}
export PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1
mkdir -p "$out"
start=$(date +%s)
lap() { echo "gpu.sh: $1 ($(( $(date +%s) - start )) s)"; }

{
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1 || echo "no nvidia-smi"
  "$py" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)"
} >"$out/gpu.txt" 2>&1
lap "environment: $(tail -n 2 "$out/gpu.txt" | tr '\n' ' ')"

timeout 300 "$py" -m pytest -q -m gpu tests/test_gpu.py tests/test_batching.py tests/test_fleets.py -p no:cacheprovider >"$out/gpu-tests.txt" 2>&1
lap "GPU tests: $(tail -n 1 "$out/gpu-tests.txt")"

if [ "$device" = cpu ]; then steps=2000; else steps=20000; fi
# The checkout on the path too: the script imports bench even where the package went into
# another interpreter's site-packages.
PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" timeout 180 "$py" benchmarks/speed.py --device "$device" --steps "$steps" --original-steps 3000 \
  --seeds 20 --out "$out/speed.json" >/dev/null 2>>"$out/gpu.txt"
lap "speed: $(tr -d '\n ' <"$out/speed.json" 2>/dev/null | head -c 400)"

# The sweep: networks on the failure map's tasks first, then the rest (--resume skips what is
# done). SIGINT at the deadline: the harness records every finished run and stops cleanly.
nets=(siren snake gelu-mlp)
first=('tone*' sin31 'clock[encoding=int64,span=120y]' 'clock[encoding=int64,span=1d]')
deadline=$(( $(date +%s) + sweep_s ))
left() { echo $(( deadline - $(date +%s) )); }
run() {
  local t; t=$(left)
  if [ "$t" -le 5 ]; then return 0; fi
  timeout -s INT -k 30 "$t" "$py" -m bench run --profile full --device "$device" --seeds 20 \
    --jobs "$jobs" --out "$out/full" --resume --no-report "$@" >>"$out/sweep.log" 2>&1
}
if [ -n "${PUBLISH:-}" ]; then
  : "${BENCH_SOURCE_COMMIT:?PUBLISH needs BENCH_SOURCE_COMMIT, the commit this copy was taken from}"
  export BENCH_SOURCE_COMMIT
  t=$(left)
  timeout -s INT -k 30 "$t" "$py" -m bench publish --device "$device" --only "$PUBLISH" \
    --staging "$out/publish" --resume --jobs "$jobs" >>"$out/sweep.log" 2>&1
  lap "publish $PUBLISH: staged in $out/publish/$PUBLISH, done or out of time"
  exit 0
fi
run --methods "${nets[@]}" --tasks "${first[@]}"
lap "networks on the failure map's tasks"
run --all
lap "sweep done or out of time"
"$py" -m bench run --profile full --device "$device" --seeds 20 --all --resume --dry-run --list \
  --out "$out/full" >"$out/not-run.txt" 2>&1
lap "units not run: $(grep -c . "$out/not-run.txt")"
