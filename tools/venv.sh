# Sourced by tools/make_fixtures and scripts/bench-vs-peft: one Python environment for both.
# Creates tools/.venv from tools/requirements.txt on first use and whenever that file changes, and sets
# $VENV_PYTHON to its interpreter.
_tools="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ensure_venv() {
  # POLYPROMPT_VENV points at an existing environment instead (e.g. another checkout's).
  local venv="${POLYPROMPT_VENV:-$_tools/.venv}" req="$_tools/requirements.txt"
  local stamp="$venv/.requirements.sha256" want
  want="$(sha256sum "$req" | cut -d' ' -f1)"
  if [[ ! -x "$venv/bin/python" || "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]]; then
    echo "creating $venv (downloads ~3 GB of wheels the first time)" >&2
    python3 -m venv --clear "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps -r "$req"
    echo "$want" > "$stamp"
  fi
  VENV_PYTHON="$venv/bin/python"
}
