#!/usr/bin/env bash
# Static IaC scan of terraform/ with checkov.
#
# Usage: terraform/check.sh [DIR]    (DIR defaults to this directory)
#
# checkov pulls in a large dependency tree (boto3, aiohttp, ...) whose versions clash
# with the pins in pyproject.toml, so it lives in its own virtualenv next to the
# project venv. The venv is created on first use and reused afterwards.
#
# Exit status: 0 when every check passes (suppressions are inline, each with a
# reason), non-zero on any failed check or on a tooling error.
set -euo pipefail

CHECKOV_VERSION="3.3.30"

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
venv="${CHECKOV_VENV:-$repo/.venv-checkov}"
python="${CHECKOV_PYTHON:-python3}"

installed_version() {
  "$venv/bin/python" - <<'PY' 2>/dev/null || true
from importlib.metadata import version
print(version("checkov"))
PY
}

if [[ ! -x "$venv/bin/checkov" || "$(installed_version)" != "$CHECKOV_VERSION" ]]; then
  # Serialise concurrent first runs (e.g. two test sessions) on the same venv.
  mkdir -p "$venv"
  exec 9>"$venv/.install.lock"
  flock 9
  if [[ ! -x "$venv/bin/checkov" || "$(installed_version)" != "$CHECKOV_VERSION" ]]; then
    echo "check.sh: installing checkov==$CHECKOV_VERSION into $venv" >&2
    start=$SECONDS
    "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "checkov==$CHECKOV_VERSION" >&2
    echo "check.sh: install took $((SECONDS - start))s" >&2
  fi
  flock -u 9
  exec 9>&-
fi

target="$(cd "${1:-$here}" && pwd)"
cd "$target"
start=$SECONDS
# .checkov.yaml carries the same settings; the flags are repeated so the invocation is
# self-explanatory. checkov exits 1 on any failed check (no soft-fail).
set +e
"$venv/bin/checkov" \
  --config-file "$here/.checkov.yaml" \
  --directory "$target" \
  --framework terraform \
  --quiet --compact
rc=$?
set -e
echo "check.sh: checkov took $((SECONDS - start))s (exit $rc)" >&2
exit "$rc"
