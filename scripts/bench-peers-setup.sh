#!/bin/sh
# Prepares the peers benchmark (scripts/bench-peers.mjs): the Debian packages the vendored
# mtprotoproxy (bench/peers/mtprotoproxy) needs to be a fair peer, for /usr/bin/python3 (python3
# on PATH may be a pyenv build without them):
#   - python3-cryptography: its fast AES path (without it, it falls back to pure-Python AES);
#   - python3-uvloop: the event loop its upstream Docker image ships with.
# Idempotent: installs only what is missing and prints what it did. Fetches nothing at bench run
# time: this runs before the measured part and needs the network only when a package is missing.
set -eu
PY=/usr/bin/python3
if [ ! -x "$PY" ]; then
  echo "bench-peers-setup: $PY not found; install python3 (apt-get install -y python3)" >&2
  exit 1
fi
missing=""
for pair in cryptography:python3-cryptography uvloop:python3-uvloop; do
  mod=${pair%%:*}
  pkg=${pair#*:}
  if "$PY" -c "import $mod" 2>/dev/null; then
    echo "bench-peers-setup: $PY has $mod $("$PY" -c "import $mod; print(getattr($mod, '__version__', '?'))") (nothing to do)"
  else
    missing="$missing $pkg"
  fi
done
if [ -n "$missing" ]; then
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "bench-peers-setup: missing for $PY:$missing; install them (apt-get install -y$missing) and rerun" >&2
    exit 1
  fi
  echo "bench-peers-setup: installing$missing ..."
  # A stale package index fails the install: refresh it once and retry.
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing >/tmp/bench-peers-apt.log 2>&1; then
    apt-get update >>/tmp/bench-peers-apt.log 2>&1 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing >>/tmp/bench-peers-apt.log 2>&1 || {
      echo "bench-peers-setup: apt-get install failed, see /tmp/bench-peers-apt.log" >&2
      exit 1
    }
  fi
  for pkg in $missing; do
    echo "bench-peers-setup: installed $pkg $(dpkg-query -W -f '${Version}' "$pkg")"
  done
fi
"$PY" -c "import cryptography, uvloop" || { echo "bench-peers-setup: modules still missing" >&2; exit 1; }
