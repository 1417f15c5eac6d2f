#!/usr/bin/env bash
# A Confluent-compatible Schema Registry for development and CI: Apicurio Registry (in-memory
# storage) built from Maven Central jars, on 127.0.0.1:8081, Confluent API under /apis/ccompat/v7.
#
#   scripts/schema-registry.sh up       build (first time only), start if not answering, wait
#   scripts/schema-registry.sh down     stop the registry this script started
#   scripts/schema-registry.sh status   up/down (exit 1 when down)
#   scripts/schema-registry.sh url      print the Confluent-compatible base URL
#
# scripts/services.sh calls this for the service `schema-registry` (part of `up`/`status` all).
# Storage is in memory: a restart forgets every schema, so tests register their own.
#
# Environment (all optional):
#   SLUICE_SERVICES_HOME        cache root (default ~/.cache/sluice), shared with services.sh
#   SLUICE_REGISTRY_HEAP_OPTS   JVM heap (default -Xmx256m)
#   SLUICE_REGISTRY_JVM_OPTS    other JVM options (default -XX:+UseSerialGC -XX:TieredStopAtLevel=1)
#   SLUICE_SERVICE_TIMEOUT      seconds to wait for it to answer (default 120)
#
# Why Apicurio 2.4.2.Final, built this way: Confluent's registry is not on Maven Central. Apicurio
# Registry is, but these machines' view of Central lacks modules of every 2.5+ and 3.x release
# (checked: 3.0.9's parent pom, 3.3.3's schema-util and config modules, 2.5/2.6's app-components).
# 2.4.2.Final resolves once one library is taken under its Central name and one extension pinned
# (see scripts/schema-registry/pom.xml). Its jar is a Quarkus application that must be
# "augmented" before it runs: the pom does that (quarkus-maven-plugin build) into the cache.
#
# Files, under $SLUICE_SERVICES_HOME/schema-registry: <version>/app (runner jar + lib),
# <version>/mvn.log, registry.log, registry.pid.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
POM="$ROOT/scripts/schema-registry/pom.xml"
SETTINGS="$ROOT/scripts/schema-registry/settings.xml"
# The version is pinned in the pom only.
VERSION="$(sed -n 's:.*<apicurio.version>\(.*\)</apicurio.version>.*:\1:p' "$POM" | head -n 1)"
HOME_DIR="${SLUICE_SERVICES_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/sluice}/schema-registry"
VDIR="$HOME_DIR/$VERSION"
APP="$VDIR/app"
PID_FILE="$HOME_DIR/registry.pid"
LOG="$HOME_DIR/registry.log"
PORT=8081
URL="http://127.0.0.1:$PORT/apis/ccompat/v7"

die() { echo "schema-registry.sh: error: $*" >&2; exit 1; }
note() { echo "schema-registry.sh: $*" >&2; }
now() { echo "${EPOCHREALTIME/,/.}"; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1fs", b - a }'; }
# Same line format as services.sh.
line() { printf '%-10s %-5s %-16s %s\n' "$1" "$2" "$3" "$4"; }
NAME=registry
ADDR="127.0.0.1:$PORT"

port_open() { timeout 2 bash -c ": 3<>/dev/tcp/127.0.0.1/$PORT" 2>/dev/null; }

# A real request to the Confluent API (GET /subjects answers 200 with a JSON array), over bash
# /dev/tcp so the probe needs no curl.
probe() {
  local out
  # shellcheck disable=SC2016 # $1 is expanded by the inner bash
  out="$(timeout 5 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" &&
    printf "GET /apis/ccompat/v7/subjects HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n" >&3 &&
    head -c 12 <&3' _ "$PORT" 2>/dev/null)" || return 1
  [[ "$out" =~ ^HTTP/1\.[01]\ 200 ]]
}

lock() { # FD FILE WHAT
  mkdir -p "$HOME_DIR"
  eval "exec $1>\"\$2\""
  flock -w 900 "$1" || die "timed out waiting for another schema-registry.sh ($3, lock $2)"
}
unlock() { eval "exec $1>&-"; }

stamp() { echo "$VERSION $(cat "$POM" "$SETTINGS" | sha256sum | cut -c1-16)"; }
built() { [[ -f "$VDIR/.built" && "$(cat "$VDIR/.built")" == "$(stamp)" ]] && compgen -G "$APP/*-runner.jar" >/dev/null; }

# Resolve and augment the application into $APP, once per pom.
build() {
  built && return 0
  lock 7 "$HOME_DIR/.build.lock" "building the registry"
  if ! built; then
    command -v mvn >/dev/null 2>&1 || die "mvn not found on PATH (needed once to build the registry; apt-get install maven)"
    mkdir -p "$VDIR"
    local tmp="$VDIR/build.tmp.$$" t0; t0="$(now)"
    rm -rf "$tmp"
    note "building Apicurio Registry $VERSION from Maven Central jars into $APP (first time only) ..."
    if ! mvn -B -s "$SETTINGS" -f "$POM" -Dregistry.out="$tmp" package >"$VDIR/mvn.log" 2>&1; then
      rm -rf "$tmp"
      echo "schema-registry.sh: error: the Maven build failed (full output: $VDIR/mvn.log); last lines:" >&2
      grep -E '^\[(ERROR|WARNING)\]' "$VDIR/mvn.log" | tail -n 20 | sed 's/^/    /' >&2
      exit 1
    fi
    compgen -G "$tmp/*-runner.jar" >/dev/null || die "Maven finished but wrote no runner jar into $tmp (see $VDIR/mvn.log)"
    rm -rf "$APP" && mkdir -p "$APP"
    mv "$tmp"/*-runner.jar "$tmp/lib" "$APP/" && rm -rf "$tmp"
    stamp >"$VDIR/.built"
    note "built in $(elapsed "$t0") ($(du -sh "$APP" | cut -f1))"
  fi
  unlock 7
}

# PID of our registry if alive, else empty.
registry_pid() {
  local pid
  [[ -f "$PID_FILE" ]] || return 0
  pid="$(cat "$PID_FILE" 2>/dev/null || true)"
  if [[ "$pid" =~ ^[0-9]+$ ]] && [[ -r "/proc/$pid/cmdline" ]] &&
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$HOME_DIR/.*-runner\.jar"; then
    echo "$pid"
  fi
}

fail() { # MESSAGE
  line "$NAME" DOWN "$ADDR" "($1; log: $LOG)"
  [[ -f "$LOG" ]] && grep -E ' (ERROR|FATAL) |Exception' "$LOG" | tail -n 8 | sed 's/^/    /' >&2
  return 1
}

up() {
  if probe; then line "$NAME" up "$ADDR" "(running, reused; $URL)"; return 0; fi
  command -v java >/dev/null 2>&1 || die "java not found on PATH (the registry needs Java 17+)"
  lock 8 "$HOME_DIR/.run.lock" "starting the registry"
  if probe; then unlock 8; up; return; fi
  build
  local t0 pid tmo deadline
  t0="$(now)"; tmo="${SLUICE_SERVICE_TIMEOUT:-120}"
  pid="$(registry_pid)"
  if [[ -z "$pid" ]]; then
    if port_open; then
      unlock 8; line "$NAME" DOWN "$ADDR" "(port $PORT is taken by something that does not answer as a registry)"
      return 1
    fi
    # shellcheck disable=SC2206
    local heap=(${SLUICE_REGISTRY_HEAP_OPTS:--Xmx256m})
    # shellcheck disable=SC2206
    local jvm=(${SLUICE_REGISTRY_JVM_OPTS:--XX:+UseSerialGC -XX:TieredStopAtLevel=1})
    [[ -f "$LOG" ]] && mv -f "$LOG" "$LOG.1"
    local jar; jar="$(compgen -G "$APP/*-runner.jar" | head -n 1)"
    # setsid: its own session, so Ctrl-C in whatever ran `up` does not stop it.
    setsid java "${heap[@]}" "${jvm[@]}" -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
      -Dquarkus.http.host=127.0.0.1 -Dquarkus.http.port="$PORT" -jar "$jar" \
      </dev/null >>"$LOG" 2>&1 7>&- 8>&- &
    pid=$!
    echo "$pid" >"$PID_FILE"
  else
    note "registry pid $pid is already starting; waiting for it"
  fi
  deadline=$((SECONDS + tmo))
  until probe; do
    if ! kill -0 "$pid" 2>/dev/null; then unlock 8; fail "exited during startup"; return 1; fi
    if ((SECONDS >= deadline)); then unlock 8; fail "no answer after ${tmo}s (pid $pid still running)"; return 1; fi
    sleep 0.2
  done
  unlock 8
  line "$NAME" up "$ADDR" "(started Apicurio $VERSION in $(elapsed "$t0"); pid $pid; $URL)"
}

down() {
  lock 8 "$HOME_DIR/.run.lock" "stopping the registry"
  local pid; pid="$(registry_pid)"
  if [[ -z "$pid" ]]; then
    rm -f "$PID_FILE"; unlock 8
    if port_open; then line "$NAME" up "$ADDR" "(answering, but not started by this script; left alone)"; return 1; fi
    line "$NAME" down "$ADDR" "(was not running)"; return 0
  fi
  local t0 deadline how=stopped; t0="$(now)"
  kill -TERM "$pid" 2>/dev/null || true
  deadline=$((SECONDS + 30))
  while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid" 2>/dev/null || true; how="killed (no clean shutdown within 30s)"
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  fi
  rm -f "$PID_FILE"; unlock 8
  line "$NAME" down "$ADDR" "($how in $(elapsed "$t0"); was pid $pid)"
}

status() {
  if probe; then line "$NAME" up "$ADDR" "(Apicurio $VERSION; $URL)"; return 0; fi
  local pid; pid="$(registry_pid)"
  line "$NAME" down "$ADDR" "${pid:+(pid $pid running but not answering: starting or stuck)}"
  return 1
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  url) echo "$URL" ;;
  -h | --help | help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' ;;
  *) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2; exit 2 ;;
esac
