#!/usr/bin/env bash
# Installs the Debian packages a make target needs, once.
#   scripts/deps.sh build|test|bench|python|mpi|torch|coverage|fuzz ...
# As root it runs apt-get update + apt-get install for whatever is missing; otherwise it prints
# the exact command to run and fails. Packages already installed are not touched.
set -euo pipefail

pkgs_for() {
  case "$1" in
    build)  echo "pkg-config libblosc-dev libxxhash-dev" ;;
    test)   echo "libopenmpi-dev openmpi-bin flatbuffers-compiler python3-flatbuffers python3-numpy python3-pytest python3-dev python3-setuptools python3-torch python3-ase python3-lmdb python3-msgpack xcrysden-data gnuplot-nox" ;;
    bench)  echo "liblmdb-dev libsqlite3-dev libhdf5-dev hdf5-filter-plugin-blosc-serial gnuplot-nox python3-h5py python3-msgpack python3-lmdb e2fsprogs util-linux" ;;
    python) echo "python3-dev python3-setuptools python3-wheel python3-numpy python3-pytest python3-pip python3-venv" ;;
    mpi)    echo "libopenmpi-dev openmpi-bin" ;;
    torch)  echo "python3-torch" ;;
    coverage) echo "lcov valgrind" ;;
    fuzz)   echo "clang" ;;
    *) echo "deps.sh: unknown group '$1'" >&2; exit 2 ;;
  esac
}

missing=()
for group in "$@"; do
  for p in $(pkgs_for "$group"); do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    case "$status" in
      *" installed") ;;
      *) missing+=("$p") ;;
    esac
  done
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "vlstore needs these Debian packages: ${missing[*]}" >&2
  echo "Install them as root with:  apt-get update && apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "Installing Debian packages: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get -o DPkg::Lock::Timeout=600 update -qq
apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >&2
