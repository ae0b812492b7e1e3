#!/usr/bin/env bash
# Every GPU measurement of picnn in one short session (device time is scarce): the benchmark, the
# time-to-accuracy run, Table 1's GPU cells and the paper architectures' images/s table (benchmarks/throughput.py),
# each under its own time limit so one overrun cannot take the others with it. Everything is written under a work
# folder and packed into $OUT/gpu_session.tgz (the device tool returns at most 8 files).
#   bash benchmarks/gpu_session.sh            # on a CUDA machine, from the repository root
#   TINY=1 bash benchmarks/gpu_session.sh     # seconds-long settings, runnable on a CPU
# Expects CIFAR-10 (or a subset made by benchmarks/make_subset.py) as .gpu/src/cifar10.npz. The machine has no git:
# call it as `PICNN_GIT_COMMIT=<sha of the tree sent> bash benchmarks/gpu_session.sh` so the results name their commit.
set -u
OUT=${OUT:-benchmarks/results/gpu-session}
WORK=${WORK:-$(mktemp -d)}
mkdir -p "$OUT" "$WORK"
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1 PICNN_DATA=$PWD/.gpu/src MPLBACKEND=Agg
PY=${PY:-python3}
if [ "${TINY:-0}" = 1 ]; then
  DEV=cpu; BENCH="--tiny"; TTA="--epochs 1 --train-subset 600 --test-subset 200 --arch resnet20"
  TABLE="--epochs 1 --train-subset 600 --test-subset 200 --archs resnet20"; LIM=(300 300 300 300)
  THROUGHPUT="--archs resnet18 --image-size 64 --batch-size 2 --steps 1 --warmup 1"
else
  DEV=cuda; BENCH=""; TTA="--epochs ${TTA_EPOCHS:-10}"; TABLE="--epochs ${TABLE_EPOCHS:-10} --archs ${ARCHS:-resnet18}"
  LIM=(${LIMITS:-140 60 90 180}); THROUGHPUT=
fi
pack() { tar czf "$OUT/gpu_session.tgz" -C "$WORK" . ; ls -la "$OUT"; }
trap pack EXIT
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>/dev/null; $PY -c "import torch; print('torch', torch.__version__)"; } | tee "$WORK/device.txt"
timeout "${LIM[0]}" $PY -m benchmarks.run --device $DEV $BENCH --out "$WORK/bench" 2>&1 | tee "$WORK/bench.log"
timeout "${LIM[1]}" $PY -m benchmarks.time_to_accuracy --device $DEV $TTA --data-root .gpu/src --out "$WORK/tta" 2>&1 | tee "$WORK/tta.log"
timeout "${LIM[2]}" $PY -m benchmarks.gpu_table --device $DEV $TABLE --data-root .gpu/src --out "$WORK/results_gpu" 2>&1 | tee "$WORK/table.log"
# every paper architecture at 224 px, PICNN then STD; the JSON is rewritten after each row, so a time-out keeps the rows done
timeout "${LIM[3]:-180}" $PY -m benchmarks.throughput --device $DEV $THROUGHPUT --out "$WORK/throughput" 2>&1 | tee "$WORK/throughput.log"
