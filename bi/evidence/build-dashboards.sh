#!/usr/bin/env bash
# `make dashboards`: builds the Evidence project in bi/evidence against data/published/opskpi.duckdb and puts the
# static site in data/published/dashboards/ (docs/bi.md, "Dashboards (Evidence)").
#
# - node packages are installed with `npm ci` (package-lock.json) into bi/evidence/node_modules only when that
#   folder is missing or older than package.json / package-lock.json; never into .venv.
# - every npm step runs under `timeout`: an Evidence whose DuckDB-Wasm lacks parquet waits forever for a download
#   (docs/bi.md), and a CI run must end with an error instead.
# - the site is copied to a new directory data/published/.dashboards/<stamp>/ and the symlink
#   data/published/dashboards is renamed over the old one, so a reader sees the previous site or the new one,
#   never a half-copied one; the build before the previous one is removed.
set -euo pipefail

project="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$project/../.." && pwd)"
published="$root/data/published"
db="$published/opskpi.duckdb"
: "${NPM_INSTALL_TIMEOUT:=900}" "${SOURCES_TIMEOUT:=300}" "${BUILD_TIMEOUT:=1200}"

if [[ ! -f "$db" ]]; then
  echo "dashboards: $db is missing; run make demo first (or a pipeline run that publishes the marts)" >&2
  exit 1
fi
command -v npm >/dev/null || { echo "dashboards: npm is missing (Node.js >= 18 is needed)" >&2; exit 1; }

logs="$root/data/logs/dashboards"
mkdir -p "$logs"

step() {  # step NAME TIMEOUT_S COMMAND...: run in the project folder, output to a log shown on failure
  local name="$1" limit="$2"; shift 2
  local started=$SECONDS rc=0 log="$logs/${name// /-}.log"
  echo "dashboards: $name (log: ${log#"$root"/})"
  (cd "$project" && timeout --kill-after=30 "$limit" "$@") >"$log" 2>&1 || rc=$?
  if (( rc == 124 || rc == 137 )); then
    tail -n 40 "$log" >&2
    echo "dashboards: '$name' did not finish within ${limit}s and was stopped (log: $log)" >&2
    exit 1
  elif (( rc != 0 )); then
    tail -n 60 "$log" >&2
    echo "dashboards: '$name' failed (exit $rc; log: $log)" >&2
    exit "$rc"
  fi
  echo "dashboards: $name took $((SECONDS - started)) s"
}

stamp="$project/node_modules/.opskpi-installed"
if [[ ! -f "$stamp" || "$project/package.json" -nt "$stamp" || "$project/package-lock.json" -nt "$stamp" ]]; then
  step "npm ci" "$NPM_INSTALL_TIMEOUT" npm ci --no-audit --no-fund
  touch "$stamp"
fi

step "npm run sources" "$SOURCES_TIMEOUT" npm run --silent sources
# build:strict fails on a query error or an empty chart instead of rendering an error box into the page.
step "npm run build" "$BUILD_TIMEOUT" npm run --silent build:strict

[[ -f "$project/build/index.html" ]] || { echo "dashboards: the build wrote no build/index.html" >&2; exit 1; }

builds="$published/.dashboards"
version="$(date -u +%Y%m%dT%H%M%SZ)-$$"
mkdir -p "$builds"
cp -R "$project/build" "$builds/$version.tmp"
mv "$builds/$version.tmp" "$builds/$version"

link="$published/dashboards"
if [[ -e "$link" && ! -L "$link" ]]; then  # a plain directory from elsewhere: move it aside first
  mv "$link" "$builds/replaced-$version"
fi
previous="$(readlink "$link" 2>/dev/null || true)"
ln -s ".dashboards/$version" "$published/.dashboards-link-$version"
mv -T "$published/.dashboards-link-$version" "$link"

# Keep the new build and the one it replaced (a reader may still be loading it); drop older ones.
for old in "$builds"/*; do
  name="$(basename "$old")"
  [[ "$name" == "$version" || ".dashboards/$name" == "$previous" ]] && continue
  rm -rf "$old"
done
echo "dashboards: wrote ${link#"$root"/}/ (serve it, e.g. python3 -m http.server -d ${link#"$root"/} --bind 127.0.0.1 8000)"
