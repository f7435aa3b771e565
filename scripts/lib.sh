# Shared shell helpers for scripts/: a private apt configuration so we never edit the machine's
# own sources (bookworm-backports for QEMU 10, trixie-backports/sid for linux-source-N); the
# mirror is the one the machine's own sources name.
ZB_CACHE=${ZSWAP_BENCH_CACHE:-/var/cache/zswap-bench}
ZB_APT_DIR=$ZB_CACHE/apt

# The Debian archive URI(s) this machine's own apt sources use (one-line *.list or deb822
# *.sources), so the private configuration follows the machine's mirror. Prints "main security"
# (security may be empty).
zb_debian_mirror() {
  local files=() f
  [ -f /etc/apt/sources.list ] && files+=(/etc/apt/sources.list)
  for f in /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] && files+=("$f")
  done
  [ ${#files[@]} -gt 0 ] || return 1
  awk '
    /^[[:space:]]*#/ { next }
    $1 == "deb" { for (i = 2; i <= NF; i++) if ($i !~ /^\[/ && $i !~ /\]$/) { print $i; break } }
    $1 == "URIs:" { for (i = 2; i <= NF; i++) print $i }
  ' "${files[@]}" | sed 's#/*$##' | awk '
    /\/debian$/ && !m { m = $0 }
    /\/debian-security$/ && !s { s = $0 }
    END { if (!m) exit 1; print m, s }
  '
}

zb_apt_config() {
  local main sec
  if ! read -r main sec < <(zb_debian_mirror); then
    echo "scripts/setup: no Debian archive in /etc/apt/sources.list or sources.list.d/; fix: configure apt with a Debian mirror" >&2
    return 1
  fi
  mkdir -p "$ZB_APT_DIR/lists/partial"
  {
    echo "deb $main bookworm main"
    echo "deb $main bookworm-updates main"
    [ -n "$sec" ] && echo "deb $sec bookworm-security main"
    echo "deb $main bookworm-backports main"
  } > "$ZB_APT_DIR/sources.list"
}

zb_apt() {
  apt-get -o Dir::Etc::sourcelist="$ZB_APT_DIR/sources.list" -o Dir::Etc::sourceparts=- \
    -o Dir::State::Lists="$ZB_APT_DIR/lists" "$@"
}
