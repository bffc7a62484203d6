# shellcheck shell=bash
# Sourced by the shell scripts: sets one PIN_* variable per value of pins.json, the project's one
# version manifest (pins.json "minio": {"goVersion": ...} becomes PIN_MINIO_GO_VERSION; a list
# becomes its items separated by spaces). Reads it with node, or python3 where node is missing.
# PINS_FILE overrides the manifest's path.
PINS_FILE=${PINS_FILE:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/pins.json}

# pins_lines FILE: NAME=VALUE lines; fails on a value that is not a plain version-like word.
pins_lines() {
  if command -v node >/dev/null 2>&1; then
    # shellcheck disable=SC2016 # JavaScript, not shell
    node -e '
const pins = JSON.parse(require("node:fs").readFileSync(process.argv[1], "utf8"));
const name = (k) => k.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toUpperCase();
const walk = (prefix, v) => {
  if (v !== null && typeof v === "object" && !Array.isArray(v)) {
    for (const [k, x] of Object.entries(v)) walk(prefix + "_" + name(k), x);
    return;
  }
  const s = Array.isArray(v) ? v.join(" ") : String(v);
  if (!/^[A-Za-z0-9._:@+\/ -]+$/.test(s)) throw new Error(`pins.json: ${prefix}: unexpected value ${JSON.stringify(v)}`);
  console.log(`${prefix}=${s}`);
};
for (const [k, v] of Object.entries(pins)) walk("PIN_" + name(k), v);
' "$1"
  elif command -v python3 >/dev/null 2>&1; then
    python3 -c '
import json, re, sys
def name(k): return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", k).upper()
def walk(prefix, v):
    if isinstance(v, dict):
        for k, x in v.items(): walk(prefix + "_" + name(k), x)
        return
    s = " ".join(str(x) for x in v) if isinstance(v, list) else str(v)
    if not re.fullmatch(r"[A-Za-z0-9._:@+/ -]+", s): sys.exit(f"pins.json: {prefix}: unexpected value {v!r}")
    print(f"{prefix}={s}")
for k, v in json.load(open(sys.argv[1])).items(): walk("PIN_" + name(k), v)
' "$1"
  else
    echo "pins.sh: neither node nor python3 found; one of them reads $1" >&2
    return 1
  fi
}

_pins_out=$(pins_lines "$PINS_FILE") || { echo "pins.sh: cannot read $PINS_FILE" >&2; exit 1; }
while IFS='=' read -r _pin_name _pin_value; do
  printf -v "$_pin_name" '%s' "$_pin_value"
done <<<"$_pins_out"
unset _pins_out _pin_name _pin_value
