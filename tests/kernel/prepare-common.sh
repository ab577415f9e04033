# shellcheck shell=bash
# What prepare.sh and prepare-iommufd.sh share, sourced by both after they
# set PROG (their name in messages) and LOG (their log file, may come later).

log() { printf '%s: %s\n' "$PROG" "$*"; }
die() {
    printf '%s: error: %s\n' "$PROG" "$*" >&2
    exit 1
}
trap 'die "unexpected failure at line $LINENO: $BASH_COMMAND"' ERR
# Run a noisy command with its output going to the log file.
quiet() {
    if ! "$@" >>"$LOG" 2>&1; then
        tail -n 15 "$LOG" >&2 || true
        die "'$*' failed (full log: $LOG)"
    fi
}

# One preparation per cache folder at a time, of both kernels: fd 9 holds
# an exclusive flock on $1/.lock until the process ends.  prepare.sh execs
# prepare-iommufd.sh with fd 9 open and locked, so an fd 9 already on that
# file is kept (locking it again is a no-op); opening the file anew would
# make a second lock, which would wait for the first forever.
lock_cache() {
    [[ /proc/self/fd/9 -ef $1/.lock ]] || exec 9>"$1/.lock"
    flock -n 9 && return 0
    log "waiting for the preparation already running in $1"
    flock 9 || die "cannot lock $1/.lock"
}

# Installs the Debian packages given that are missing (root only).
install_host_packages() {
    local p st
    local -a missing=()
    for p in "$@"; do
        st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
        [[ $st == *" ok installed" ]] || missing+=("$p")
    done
    ((${#missing[@]})) || return 0
    ((EUID == 0)) || die "missing host packages (need root to install): ${missing[*]}"
    log "installing host packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y --no-install-recommends "${missing[@]}" >>"$LOG" 2>&1; then
        quiet apt-get update
        quiet apt-get install -y --no-install-recommends "${missing[@]}"
    fi
}

# Sets APT_OPTS: apt on the private source list and state in $1, so that the
# machine's own apt configuration and package database are not touched.
private_apt_opts() {
    APT_OPTS=(
        -o "Dir::Etc::SourceList=$1/sources.list"
        -o Dir::Etc::SourceParts=/dev/null
        -o "Dir::State::Lists=$1/lists"
        -o "Dir::Cache=$1/cache"
        -o Dir::State::status=/dev/null
        -o APT::Sandbox::User=root
    )
}
