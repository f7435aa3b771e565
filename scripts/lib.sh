# Shared shell helpers for scripts/: a private apt configuration so we never edit the machine's
# own sources (bookworm-backports for QEMU 10, trixie-backports/sid for linux-source-N).
ZB_CACHE=${ZSWAP_BENCH_CACHE:-/var/cache/zswap-bench}
ZB_APT_DIR=$ZB_CACHE/apt

zb_apt_config() {
  mkdir -p "$ZB_APT_DIR/lists/partial"
  cat > "$ZB_APT_DIR/sources.list" <<SRC
deb http://deb.debian.org/debian bookworm main
deb http://deb.debian.org/debian bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
deb http://deb.debian.org/debian bookworm-backports main
SRC
}

zb_apt() {
  apt-get -o Dir::Etc::sourcelist="$ZB_APT_DIR/sources.list" -o Dir::Etc::sourceparts=- \
    -o Dir::State::Lists="$ZB_APT_DIR/lists" "$@"
}
