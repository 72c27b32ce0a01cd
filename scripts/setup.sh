#!/usr/bin/env bash
# Installs what Tandem needs on a fresh Debian machine that has Swift: OpenBLAS (with pkg-config), hnswlib, OpenMPI, and python3 with
# pip and venv (to download the recbole wheel that ships MovieLens-100k, and Schemathesis for the API contract test). Safe to run again: installs only what is missing.
set -euo pipefail
need=()
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
{ command -v pkg-config >/dev/null 2>&1 && pkg-config --exists openblas; } || need+=(libopenblas-dev)
[ -f /usr/include/hnswlib/hnswlib.h ] || need+=(libhnswlib-dev)
command -v python3 >/dev/null 2>&1 || need+=(python3)
python3 -m pip --version >/dev/null 2>&1 || need+=(python3-pip)
python3 -c "import ensurepip, venv" >/dev/null 2>&1 || need+=(python3-venv)
command -v sha256sum >/dev/null 2>&1 || need+=(coreutils)
# OpenMPI, for the data-parallel build (`--traits MPI`) and its 2-rank tests; the default build does not need it.
{ command -v pkg-config >/dev/null 2>&1 && pkg-config --exists ompi-c; } || need+=(libopenmpi-dev)
command -v mpirun >/dev/null 2>&1 || need+=(openmpi-bin)
if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing ${need[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi
pkg-config --exists openblas || { echo "setup: pkg-config cannot find openblas after install" >&2; exit 1; }
