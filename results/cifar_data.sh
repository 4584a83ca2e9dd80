# Sourced by the CIFAR reproduction scripts (from the repository root): CIFAR-10's binary
# batches in $CIFAR_DIR/cifar-10-batches-bin (default ~/.cache/hyperprune), fetched when
# missing -- on this project's offline machines written from their JPEG copy (about 10 s;
# results then say "CIFAR-10 (JPEG copy)"), anywhere else downloaded (the canonical
# release, MD5-checked, about 170 MB).
CIFAR_DIR=${CIFAR_DIR:-$HOME/.cache/hyperprune}
if [ ! -f "$CIFAR_DIR/cifar-10-batches-bin/test_batch.bin" ]; then
  if [ -f ../shared/data/cifar10_from_jpeg.py ]; then
    ${PY:-python3} ../shared/data/cifar10_from_jpeg.py "$CIFAR_DIR/cifar-10-batches-bin"
  else
    ${HP:-hyperprune} download cifar10 --data-dir "$CIFAR_DIR"
  fi
fi
