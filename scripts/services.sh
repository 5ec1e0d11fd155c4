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
#   `start docker` also starts a second dockerd of its own, the node pool's remote engine: on
#   tcp://127.0.0.1:12376 (OCCITAN_DOCKER2_PORT) with --tlsverify, certificates made here with openssl
#   under /var/lib/occitan-test/docker2-tls (a CA, the server's for IP 127.0.0.1, a client's: ca.pem,
#   cert.pem, key.pem are what a client presents), data root /var/lib/occitan-test/docker2, exec root
#   /run/occitan-test/docker2-exec, pid file /run/occitan-test/docker2.pid, the same image imported.
#
# Idempotent: `start` installs (apt-get, --no-install-recommends) only the packages that are missing,
# starts only what is not answering, imports the image only when it is absent. `stop` stops only the
# daemon this script started (its pid file). `status` exits 0 when the daemon answers.
# ovs: Debian's openvswitch-switch (and iproute2 and procps, for veth pairs and container namespaces), started
#   without systemd by `/usr/share/openvswitch/scripts/ovs-ctl --system-id=random start` when
#   `ovs-vsctl --timeout=5 show` does not answer. There is no kernel datapath here: occitan and its tests
#   make bridges with datapath_type=netdev. `stop` stops it only when this script started it (marker
#   /run/occitan-test/ovs.started); an Open vSwitch that was already running is never stopped.
# kernel: no daemon; Debian's linux-image-amd64 and a busybox initrd for the libvirt install test (below).
# Later backends add their daemons here (libvirt).
set -euo pipefail

RUN_DIR=/run/occitan-test
STATE_DIR=/var/lib/occitan-test

DOCKER_SOCK=$RUN_DIR/docker.sock
DOCKER_HOST_URL=unix://$DOCKER_SOCK
DOCKER_PID=$RUN_DIR/docker.pid
DOCKER_LOG=$STATE_DIR/docker.log
DOCKER_IMAGE=occitan/busybox:test
DOCKER_WAIT_SECONDS=${OCCITAN_DOCKER_WAIT_SECONDS:-60}
DOCKER2_PORT=${OCCITAN_DOCKER2_PORT:-12376}
DOCKER2_HOST_URL=tcp://127.0.0.1:$DOCKER2_PORT
DOCKER2_PID=$RUN_DIR/docker2.pid
DOCKER2_LOG=$STATE_DIR/docker2.log
DOCKER2_TLS=$STATE_DIR/docker2-tls

say() { echo "services: $*"; }
die() { echo "services: $*" >&2; exit 1; }

usage() {
  echo "usage: bash scripts/services.sh start|stop|status docker|ovs|libvirt|kernel" >&2
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
  apt-get -o DPkg::Lock::Timeout=300 update -qq
  apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
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

docker_import_image() { # [cli function: docker_cli or docker2_cli]
  local cli=${1:-docker_cli}
  if "$cli" image inspect "$DOCKER_IMAGE" >/dev/null 2>&1; then return 0; fi
  say "importing $DOCKER_IMAGE from busybox-static ($cli)"
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
  tar -C "$root" -c . | "$cli" import -c 'CMD ["/bin/sh"]' -c 'ENV PATH=/bin' - "$DOCKER_IMAGE" >/dev/null || rc=$?
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
      local dockerd
      dockerd=$(command -v dockerd || echo /usr/sbin/dockerd)
      setsid "$dockerd" \
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
  docker_import_image docker_cli
  docker2_start
}

docker_stop() {
  docker1_stop
  docker2_stop
}

docker_status() {
  local rc=0
  docker1_status || rc=1
  docker2_status || rc=1
  return "$rc"
}

docker1_stop() {
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

docker1_status() {
  if docker_answers; then
    say "docker answers on $DOCKER_HOST_URL ($(docker_cli version --format '{{.Server.Version}}' 2>/dev/null))"
    return 0
  fi
  say "docker does not answer on $DOCKER_HOST_URL; start it with: bash scripts/services.sh start docker"
  return 1
}

# --- the second engine: TCP on loopback with TLS (client certificates verified) ----------------------

docker2_cli() {
  local bin=docker
  [ -x /usr/bin/docker ] && bin=/usr/bin/docker
  "$bin" -H "$DOCKER2_HOST_URL" --tlsverify --tlscacert "$DOCKER2_TLS/ca.pem" --tlscert "$DOCKER2_TLS/cert.pem" --tlskey "$DOCKER2_TLS/key.pem" "$@"
}

docker2_answers() {
  [ -f "$DOCKER2_TLS/cert.pem" ] && docker2_cli version >/dev/null 2>&1
}

docker2_own_pid() {
  [ -f "$DOCKER2_PID" ] || return 1
  local pid
  pid=$(cat "$DOCKER2_PID" 2>/dev/null) || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$DOCKER2_HOST_URL" || return 1
  echo "$pid"
}

# A CA, the server's certificate (IP 127.0.0.1, serverAuth) and a client's (clientAuth), made once and
# again only when one is missing or expires within a day. Keys are readable by root only.
docker2_certs() {
  local d=$DOCKER2_TLS f ok=1
  for f in ca.pem ca-key.pem server-cert.pem server-key.pem cert.pem key.pem; do [ -s "$d/$f" ] || ok=0; done
  if [ "$ok" -eq 1 ]; then
    for f in ca.pem server-cert.pem cert.pem; do openssl x509 -checkend 86400 -noout -in "$d/$f" >/dev/null 2>&1 || ok=0; done
  fi
  [ "$ok" -eq 1 ] && return 0
  say "making TLS certificates for the second engine in $d"
  mkdir -p "$d"
  chmod 700 "$d"
  (
    cd "$d"
    umask 077
    openssl req -x509 -new -nodes -newkey rsa:2048 -sha256 -days 3650 -keyout ca-key.pem -out ca.pem -subj '/CN=occitan test CA' >/dev/null 2>&1
    openssl req -new -nodes -newkey rsa:2048 -sha256 -keyout server-key.pem -out server.csr -subj '/CN=127.0.0.1' >/dev/null 2>&1
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >server.ext
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -sha256 -days 825 -extfile server.ext -out server-cert.pem >/dev/null 2>&1
    openssl req -new -nodes -newkey rsa:2048 -sha256 -keyout key.pem -out client.csr -subj '/CN=occitan' >/dev/null 2>&1
    printf 'extendedKeyUsage=clientAuth\n' >client.ext
    openssl x509 -req -in client.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -sha256 -days 825 -extfile client.ext -out cert.pem >/dev/null 2>&1
    rm -f server.csr server.ext client.csr client.ext ca.srl
    chmod 644 ca.pem server-cert.pem cert.pem
  ) || die "could not make the TLS certificates in $d (openssl)"
  # New certificates: a running second engine still has the old ones.
  local pid
  if pid=$(docker2_own_pid); then
    say "restarting the second dockerd (pid $pid) for its new certificates"
    docker2_stop
  fi
}

docker2_start() {
  command -v openssl >/dev/null 2>&1 || ensure_packages openssl
  mkdir -p "$RUN_DIR" "$STATE_DIR"
  docker2_certs
  if docker2_answers; then
    say "docker answers on $DOCKER2_HOST_URL (TLS)"
  else
    if ! docker2_own_pid >/dev/null; then
      rm -f "$DOCKER2_PID"
      say "starting the second dockerd on $DOCKER2_HOST_URL with --tlsverify (log $DOCKER2_LOG)"
      local dockerd
      dockerd=$(command -v dockerd || echo /usr/sbin/dockerd)
      setsid "$dockerd" \
        --host "$DOCKER2_HOST_URL" \
        --tlsverify \
        --tlscacert "$DOCKER2_TLS/ca.pem" \
        --tlscert "$DOCKER2_TLS/server-cert.pem" \
        --tlskey "$DOCKER2_TLS/server-key.pem" \
        --data-root "$STATE_DIR/docker2" \
        --exec-root "$RUN_DIR/docker2-exec" \
        --pidfile "$DOCKER2_PID" \
        --bridge=none --iptables=false \
        >>"$DOCKER2_LOG" 2>&1 </dev/null &
    else
      say "the second dockerd (pid $(docker2_own_pid)) is starting; waiting for it"
    fi
    local waited=0
    until docker2_answers; do
      if [ "$waited" -ge $((DOCKER_WAIT_SECONDS * 10)) ]; then
        tail -n 20 "$DOCKER2_LOG" >&2 || true
        die "the second dockerd did not answer on $DOCKER2_HOST_URL within ${DOCKER_WAIT_SECONDS}s (log: $DOCKER2_LOG)"
      fi
      sleep 0.1
      waited=$((waited + 1))
    done
    say "docker answers on $DOCKER2_HOST_URL (TLS)"
  fi
  docker_import_image docker2_cli
}

docker2_stop() {
  local pid
  if ! pid=$(docker2_own_pid); then
    say "no second dockerd of ours is running (pid file $DOCKER2_PID)"
    return 0
  fi
  say "stopping the second dockerd (pid $pid)"
  kill -TERM "$pid"
  local waited=0
  while [ -d "/proc/$pid" ]; do
    if [ "$waited" -ge 300 ]; then
      say "the second dockerd (pid $pid) did not stop within 30s; killing it"
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
  rm -f "$DOCKER2_PID"
}

docker2_status() {
  if docker2_answers; then
    say "docker answers on $DOCKER2_HOST_URL with TLS ($(docker2_cli version --format '{{.Server.Version}}' 2>/dev/null))"
    return 0
  fi
  say "docker does not answer on $DOCKER2_HOST_URL; start it with: bash scripts/services.sh start docker"
  return 1
}

OVS_CTL=/usr/share/openvswitch/scripts/ovs-ctl
OVS_MARKER=$RUN_DIR/ovs.started
OVS_WAIT_SECONDS=${OCCITAN_OVS_WAIT_SECONDS:-30}

# Both daemons: ovsdb-server answers `show`, ovs-vswitchd its control socket (without it writes hang).
ovs_answers() {
  command -v ovs-vsctl >/dev/null 2>&1 && ovs-vsctl --timeout=5 show >/dev/null 2>&1 &&
    timeout 5 ovs-appctl -t ovs-vswitchd version >/dev/null 2>&1
}

ovs_start() {
  ensure_packages openvswitch-switch iproute2 procps
  mkdir -p "$RUN_DIR" "$STATE_DIR"
  if ovs_answers; then
    say "open vswitch already answers ($(ovs-vsctl --timeout=5 get Open_vSwitch . ovs_version 2>/dev/null | tr -d '"'))"
    return 0
  fi
  [ -x "$OVS_CTL" ] || die "$OVS_CTL is missing: is openvswitch-switch installed?"
  say "starting open vswitch with $OVS_CTL --system-id=random start"
  # The marker first: a start that fails half-way is still ours to stop.
  date -u +%FT%TZ >"$OVS_MARKER"
  # No kernel module here: ovs-ctl's attempt to load it fails harmlessly; bridges use datapath_type=netdev.
  "$OVS_CTL" --system-id=random start >>"$STATE_DIR/ovs-ctl.log" 2>&1 || true
  local waited=0
  until ovs_answers; do
    if [ "$waited" -ge $((OVS_WAIT_SECONDS * 10)) ]; then
      tail -n 20 "$STATE_DIR/ovs-ctl.log" >&2 || true
      die "open vswitch did not answer within ${OVS_WAIT_SECONDS}s (log: $STATE_DIR/ovs-ctl.log, /var/log/openvswitch/)"
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
  say "open vswitch answers"
}

ovs_stop() {
  if [ ! -f "$OVS_MARKER" ]; then
    say "open vswitch was not started by this script (no $OVS_MARKER); leaving it alone"
    return 0
  fi
  say "stopping open vswitch with $OVS_CTL stop"
  "$OVS_CTL" stop >>"$STATE_DIR/ovs-ctl.log" 2>&1 || true
  rm -f "$OVS_MARKER"
}

ovs_status() {
  if ovs_answers; then
    say "open vswitch answers ($(ovs-vsctl --timeout=5 get Open_vSwitch . ovs_version 2>/dev/null | tr -d '"'))"
    return 0
  fi
  say "open vswitch does not answer; start it with: bash scripts/services.sh start ovs"
  return 1
}

# ---------------------------------------------------------------------------------------------------
# libvirt: the host's libvirtd (qemu:///system) with QEMU. Debian's libvirt-daemon-system (installed
# before libvirtd first starts: it creates the libvirt-qemu user), libvirt-clients, qemu-system-x86,
# qemu-utils (qemu-img) and dnsmasq-base. QEMU is set to run as root in /etc/libvirt/qemu.conf
# (`user = "root"`, `group = "root"`): with Debian's default user /dev/kvm is refused and libvirtd
# re-probes QEMU on every define (30-60 s each). After changing qemu.conf the script restarts a running
# libvirtd: the one daemon it may restart without having started it. virtlogd starts before libvirtd
# (domains log through it). `stop` stops only the libvirtd/virtlogd this script started (marker files).
LIBVIRT_URI=qemu:///system
LIBVIRT_WAIT_SECONDS=${OCCITAN_LIBVIRT_WAIT_SECONDS:-60}
QEMU_CONF=/etc/libvirt/qemu.conf
LIBVIRTD_PID=/run/libvirtd.pid
VIRTLOGD_PID=/run/virtlogd.pid

libvirt_answers() {
  timeout 15 virsh -c "$LIBVIRT_URI" version >/dev/null 2>&1
}

# The pid in a daemon's pid file when that process is alive and is that daemon.
libvirt_daemon_pid() { # name pidfile
  local pid
  [ -f "$2" ] || return 1
  pid=$(cat "$2" 2>/dev/null) || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$1" ] || return 1
  echo "$pid"
}

qemu_runs_as_root() {
  grep -Eq '^[[:space:]]*user[[:space:]]*=[[:space:]]*"root"' "$QEMU_CONF" &&
    grep -Eq '^[[:space:]]*group[[:space:]]*=[[:space:]]*"root"' "$QEMU_CONF"
}

libvirt_wait() {
  local waited=0
  until libvirt_answers; do
    if [ "$waited" -ge $((LIBVIRT_WAIT_SECONDS * 10)) ]; then
      tail -n 20 /var/log/libvirt/libvirtd.log >&2 2>/dev/null || true
      die "libvirtd did not answer on $LIBVIRT_URI within ${LIBVIRT_WAIT_SECONDS}s"
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
}

libvirt_start() {
  ensure_packages libvirt-daemon-system libvirt-clients qemu-system-x86 qemu-utils dnsmasq-base
  mkdir -p "$RUN_DIR" /var/log/libvirt /var/run/libvirt
  local conf_changed=0
  if ! qemu_runs_as_root; then
    say "setting QEMU to run as root in $QEMU_CONF (KVM access; fast defines)"
    # Earlier user/group lines (commented or not) stay as they are; the last assignment wins.
    printf '\n# occitan (scripts/services.sh): QEMU runs as root, so /dev/kvm works and defines are fast.\nuser = "root"\ngroup = "root"\n' >>"$QEMU_CONF"
    conf_changed=1
  fi
  if ! libvirt_daemon_pid virtlogd "$VIRTLOGD_PID" >/dev/null; then
    say "starting virtlogd"
    virtlogd -d
    touch "$RUN_DIR/virtlogd.started"
  fi
  local pid
  if pid=$(libvirt_daemon_pid libvirtd "$LIBVIRTD_PID") && [ "$conf_changed" -eq 1 ]; then
    say "restarting libvirtd (pid $pid) so that it reads the new $QEMU_CONF"
    kill -TERM "$pid"
    local waited=0
    while [ -d "/proc/$pid" ]; do
      [ "$waited" -ge 300 ] && die "libvirtd (pid $pid) did not stop within 30s"
      sleep 0.1
      waited=$((waited + 1))
    done
  fi
  if ! libvirt_daemon_pid libvirtd "$LIBVIRTD_PID" >/dev/null; then
    say "starting libvirtd"
    libvirtd -d
    touch "$RUN_DIR/libvirtd.started"
  fi
  libvirt_wait
  say "libvirt answers on $LIBVIRT_URI ($( [ -w /dev/kvm ] && echo 'KVM usable' || echo 'no KVM: domains use TCG'))"
}

libvirt_stop() {
  local name pidfile pid
  for name in libvirtd virtlogd; do
    pidfile=/run/$name.pid
    if [ ! -f "$RUN_DIR/$name.started" ]; then
      say "$name was not started by this script; leaving it alone"
      continue
    fi
    if pid=$(libvirt_daemon_pid "$name" "$pidfile"); then
      say "stopping $name (pid $pid)"
      kill -TERM "$pid"
      local waited=0
      while [ -d "/proc/$pid" ] && [ "$waited" -lt 300 ]; do sleep 0.1; waited=$((waited + 1)); done
    fi
    rm -f "$RUN_DIR/$name.started"
  done
}

libvirt_status() {
  if libvirt_answers; then
    say "libvirt answers on $LIBVIRT_URI ($(virsh -c "$LIBVIRT_URI" version 2>/dev/null | grep -i 'running hypervisor' | sed 's/.*: *//'))"
    return 0
  fi
  say "libvirt does not answer on $LIBVIRT_URI; start it with: bash scripts/services.sh start libvirt"
  return 1
}

# ---------------------------------------------------------------------------------------------------
# kernel: what the libvirt install test boots (direct kernel boot needs a real kernel and initrd). Debian's
# linux-image-amd64 and busybox-static when missing (--no-install-recommends); then, once, under
# $KERNEL_DIR: `linux` (a copy of the newest /boot/vmlinuz-*) and `initrd.gz`, a tiny initrd made from
# busybox-static (cpio newc + gzip) whose /init says so on the console and sleeps. Rebuilt only when
# one of them is missing or the kernel changed. There is no daemon: `stop` does nothing, `status` exits 0
# when both files are there.
KERNEL_DIR=$STATE_DIR/kernel

kernel_ready() {
  [ -s "$KERNEL_DIR/linux" ] && [ -s "$KERNEL_DIR/initrd.gz" ]
}

kernel_start() {
  ensure_packages linux-image-amd64 busybox-static
  local newest
  newest=$(ls /boot/vmlinuz-* 2>/dev/null | sort -V | tail -n 1 || true)
  [ -n "$newest" ] || die "no /boot/vmlinuz-* after installing linux-image-amd64"
  mkdir -p "$KERNEL_DIR"
  if kernel_ready && [ "$(cat "$KERNEL_DIR/source" 2>/dev/null)" = "$newest" ]; then
    say "test kernel and initrd ready in $KERNEL_DIR ($(basename "$newest"))"
    return 0
  fi
  say "making the test kernel and initrd in $KERNEL_DIR from $newest and busybox-static"
  local root tmp
  root=$(mktemp -d)
  tmp=$(mktemp -d "$KERNEL_DIR/.build.XXXXXX")
  mkdir -p "$root/bin" "$root/proc" "$root/sys" "$root/dev"
  cp /bin/busybox "$root/bin/busybox"
  ln -s busybox "$root/bin/sh"
  cat >"$root/init" <<'INIT'
#!/bin/busybox sh
# occitan's test initrd: proves the kernel booted, then idles until the domain is destroyed.
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t devtmpfs devtmpfs /dev 2>/dev/null
echo "occitan test initrd: booted $(/bin/busybox uname -r)"
while :; do /bin/busybox sleep 3600; done
INIT
  chmod 755 "$root/init"
  local rc=0
  (cd "$root" && find . | /bin/busybox cpio -o -H newc 2>/dev/null | gzip -9 >"$tmp/initrd.gz") || rc=$?
  [ "$rc" -eq 0 ] && cp "$newest" "$tmp/linux" || rc=1
  rm -rf "$root"
  if [ "$rc" -ne 0 ]; then
    rm -rf "$tmp"
    die "could not make the test initrd (cpio/gzip exited $rc)"
  fi
  # Renamed into place last: a half-made pair is never taken for a ready one.
  chmod 644 "$tmp/linux" "$tmp/initrd.gz"
  mv -f "$tmp/initrd.gz" "$KERNEL_DIR/initrd.gz"
  mv -f "$tmp/linux" "$KERNEL_DIR/linux"
  echo "$newest" >"$KERNEL_DIR/source"
  rmdir "$tmp"
  say "test kernel and initrd ready in $KERNEL_DIR"
}

kernel_stop() {
  say "kernel: nothing runs; $KERNEL_DIR stays"
}

kernel_status() {
  if kernel_ready; then
    say "test kernel and initrd are in $KERNEL_DIR"
    return 0
  fi
  say "no test kernel and initrd in $KERNEL_DIR; make them with: bash scripts/services.sh start kernel"
  return 1
}

[ $# -eq 2 ] || usage
case "$2" in
  docker|ovs|libvirt|kernel) ;;
  *) usage ;;
esac
case "$1" in
  start) "$2_start" ;;
  stop) "$2_stop" ;;
  status) "$2_status" ;;
  *) usage ;;
esac
