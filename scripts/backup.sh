#!/usr/bin/env bash
# Back up the product's database to one file, online (the server may keep running).
#
#   scripts/backup.sh [DEST]
#
# The database is DATABASE_URL (the same variable the server reads; default: the embedded
# SQLite file instance/app.db). SQLite is copied with the online backup API (sqlite3 .backup),
# PostgreSQL is dumped with pg_dump in its custom format (-Fc), which pg_restore reads.
# DEST defaults to instance/backups/rsnms-<UTC time>.sqlite3 or .dump. Prints the path it wrote.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
URL="${DATABASE_URL:-sqlite:///${INSTANCE_DIR:-$ROOT/instance}/app.db}"
STAMP="$(date -u +%Y%m%dT%H%M%SZ)"

die() { echo "backup: $*" >&2; exit 1; }

case "$URL" in
  sqlite:*)
    SRC="${URL#sqlite:///}"
    [ "${SRC#/}" != "$SRC" ] || SRC="$ROOT/$SRC"   # sqlite:///relative/path.db
    [ -f "$SRC" ] || die "нет файла базы данных: $SRC"
    DEST="${1:-${INSTANCE_DIR:-$ROOT/instance}/backups/rsnms-$STAMP.sqlite3}"
    mkdir -p "$(dirname "$DEST")"
    rm -f "$DEST"
    if command -v sqlite3 >/dev/null 2>&1; then
      sqlite3 "$SRC" ".timeout 10000" ".backup '$DEST'"
    else
      # Same online backup API as the sqlite3 shell's .backup, through Python's sqlite3.
      python3 - "$SRC" "$DEST" <<'PY'
import sqlite3, sys
src = sqlite3.connect(sys.argv[1], timeout=10)
dst = sqlite3.connect(sys.argv[2])
src.backup(dst)
dst.close()
src.close()
PY
    fi
    # A backup that does not pass the integrity check is not a backup.
    python3 - "$DEST" <<'PY'
import sqlite3, sys
result = sqlite3.connect(sys.argv[1]).execute("PRAGMA integrity_check").fetchone()[0]
sys.exit(0 if result == "ok" else f"backup: integrity_check: {result}")
PY
    ;;
  postgres://*|postgresql://*|postgresql+*://*)
    PGURL="postgresql://${URL#*://}"
    DEST="${1:-${INSTANCE_DIR:-$ROOT/instance}/backups/rsnms-$STAMP.dump}"
    mkdir -p "$(dirname "$DEST")"
    command -v pg_dump >/dev/null 2>&1 || die "нет pg_dump: установите postgresql-client"
    # One consistent snapshot of the whole database; no owners or privileges, so it restores
    # into a database of any name owned by any role.
    pg_dump --format=custom --no-owner --no-privileges --file="$DEST" "$PGURL"
    ;;
  *)
    die "неподдерживаемый DATABASE_URL: $URL"
    ;;
esac
chmod 600 "$DEST"
echo "$DEST"
