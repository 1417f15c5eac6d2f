#!/usr/bin/env bash
# HDFS for development and CI: the Hadoop minicluster (org.apache.hadoop:hadoop-minicluster) from
# Maven Central jars, one NameNode and one DataNode in one JVM, WebHDFS on 127.0.0.1:9870
# (NameNode RPC on 127.0.0.1:8020; the DataNode's HTTP port is chosen at start: WebHDFS redirects
# reads and writes to it).
#
#   scripts/hdfs.sh up       resolve (first time only), start if not answering, wait
#   scripts/hdfs.sh down     stop the cluster this script started
#   scripts/hdfs.sh status   up/down (exit 1 when down)
#   scripts/hdfs.sh url      print the WebHDFS endpoint
#
# scripts/services.sh calls this for the service `hdfs` (part of `up`/`status`/`down` all: the
# hdfs connector's tests use it). Permissions are off (any `user.name` may write anywhere); the
# file system is formatted at every start, so nothing survives a restart.
#
# Environment (all optional):
#   SLUICE_SERVICES_HOME     cache root (default ~/.cache/sluice), shared with services.sh
#   SLUICE_HDFS_HEAP_OPTS    JVM heap (default -Xmx512m)
#   SLUICE_HDFS_JVM_OPTS     other JVM options (default -XX:+UseSerialGC -XX:TieredStopAtLevel=1)
#   SLUICE_SERVICE_TIMEOUT   seconds to wait for it to answer (default 180)
#
# Files, under $SLUICE_SERVICES_HOME/hdfs: <version>/libs (jars), <version>/mvn.log, data/ (the
# cluster's storage), logs/, hdfs.log, hdfs.pid, core-site.xml (written by the cluster: its
# configuration, for Hadoop clients).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
POM="$ROOT/scripts/hdfs/pom.xml"
# The version is pinned in the pom only.
VERSION="$(sed -n 's:.*<hadoop.version>\(.*\)</hadoop.version>.*:\1:p' "$POM" | head -n 1)"
HOME_DIR="${SLUICE_SERVICES_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/sluice}/hdfs"
VDIR="$HOME_DIR/$VERSION"
LIBS="$VDIR/libs"
DATA="$HOME_DIR/data"
PID_FILE="$HOME_DIR/hdfs.pid"
LOG="$HOME_DIR/hdfs.log"
PORT=9870
RPC_PORT=8020
URL="http://127.0.0.1:$PORT/webhdfs/v1"
NAME=hdfs
ADDR="127.0.0.1:$PORT"

die() { echo "hdfs.sh: error: $*" >&2; exit 1; }
note() { echo "hdfs.sh: $*" >&2; }
now() { echo "${EPOCHREALTIME/,/.}"; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1fs", b - a }'; }
# Same line format as services.sh.
line() { printf '%-10s %-5s %-16s %s\n' "$1" "$2" "$3" "$4"; }

port_open() { timeout 2 bash -c ": 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

# A real WebHDFS request: GETFILESTATUS of / answers 200 with JSON once the NameNode is out of
# safe mode's startup. Over bash /dev/tcp, no curl.
probe() {
  local out
  # shellcheck disable=SC2016 # $1 is expanded by the inner bash
  out="$(timeout 5 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" &&
    printf "GET /webhdfs/v1/?op=GETFILESTATUS&user.name=sluice HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n" >&3 &&
    head -c 12 <&3' _ "$PORT" 2>/dev/null)" || return 1
  [[ "$out" =~ ^HTTP/1\.[01]\ 200 ]]
}

lock() { # FD FILE WHAT
  mkdir -p "$HOME_DIR"
  eval "exec $1>\"\$2\""
  flock -w 600 "$1" || die "timed out waiting for another hdfs.sh ($3, lock $2)"
}
unlock() { eval "exec $1>&-"; }

stamp() { echo "$VERSION $(sha256sum "$POM" | cut -c1-16)"; }
resolved() { [[ -f "$VDIR/.resolved" && "$(cat "$VDIR/.resolved")" == "$(stamp)" ]]; }

# Resolve the jars into $LIBS, once per pom.
resolve() {
  resolved && return 0
  lock 7 "$HOME_DIR/.resolve.lock" "resolving Hadoop jars"
  if ! resolved; then
    command -v mvn >/dev/null 2>&1 || die "mvn not found on PATH (needed once to resolve Hadoop; apt-get install maven)"
    mkdir -p "$VDIR"
    local tmp="$VDIR/libs.tmp.$$" t0; t0="$(now)"
    rm -rf "$tmp"
    note "resolving the Hadoop $VERSION minicluster jars from Maven Central into $LIBS (first time only) ..."
    if ! mvn -q -B -f "$POM" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$tmp" \
      >"$VDIR/mvn.log" 2>&1; then
      rm -rf "$tmp"
      echo "hdfs.sh: error: Maven could not resolve Hadoop $VERSION (full output: $VDIR/mvn.log); last lines:" >&2
      tail -n 30 "$VDIR/mvn.log" | sed 's/\x1b\[[0-9;]*m//g; s/^/    /' >&2
      exit 1
    fi
    compgen -G "$tmp/hadoop-hdfs-*-tests.jar" >/dev/null || die "Maven finished but the hadoop-hdfs tests jar is missing from $tmp (see $VDIR/mvn.log)"
    rm -rf "$LIBS" && mv "$tmp" "$LIBS"
    stamp >"$VDIR/.resolved"
    note "resolved $(find "$LIBS" -name '*.jar' | wc -l) jars ($(du -sh "$LIBS" | cut -f1)) in $(elapsed "$t0")"
  fi
  unlock 7
}

# PID of our cluster if alive, else empty.
server_pid() {
  local pid
  [[ -f "$PID_FILE" ]] || return 0
  pid="$(cat "$PID_FILE" 2>/dev/null || true)"
  if [[ "$pid" =~ ^[0-9]+$ ]] && [[ -r "/proc/$pid/cmdline" ]] &&
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q 'MiniHadoopClusterManager'; then
    echo "$pid"
  fi
}

fail() { # MESSAGE
  line "$NAME" DOWN "$ADDR" "($1; log: $LOG)"
  [[ -f "$LOG" ]] && grep -E 'ERROR|Exception' "$LOG" | tail -n 8 | sed 's/^/    /' >&2
  return 1
}

up() {
  if probe; then line "$NAME" up "$ADDR" "(running, reused; $URL)"; return 0; fi
  command -v java >/dev/null 2>&1 || die "java not found on PATH (Hadoop needs Java 8+; the machines have 17)"
  lock 8 "$HOME_DIR/.run.lock" "starting HDFS"
  if probe; then unlock 8; up; return; fi
  resolve
  local t0 pid tmo deadline
  t0="$(now)"; tmo="${SLUICE_SERVICE_TIMEOUT:-180}"
  pid="$(server_pid)"
  if [[ -z "$pid" ]]; then
    if port_open "$PORT" || port_open "$RPC_PORT"; then
      unlock 8; line "$NAME" DOWN "$ADDR" "(port $PORT or $RPC_PORT is taken by something that does not answer as WebHDFS)"
      return 1
    fi
    rm -rf "$DATA" && mkdir -p "$DATA" "$HOME_DIR/logs"
    # shellcheck disable=SC2206
    local heap=(${SLUICE_HDFS_HEAP_OPTS:--Xmx512m})
    # shellcheck disable=SC2206
    local jvm=(${SLUICE_HDFS_JVM_OPTS:--XX:+UseSerialGC -XX:TieredStopAtLevel=1})
    [[ -f "$LOG" ]] && mv -f "$LOG" "$LOG.1"
    # setsid: its own session, so Ctrl-C in whatever ran `up` does not stop it. -nomr: HDFS only.
    # The subshell execs the JVM (no shell left holding the lock fds), so $! is the JVM's pid.
    (cd "$HOME_DIR" && exec setsid java "${heap[@]}" "${jvm[@]}" -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
      -Dtest.build.data="$DATA" -Dhadoop.log.dir="$HOME_DIR/logs" \
      -cp "$LIBS/*" org.apache.hadoop.mapreduce.MiniHadoopClusterManager \
      -nomr -format -nnport "$RPC_PORT" -nnhttpport "$PORT" -writeConfig "$HOME_DIR/core-site.xml" \
      -D dfs.permissions.enabled=false -D dfs.webhdfs.enabled=true \
      -D dfs.namenode.http-address="127.0.0.1:$PORT" -D dfs.datanode.hostname=127.0.0.1) \
      </dev/null >>"$LOG" 2>&1 7>&- 8>&- &
    pid=$!
    echo "$pid" >"$PID_FILE"
  else
    note "HDFS pid $pid is already starting; waiting for it"
  fi
  deadline=$((SECONDS + tmo))
  until probe; do
    if ! kill -0 "$pid" 2>/dev/null; then unlock 8; fail "exited during startup"; return 1; fi
    if ((SECONDS >= deadline)); then unlock 8; fail "no answer after ${tmo}s (pid $pid still running)"; return 1; fi
    sleep 0.5
  done
  unlock 8
  line "$NAME" up "$ADDR" "(started the Hadoop $VERSION minicluster in $(elapsed "$t0"); pid $pid; $URL)"
}

down() {
  lock 8 "$HOME_DIR/.run.lock" "stopping HDFS"
  local pid; pid="$(server_pid)"
  if [[ -z "$pid" ]]; then
    rm -f "$PID_FILE"; unlock 8
    if probe; then line "$NAME" up "$ADDR" "(answering, but not started by this script; left alone)"; return 1; fi
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
  if probe; then line "$NAME" up "$ADDR" "(Hadoop $VERSION minicluster; $URL)"; return 0; fi
  local pid; pid="$(server_pid)"
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
