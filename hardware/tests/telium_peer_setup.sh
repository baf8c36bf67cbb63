#!/usr/bin/env bash
# Prepares the independent protocol E peer used by hardware/tests/terminal.rs: a throwaway
# virtualenv with PyPI's pyTeliumManager 2.4.2 (the cash-register side, in Python) plus the
# fake terminal its source distribution ships in test/test_tpe.py (extracted next to it).
# Idempotent and safe to run concurrently; prints the virtualenv directory.
#
# Needs: python3 with the venv module, network access to PyPI on first run, flock (util-linux).
set -euo pipefail

dir="${SERVICEHALL_TELIUM_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/servicehall/venv-telium}"
mkdir -p "$(dirname "$dir")"
exec 9>"$dir.lock"
flock -w 600 9

if [ -f "$dir/.ready" ]; then
    echo "$dir"
    exit 0
fi

rm -rf "$dir"
python3 -m venv "$dir"
pip=("$dir/bin/python" -m pip --disable-pip-version-check -q)
# Faker is what test_tpe.py uses for its fake card numbers (pyTeliumManager's tests_require).
"${pip[@]}" install pyTeliumManager==2.4.2 Faker==40.63.0
"${pip[@]}" download --no-binary :all: --no-deps -d "$dir/sdist" pyTeliumManager==2.4.2
"$dir/bin/python" - "$dir" <<'PY'
import pathlib, sys, tarfile
root = pathlib.Path(sys.argv[1])
out = root / "telium-test"
out.mkdir(exist_ok=True)
(sdist,) = (root / "sdist").glob("pyTeliumManager-2.4.2.tar.gz")
with tarfile.open(sdist) as tar:
    member = tar.getmember("pyTeliumManager-2.4.2/test/test_tpe.py")
    (out / "test_tpe.py").write_bytes(tar.extractfile(member).read())
PY
touch "$dir/.ready"
echo "$dir"
