#!/usr/bin/env bash
# The daemons occitan's backend tests run against, started privately for occitan and never shared:
#
#   bash scripts/services.sh start|stop|status docker
#
# docker: a dockerd of its own on unix:///run/occitan-test/docker.sock (data root
#   /var/lib/occitan-test/docker, exec root /run/occitan-test/docker-exec, pid file
#   /run/occitan-test/docker.pid, log /var/lib/occitan-test/docker.log), with --bridge=none and
#   --iptables=false: no docker0, no firewall changes. It never touches /var/run/docker.sock or any other
#   dockerd. The test image occitan/busybox:test is made offline from Debian's busybox-static with
#   `docker import` (nothing is ever pulled).
#
# Idempotent: `start` installs (apt-get, --no-install-recommends) only the packages that are missing,
# starts only what is not answering, imports the image only when it is absent. `stop` stops only the
# daemon this script started (its pid file). `status` exits 0 when the daemon answers.
# Later backends add their daemons here (libvirt, ovs).
set -euo pipefail

RUN_DIR=/run/occitan-test
STATE_DIR=/var/lib/occitan-test

DOCKER_SOCK=$RUN_DIR/docker.sock
DOCKER_HOST_URL=unix://$DOCKER_SOCK
DOCKER_PID=$RUN_DIR/docker.pid
DOCKER_LOG=$STATE_DIR/docker.log
DOCKER_IMAGE=occitan/busybox:test
DOCKER_WAIT_SECONDS=${OCCITAN_DOCKER_WAIT_SECONDS:-60}

say() { echo "services: $*"; }
die() { echo "services: $*" >&2; exit 1; }

usage() {
  echo "usage: bash scripts/services.sh start|stop|status docker" >&2
  exit 2
}

# Installs the Debian packages among "$@" that are not installed yet; apt-get update only when needed.
ensure_packages() {
  local missing=() p
  for p in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then missing+=("$p"); fi
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$(id -u)" -eq 0 ] || die "missing packages ${missing[*]}: run this script as root to install them"
  say "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Debian's client when present (it matches the daemon); any docker on PATH otherwise. Always with -H.
docker_cli() {
  local bin=docker
  [ -x /usr/bin/docker ] && bin=/usr/bin/docker
  "$bin" -H "$DOCKER_HOST_URL" "$@"
}

docker_answers() {
  [ -S "$DOCKER_SOCK" ] && docker_cli version >/dev/null 2>&1
}

# The pid in our pid file when that process is alive and is the dockerd we started (our socket on its command line).
docker_own_pid() {
  [ -f "$DOCKER_PID" ] || return 1
  local pid
  pid=$(cat "$DOCKER_PID" 2>/dev/null) || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$DOCKER_SOCK" || return 1
  echo "$pid"
}

docker_import_image() {
  if docker_cli image inspect "$DOCKER_IMAGE" >/dev/null 2>&1; then return 0; fi
  say "importing $DOCKER_IMAGE from busybox-static"
  local root
  root=$(mktemp -d)
  mkdir -p "$root/bin" "$root/tmp" "$root/etc" "$root/proc" "$root/sys" "$root/dev"
  cp /bin/busybox "$root/bin/busybox"
  local applet
  for applet in $(/bin/busybox --list); do
    [ "$applet" = busybox ] || ln -s busybox "$root/bin/$applet"
  done
  echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
  echo 'root:x:0:' >"$root/etc/group"
  local rc=0
  tar -C "$root" -c . | docker_cli import -c 'CMD ["/bin/sh"]' -c 'ENV PATH=/bin' - "$DOCKER_IMAGE" >/dev/null || rc=$?
  rm -rf "$root"
  [ "$rc" -eq 0 ] || die "could not import $DOCKER_IMAGE (docker import exited $rc)"
}

docker_start() {
  ensure_packages docker.io busybox-static
  mkdir -p "$RUN_DIR" "$STATE_DIR"
  if docker_answers; then
    say "docker already answers on $DOCKER_HOST_URL"
  else
    if ! docker_own_pid >/dev/null; then
      rm -f "$DOCKER_PID"
      say "starting dockerd on $DOCKER_HOST_URL (log $DOCKER_LOG)"
      # setsid: the daemon outlives this script and the shell that ran it.
      setsid dockerd \
        --host "$DOCKER_HOST_URL" \
        --data-root "$STATE_DIR/docker" \
        --exec-root "$RUN_DIR/docker-exec" \
        --pidfile "$DOCKER_PID" \
        --bridge=none --iptables=false \
        >>"$DOCKER_LOG" 2>&1 </dev/null &
    else
      say "dockerd (pid $(docker_own_pid)) is starting; waiting for it"
    fi
    local waited=0
    until docker_answers; do
      if [ "$waited" -ge $((DOCKER_WAIT_SECONDS * 10)) ]; then
        tail -n 20 "$DOCKER_LOG" >&2 || true
        die "dockerd did not answer on $DOCKER_HOST_URL within ${DOCKER_WAIT_SECONDS}s (log: $DOCKER_LOG)"
      fi
      sleep 0.1
      waited=$((waited + 1))
    done
    say "docker answers on $DOCKER_HOST_URL"
  fi
  docker_import_image
}

docker_stop() {
  local pid
  if ! pid=$(docker_own_pid); then
    say "no dockerd of ours is running (pid file $DOCKER_PID)"
    return 0
  fi
  say "stopping dockerd (pid $pid)"
  kill -TERM "$pid"
  local waited=0
  while [ -d "/proc/$pid" ]; do
    if [ "$waited" -ge 300 ]; then
      say "dockerd (pid $pid) did not stop within 30s; killing it"
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
  rm -f "$DOCKER_PID"
}

docker_status() {
  if docker_answers; then
    say "docker answers on $DOCKER_HOST_URL ($(docker_cli version --format '{{.Server.Version}}' 2>/dev/null))"
    return 0
  fi
  say "docker does not answer on $DOCKER_HOST_URL; start it with: bash scripts/services.sh start docker"
  return 1
}

[ $# -eq 2 ] || usage
case "$2" in
  docker) ;;
  *) usage ;;
esac
case "$1" in
  start) docker_start ;;
  stop) docker_stop ;;
  status) docker_status ;;
  *) usage ;;
esac
