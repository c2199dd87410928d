# pgvector for the knowledge tests' pgvector path (tests/knowledge/test_database.py). Debian 12 does not
# package it, so it is built from Debian's own source package (pgvector in trixie) against bookworm's
# postgresql-server-dev-NN and installed into the system PostgreSQL. The sources list is private to
# this step (apt -o Dir::Etc::SourceList=...): the system's apt sources stay as they are.
# Idempotent (nothing to do when the extension is installed), cached (the source and the build stay in
# $PGVECTOR_CACHE), and soft: any failure is reported and the pgvector tests skip with the reason.
pgvector_install() {
  local major cache srcdir list
  major=$(ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -1)
  [[ -n $major ]] || { echo "system-deps: pgvector skipped: PostgreSQL is not installed"; return 0; }
  [[ -f /usr/share/postgresql/$major/extension/vector.control ]] && return 0
  cache=${PGVECTOR_CACHE:-/var/cache/autonomy-pgvector}
  mkdir -p "$cache/apt/lists/partial" "$cache/apt/archives/partial" "$cache/src" || return 1
  apt_install "postgresql-server-dev-$major" make gcc dpkg-dev || return 1
  srcdir=$(ls -d "$cache"/src/pgvector-*/ 2>/dev/null | sort -V | tail -1)
  if [[ -z $srcdir ]]; then
    list="$cache/apt/sources.list"
    echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main" > "$list"
    local apt_opts=(-o "Dir::Etc::SourceList=$list" -o "Dir::Etc::SourceParts=$cache/apt/none"
                    -o "Dir::State::Lists=$cache/apt/lists" -o "Dir::Cache=$cache/apt" -o "APT::Sandbox::User=root")
    echo "system-deps: fetching Debian's pgvector source"
    apt-get -qq "${apt_opts[@]}" update >/dev/null || return 1
    (cd "$cache/src" && apt-get -qq "${apt_opts[@]}" source --download-only pgvector >/dev/null) || return 1
    (cd "$cache/src" && tar xzf pgvector_*.orig.tar.gz) || return 1
    srcdir=$(ls -d "$cache"/src/pgvector-*/ | sort -V | tail -1)
    [[ -n $srcdir ]] || return 1
  fi
  echo "system-deps: building pgvector in $srcdir for PostgreSQL $major"
  # OPTFLAGS="": no -march=native, so a cached build runs on any x86-64 machine
  make -s -C "$srcdir" OPTFLAGS="" PG_CONFIG="/usr/lib/postgresql/$major/bin/pg_config" >/dev/null || return 1
  make -s -C "$srcdir" OPTFLAGS="" PG_CONFIG="/usr/lib/postgresql/$major/bin/pg_config" install >/dev/null || return 1
}
# each step returns on failure (set -e does not apply inside an `if` condition)
if ! (pgvector_install); then
  echo "system-deps: pgvector could not be built (see above); the knowledge tests' pgvector path will skip"
fi
