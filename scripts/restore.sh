#!/usr/bin/env bash
# Restore a backup made by scripts/backup.sh into the database named by DATABASE_URL.
#
#   scripts/restore.sh BACKUP_FILE
#
# Stop the server first. The target must be empty (a new SQLite path, or a freshly created
# PostgreSQL database): restore refuses to overwrite data, so a mistake cannot destroy the
# live database. After restoring, it runs `flask audit verify`: exit code 0 only when the
# restored audit chain is intact.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
[ $# -eq 1 ] || { echo "usage: scripts/restore.sh BACKUP_FILE" >&2; exit 2; }
SRC="$1"
[ -f "$SRC" ] || { echo "restore: нет файла $SRC" >&2; exit 1; }
URL="${DATABASE_URL:-sqlite:///${INSTANCE_DIR:-$ROOT/instance}/app.db}"

die() { echo "restore: $*" >&2; exit 1; }

case "$URL" in
  sqlite:*)
    DEST="${URL#sqlite:///}"
    [ "${DEST#/}" != "$DEST" ] || DEST="$ROOT/$DEST"
    if [ -s "$DEST" ]; then
      die "файл $DEST уже существует: восстановление выполняется только в новую базу"
    fi
    mkdir -p "$(dirname "$DEST")"
    python3 - "$SRC" "$DEST" <<'PY'
import sqlite3, sys
src = sqlite3.connect(sys.argv[1])
if src.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
    sys.exit("restore: файл резервной копии повреждён")
dst = sqlite3.connect(sys.argv[2])
src.backup(dst)
dst.close()
src.close()
PY
    ;;
  postgres://*|postgresql://*|postgresql+*://*)
    PGURL="postgresql://${URL#*://}"
    command -v pg_restore >/dev/null 2>&1 || die "нет pg_restore: установите postgresql-client"
    TABLES="$(psql "$PGURL" -tAc "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")"
    [ "$TABLES" = "0" ] || die "в целевой базе уже есть таблицы: восстановление только в пустую базу"
    pg_restore --exit-on-error --single-transaction --no-owner --no-privileges \
      --dbname="$PGURL" "$SRC"
    ;;
  *)
    die "неподдерживаемый DATABASE_URL: $URL"
    ;;
esac

if [ -z "${FLASK:-}" ]; then
  FLASK=flask
  [ -x "$ROOT/.venv/bin/flask" ] && FLASK="$ROOT/.venv/bin/flask"
fi
cd "$ROOT"
FLASK_APP=wsgi.py "$FLASK" audit verify
