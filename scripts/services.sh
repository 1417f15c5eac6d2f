#!/usr/bin/env bash
# Sluice development/CI services.
#
# Gives every developer and CI a real Apache Kafka broker (KRaft, single node, 127.0.0.1:9092,
# controller 127.0.0.1:9093) built from Maven Central jars, and checks (restarting if down) the
# machine's Debian-installed services (see /work/shared/services.md).
#
#   scripts/services.sh up     [SERVICE...]   start what is not answering, wait, one line each (default: all)
#   scripts/services.sh down   [SERVICE...]   stop; default (and "all"): only kafka. Debian-installed
#                                             services are stopped only when named explicitly.
#   scripts/services.sh status [SERVICE...]   up/down for each (exit 1 if any is down)
#   scripts/services.sh tool MAINCLASS|ALIAS [ARGS...]   run a Kafka tool with the cached classpath
#   scripts/services.sh kafka-libs            resolve (if needed) and print the Kafka libs directory
#
#   SERVICE: kafka postgres mariadb redis rabbitmq mosquitto nats all
#   Tool aliases: topics console-producer console-consumer consumer-groups producer-perf
#   consumer-perf api-versions get-offsets delete-records configs metadata-quorum cluster
#   transactions e2e-latency storage  (scripts/kafka-tool.sh is a shortcut for `tool`).
#
# Environment (all optional):
#   SLUICE_KAFKA_VERSION     Kafka version to use (default: the pinned KAFKA_VERSION below)
#   SLUICE_KAFKA_HEAP_OPTS   broker heap (default: -Xms256m -Xmx512m)
#   SLUICE_KAFKA_JVM_OPTS    extra broker JVM options (default: -XX:+UseSerialGC ...)
#   SLUICE_KAFKA_TOOL_OPTS   JVM options for tools (default: -Xmx512m -XX:+UseSerialGC, plus
#                            -XX:TieredStopAtLevel=1 except for the perf/latency tools)
#   SLUICE_KAFKA_STOP_TIMEOUT  seconds `down kafka` waits after SIGTERM before SIGKILL (default 30)
#   SLUICE_SERVICE_TIMEOUT   seconds to wait for any service to answer (default: per service)
#
#   SLUICE_SERVICES_HOME     where the broker lives (default ~/.cache/sluice): one broker per machine,
#                            shared by every checkout, so a fresh clone (as CI makes) reuses the
#                            resolved jars and can stop and restart the broker it finds running
#
# Files, under $SLUICE_SERVICES_HOME/kafka: <version>/libs (jars), <version>/*.properties
# (generated), data (log.dirs, formatted once), broker.log, broker.pid.
set -euo pipefail

# Pinned: Kafka 4.4.0, the newest release on Maven Central when this was written (checked:
# org.apache.kafka:kafka_2.13:4.4.0 and kafka-tools:4.4.0 resolve here and run on the machines'
# Java 17). Kafka 4.x is KRaft-only and logs through slf4j 1.7 -> log4j2 (binding in the pom).
KAFKA_VERSION="${SLUICE_KAFKA_VERSION:-4.4.0}"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
KAFKA_POM="$ROOT/scripts/kafka/pom.xml"
KAFKA_HOME="${SLUICE_SERVICES_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/sluice}/kafka"
KAFKA_VDIR="$KAFKA_HOME/$KAFKA_VERSION"
KAFKA_LIBS="$KAFKA_VDIR/libs"
KAFKA_DATA="$KAFKA_HOME/data"
KAFKA_PID="$KAFKA_HOME/broker.pid"
KAFKA_LOG="$KAFKA_HOME/broker.log"
KAFKA_PORT=9092
KAFKA_CONTROLLER_PORT=9093
KAFKA_BOOTSTRAP="127.0.0.1:$KAFKA_PORT"

ALL_SERVICES=(postgres mariadb redis rabbitmq mosquitto nats kafka)

# ---------------------------------------------------------------------------------------------
# helpers

die() { echo "services.sh: error: $*" >&2; exit 1; }
note() { echo "services.sh: $*" >&2; }

now() { echo "${EPOCHREALTIME/,/.}"; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1fs", b - a }'; }

# Fast TCP check on loopback (bash /dev/tcp; a closed loopback port refuses at once).
port_open() { timeout 2 bash -c ": 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

# line NAME STATE ADDRESS DETAIL
line() { printf '%-10s %-5s %-16s %s\n' "$1" "$2" "$3" "$4"; }

svc_port() {
  case "$1" in
    postgres) echo 5432 ;; mariadb) echo 3306 ;; redis) echo 6379 ;; rabbitmq) echo 5672 ;;
    mosquitto) echo 1883 ;; nats) echo 4222 ;; kafka) echo "$KAFKA_PORT" ;;
  esac
}

svc_timeout() {
  if [[ -n "${SLUICE_SERVICE_TIMEOUT:-}" ]]; then echo "$SLUICE_SERVICE_TIMEOUT"; return; fi
  case "$1" in rabbitmq | kafka) echo 60 ;; postgres | mariadb) echo 30 ;; *) echo 15 ;; esac
}

canon() {
  case "$1" in
    kafka | postgres | mariadb | redis | rabbitmq | mosquitto | nats) echo "$1" ;;
    pg | postgresql) echo postgres ;;
    mysql) echo mariadb ;;
    mqtt) echo mosquitto ;;
    amqp | rabbit) echo rabbitmq ;;
    *) die "unknown service '$1' (kafka postgres mariadb redis rabbitmq mosquitto nats all)" ;;
  esac
}

need_java() { # [--version]: also check it is Java 17+ (costs a JVM start, so only before the broker)
  command -v java >/dev/null 2>&1 ||
    die "java not found on PATH (Kafka needs Java 17+; apt-get install openjdk-17-jre-headless)"
  [[ "${1:-}" == --version ]] || return 0
  local v
  v="$(java -XshowSettings:properties -version 2>&1 | awk -F'= ' '/java.specification.version/ { print $2; exit }')"
  if ! [[ "${v%%.*}" =~ ^[0-9]+$ ]] || ((${v%%.*} < 17)); then
    die "Kafka $KAFKA_VERSION needs Java 17+, found '${v:-unknown}' ($(command -v java))"
  fi
}

# ---------------------------------------------------------------------------------------------
# Debian-installed services (commands from /work/shared/services.md)

# shellcheck disable=SC2012 # version directory names are plain numbers
pg_version() { ls /etc/postgresql 2>/dev/null | sort -V | tail -1; }

start_cmd() {
  case "$1" in
    postgres)
      local v; v="$(pg_version)"; [[ -n "$v" ]] || return 127
      pg_ctlcluster --skip-systemctl-redirect "$v" main start ;;
    mariadb) start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd ;;
    redis) redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/ci.log ;;
    rabbitmq) rabbitmq-server -detached ;;
    mosquitto) mosquitto -d -c /etc/mosquitto/mosquitto.conf ;;
    nats) start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- \
      -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log ;;
  esac
}

stop_cmd() {
  case "$1" in
    postgres)
      local v; v="$(pg_version)"; [[ -n "$v" ]] || return 127
      pg_ctlcluster --skip-systemctl-redirect "$v" main stop ;;
    mariadb) start-stop-daemon --stop --oknodo --retry TERM/30/KILL/5 --exec /usr/sbin/mariadbd ;;
    redis) redis-cli -h 127.0.0.1 -p 6379 shutdown nosave ;;
    rabbitmq) rabbitmqctl shutdown ;;
    mosquitto) start-stop-daemon --stop --oknodo --retry TERM/15/KILL/5 --exec /usr/sbin/mosquitto ;;
    nats) start-stop-daemon --stop --oknodo --retry TERM/15/KILL/5 --exec /usr/sbin/nats-server ;;
  esac
}

wait_port() { # PORT TIMEOUT -> 0 when open
  local deadline=$((SECONDS + $2))
  while ((SECONDS < deadline)); do port_open "$1" && return 0; sleep 0.2; done
  port_open "$1"
}

wait_port_closed() { # PORT TIMEOUT
  local deadline=$((SECONDS + $2))
  while ((SECONDS < deadline)); do port_open "$1" || return 0; sleep 0.2; done
  ! port_open "$1"
}

debian_up() {
  local s="$1" port t0 out tmo
  port="$(svc_port "$s")"
  if port_open "$port"; then line "$s" up "127.0.0.1:$port" "(running, reused)"; return 0; fi
  t0="$(now)"; tmo="$(svc_timeout "$s")"
  if ! out="$(start_cmd "$s" 2>&1)"; then
    # Some start commands fail when a second instance races us; only the port decides.
    port_open "$port" || {
      line "$s" DOWN "127.0.0.1:$port" "(start command failed)"
      printf '%s\n' "$out" | tail -n 15 | sed 's/^/    /' >&2
      return 1
    }
  fi
  if wait_port "$port" "$tmo"; then
    line "$s" up "127.0.0.1:$port" "(started in $(elapsed "$t0"))"
  else
    line "$s" DOWN "127.0.0.1:$port" "(started, but not answering after ${tmo}s)"
    [[ -n "$out" ]] && printf '%s\n' "$out" | tail -n 15 | sed 's/^/    /' >&2
    return 1
  fi
}

debian_down() {
  local s="$1" port out
  port="$(svc_port "$s")"
  if ! port_open "$port"; then line "$s" down "127.0.0.1:$port" "(was not running)"; return 0; fi
  if ! out="$(stop_cmd "$s" 2>&1)"; then
    printf '%s\n' "$out" | tail -n 15 | sed 's/^/    /' >&2
  fi
  if wait_port_closed "$port" 30; then
    line "$s" down "127.0.0.1:$port" "(stopped)"
  else
    line "$s" up "127.0.0.1:$port" "(still answering after stop)"; return 1
  fi
}

# ---------------------------------------------------------------------------------------------
# Kafka

# Lock for broker start/stop (fd 8) and for jar resolution (fd 7); both released on exit.
# The broker is launched with these fds closed so it never holds a lock.
lock() { # FD FILE WHAT
  mkdir -p "$KAFKA_HOME"
  eval "exec $1>\"\$2\""
  flock -w 600 "$1" || die "timed out waiting for another services.sh ($3, lock $2)"
}
unlock() { eval "exec $1>&-"; }

kafka_libs_ready() {
  [[ -f "$KAFKA_VDIR/.resolved" && "$(cat "$KAFKA_VDIR/.resolved")" == "$(kafka_stamp)" ]]
}
kafka_stamp() { echo "$KAFKA_VERSION $(sha256sum "$KAFKA_POM" | cut -c1-16)"; }

# Resolve broker + tools + logging jars into $KAFKA_HOME/<version>/libs, once.
kafka_resolve() {
  kafka_libs_ready && return 0
  lock 7 "$KAFKA_HOME/.resolve.lock" "resolving Kafka jars"
  if ! kafka_libs_ready; then
    command -v mvn >/dev/null 2>&1 || die "mvn not found on PATH (needed once to resolve Kafka jars; apt-get install maven)"
    [[ -f "$KAFKA_POM" ]] || die "missing $KAFKA_POM"
    mkdir -p "$KAFKA_VDIR"
    local tmp="$KAFKA_VDIR/libs.tmp.$$" t0; t0="$(now)"
    rm -rf "$tmp"
    note "resolving Kafka $KAFKA_VERSION jars from Maven Central into ${KAFKA_LIBS#"$ROOT"/} ..."
    if ! mvn -q -B -f "$KAFKA_POM" -Dkafka.version="$KAFKA_VERSION" \
      dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$tmp" \
      >"$KAFKA_VDIR/mvn.log" 2>&1; then
      rm -rf "$tmp"
      echo "services.sh: error: Maven could not resolve Kafka $KAFKA_VERSION (full output: $KAFKA_VDIR/mvn.log); last lines:" >&2
      tail -n 30 "$KAFKA_VDIR/mvn.log" | sed 's/\x1b\[[0-9;]*m//g; s/^/    /' >&2
      exit 1
    fi
    if ! compgen -G "$tmp/kafka_2.13-*.jar" >/dev/null || ! compgen -G "$tmp/kafka-tools-*.jar" >/dev/null; then
      die "Maven finished but kafka_2.13/kafka-tools jars are missing from $tmp (see $KAFKA_VDIR/mvn.log)"
    fi
    rm -rf "$KAFKA_LIBS" && mv "$tmp" "$KAFKA_LIBS"
    kafka_stamp >"$KAFKA_VDIR/.resolved"
    note "resolved $(find "$KAFKA_LIBS" -name '*.jar' | wc -l) jars ($(du -sh "$KAFKA_LIBS" | cut -f1)) in $(elapsed "$t0")"
  fi
  unlock 7
}

# Concurrent services.sh/tool runs may read these while another writes: write + rename.
write_atomic() { cat >"$1.tmp.$$" && mv -f "$1.tmp.$$" "$1"; }

# Generated every time (cheap, keeps them in step with this script).
kafka_write_config() {
  mkdir -p "$KAFKA_VDIR" "$KAFKA_DATA"
  write_atomic "$KAFKA_VDIR/server.properties" <<EOF
# Generated by scripts/services.sh -- edit the script, not this file.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$KAFKA_DATA
num.partitions=1
auto.create.topics.enable=true
delete.topic.enable=true
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
min.insync.replicas=1
default.replication.factor=1
group.initial.rebalance.delay.ms=0
# Development machine: keep disk use bounded.
log.retention.hours=24
EOF

  write_atomic "$KAFKA_VDIR/log4j2.properties" <<'EOF'
# Broker logging (stdout is redirected to $KAFKA_HOME/broker.log). Generated by scripts/services.sh.
status = warn
appender.out.type = Console
appender.out.name = STDOUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.out.ref = STDOUT
logger.state.name = state.change.logger
logger.state.level = warn
logger.request.name = kafka.request.logger
logger.request.level = warn
logger.controller.name = org.apache.kafka.controller
logger.controller.level = info
logger.log.name = kafka.log
logger.log.level = warn
logger.storage.name = org.apache.kafka.storage.internals.log
logger.storage.level = warn
EOF

  write_atomic "$KAFKA_VDIR/tools-log4j2.properties" <<'EOF'
# Tool logging: warnings and errors to stderr, so stdout carries only the tool's output.
status = warn
shutdownHook = disable
appender.err.type = Console
appender.err.name = STDERR
appender.err.target = SYSTEM_ERR
appender.err.layout.type = PatternLayout
appender.err.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = warn
rootLogger.appenderRef.err.ref = STDERR
EOF

}

# Short-lived tools start ~0.7 s faster with C1 only; perf tools keep the full JIT.
tool_java_opts() { # [MAINCLASS]
  local defaults="-Xmx512m -XX:+UseSerialGC -XX:TieredStopAtLevel=1"
  case "${1:-}" in *Performance | *EndToEndLatency) defaults="-Xmx512m -XX:+UseSerialGC" ;; esac
  # shellcheck disable=SC2206
  TOOL_OPTS=(${SLUICE_KAFKA_TOOL_OPTS:-$defaults})
  TOOL_OPTS+=(-Djava.awt.headless=true "-Dlog4j2.configurationFile=$KAFKA_VDIR/tools-log4j2.properties")
}

# Run a tool class with the cached classpath. Accepts an alias or a fully qualified class name.
kafka_main_class() {
  case "$1" in
    topics) echo org.apache.kafka.tools.TopicCommand ;;
    console-producer) echo org.apache.kafka.tools.ConsoleProducer ;;
    console-consumer) echo org.apache.kafka.tools.consumer.ConsoleConsumer ;;
    consumer-groups) echo org.apache.kafka.tools.consumer.group.ConsumerGroupCommand ;;
    producer-perf) echo org.apache.kafka.tools.ProducerPerformance ;;
    consumer-perf) echo org.apache.kafka.tools.ConsumerPerformance ;;
    api-versions) echo org.apache.kafka.tools.BrokerApiVersionsCommand ;;
    get-offsets) echo org.apache.kafka.tools.GetOffsetShell ;;
    delete-records) echo org.apache.kafka.tools.DeleteRecordsCommand ;;
    configs) echo org.apache.kafka.tools.ConfigCommand ;;
    metadata-quorum) echo org.apache.kafka.tools.MetadataQuorumCommand ;;
    cluster) echo org.apache.kafka.tools.ClusterTool ;;
    transactions) echo org.apache.kafka.tools.TransactionsCommand ;;
    e2e-latency) echo org.apache.kafka.tools.EndToEndLatency ;;
    storage) echo kafka.tools.StorageTool ;;
    # Older names people (and the Kafka 3 docs) use.
    kafka.tools.ConsoleConsumer) echo org.apache.kafka.tools.consumer.ConsoleConsumer ;;
    kafka.tools.ConsoleProducer) echo org.apache.kafka.tools.ConsoleProducer ;;
    *.*) echo "$1" ;;
    *) die "unknown Kafka tool '$1' (an alias from the header of scripts/services.sh, or a class name)" ;;
  esac
}

kafka_tool() {
  (($# >= 1)) || die "usage: services.sh tool MAINCLASS|ALIAS [ARGS...]"
  local main; main="$(kafka_main_class "$1")"; shift
  need_java
  kafka_resolve
  kafka_write_config
  tool_java_opts "$main"
  exec java "${TOOL_OPTS[@]}" -cp "$KAFKA_LIBS/*" "$main" "$@"
}

# PID of our broker if it is alive, else empty. Falls back to a process running our config.
kafka_pid() {
  local pid=""
  if [[ -f "$KAFKA_PID" ]]; then
    pid="$(cat "$KAFKA_PID" 2>/dev/null || true)"
    if [[ "$pid" =~ ^[0-9]+$ ]] && [[ -r "/proc/$pid/cmdline" ]] &&
      tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q 'kafka\.Kafka '; then
      echo "$pid"; return 0
    fi
  fi
  pgrep -f "kafka\\.Kafka $KAFKA_HOME/[^ ]*/server\\.properties" 2>/dev/null | head -n 1 || true
}

# A real Kafka request, not just an open port: ApiVersions v0 (api key 18, correlation id 7,
# client id "sluice-p"), what kafka-broker-api-versions sends first, written over bash /dev/tcp
# so the probe costs milliseconds instead of a JVM start. Succeeds when the reply carries our
# correlation id and error code 0. The broker only starts serving 127.0.0.1:9092 once it has
# caught up with the metadata log and been unfenced, so topics can be created right after.
kafka_probe() {
  local out
  # shellcheck disable=SC2016 # $1 is expanded by the inner bash
  out="$(timeout 5 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" &&
    printf "\x00\x00\x00\x12\x00\x12\x00\x00\x00\x00\x00\x07\x00\x08sluice-p" >&3 &&
    head -c 10 <&3' _ "$KAFKA_PORT" 2>/dev/null | od -An -tx1 | tr -d ' \n')" || return 1
  [[ "${out:8:12}" == 000000070000 ]]
}

kafka_format_if_needed() {
  [[ -f "$KAFKA_DATA/meta.properties" ]] && return 0
  local id out
  id="$(java -cp "$KAFKA_LIBS/*" -Dlog4j2.configurationFile="$KAFKA_VDIR/tools-log4j2.properties" \
    kafka.tools.StorageTool random-uuid 2>"$KAFKA_HOME/format.err" | tail -n 1)" ||
    { cat "$KAFKA_HOME/format.err" >&2; die "StorageTool random-uuid failed"; }
  [[ -n "$id" ]] || { cat "$KAFKA_HOME/format.err" >&2; die "StorageTool random-uuid printed nothing"; }
  # Static quorum (controller.quorum.voters), so no --standalone: that flag is for dynamic quorums.
  if ! out="$(java -cp "$KAFKA_LIBS/*" -Dlog4j2.configurationFile="$KAFKA_VDIR/tools-log4j2.properties" \
    kafka.tools.StorageTool format -t "$id" -c "$KAFKA_VDIR/server.properties" 2>&1)"; then
    printf '%s\n' "$out" | tail -n 20 | sed 's/^/    /' >&2
    die "formatting $KAFKA_DATA failed"
  fi
  note "formatted ${KAFKA_DATA#"$ROOT"/} (cluster id $id)"
}

kafka_launch() {
  # shellcheck disable=SC2206
  local heap=(${SLUICE_KAFKA_HEAP_OPTS:--Xms256m -Xmx512m})
  # shellcheck disable=SC2206
  local jvm=(${SLUICE_KAFKA_JVM_OPTS:--XX:+UseSerialGC -XX:+ExitOnOutOfMemoryError})
  [[ -f "$KAFKA_LOG" ]] && mv -f "$KAFKA_LOG" "$KAFKA_LOG.1"
  # setsid: own session, so Ctrl-C in the terminal/test runner that ran `up` does not stop it.
  setsid java "${heap[@]}" "${jvm[@]}" -Djava.awt.headless=true \
    "-Dlog4j2.configurationFile=$KAFKA_VDIR/log4j2.properties" "-Dkafka.logs.dir=$KAFKA_HOME" \
    -cp "$KAFKA_LIBS/*" kafka.Kafka "$KAFKA_VDIR/server.properties" \
    </dev/null >>"$KAFKA_LOG" 2>&1 7>&- 8>&- &
  echo $! >"$KAFKA_PID"
}

kafka_fail() { # MESSAGE [nolog]
  if [[ "${2:-}" == nolog ]]; then line kafka DOWN "$KAFKA_BOOTSTRAP" "($1)"; return 1; fi
  line kafka DOWN "$KAFKA_BOOTSTRAP" "($1; log: ${KAFKA_LOG#"$ROOT"/})"
  if [[ -f "$KAFKA_LOG" ]]; then
    grep -E ' (ERROR|FATAL) |Exception' "$KAFKA_LOG" | tail -n 8 | sed 's/^/    /' >&2 || true
    tail -n 5 "$KAFKA_LOG" | sed 's/^/    /' >&2
  fi
  return 1
}

kafka_up() {
  if kafka_probe; then
    local pid; pid="$(kafka_pid)"
    line kafka up "$KAFKA_BOOTSTRAP" "(running, reused${pid:+; pid $pid})"; return 0
  fi
  need_java --version
  lock 8 "$KAFKA_HOME/.broker.lock" "starting Kafka"
  # Another services.sh may have started it while we waited for the lock.
  if kafka_probe; then unlock 8; kafka_up; return; fi

  local t0 pid tmo deadline
  t0="$(now)"; tmo="$(svc_timeout kafka)"
  kafka_resolve
  kafka_write_config
  pid="$(kafka_pid)"
  if [[ -z "$pid" ]]; then
    rm -f "$KAFKA_PID"
    local p
    for p in "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT"; do
      if port_open "$p"; then
        unlock 8
        kafka_fail "port $p is taken by a process that is not our broker" nolog
        command -v ss >/dev/null && ss -Hltnp "sport = :$p" 2>/dev/null | sed 's/^/    /' >&2
        return 1
      fi
    done
    kafka_format_if_needed
    kafka_launch
    pid="$(cat "$KAFKA_PID")"
  else
    note "kafka: broker pid $pid is already starting; waiting for it"
  fi

  deadline=$((SECONDS + tmo))
  while :; do
    if ! kill -0 "$pid" 2>/dev/null; then
      unlock 8; kafka_fail "broker exited during startup"; return 1
    fi
    if kafka_probe; then break; fi
    if ((SECONDS >= deadline)); then
      unlock 8
      kafka_fail "no answer to a Kafka request after ${tmo}s (pid $pid still running)"
      return 1
    fi
    sleep 0.2
  done
  unlock 8
  rm -f "$KAFKA_HOME/format.err"
  line kafka up "$KAFKA_BOOTSTRAP" "(started $KAFKA_VERSION in $(elapsed "$t0"); pid $pid)"
}

# Pid of the kafka.Kafka process listening on the broker port, if any.
kafka_listener_pid() {
  command -v ss >/dev/null 2>&1 || return 0
  local pid
  pid="$(ss -ltnpH "sport = :$KAFKA_PORT" 2>/dev/null | grep -o 'pid=[0-9]*' | head -n 1 | cut -d= -f2)"
  [[ -n "$pid" ]] && tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q 'kafka\.Kafka' && echo "$pid"
  return 0
}

kafka_down() {
  lock 8 "$KAFKA_HOME/.broker.lock" "stopping Kafka"
  local pid; pid="$(kafka_pid)"
  # A broker started by this script from another checkout of the project holds no pid file
  # here; it is still ours to stop (it is `kafka.Kafka` listening on our port).
  [[ -z "$pid" ]] && pid="$(kafka_listener_pid)"
  if [[ -z "$pid" ]]; then
    rm -f "$KAFKA_PID"; unlock 8
    if port_open "$KAFKA_PORT"; then
      line kafka up "$KAFKA_BOOTSTRAP" "(answering, but not a broker started by this script; left alone)"
      return 1
    fi
    line kafka down "$KAFKA_BOOTSTRAP" "(was not running)"; return 0
  fi
  local t0 deadline; t0="$(now)"
  kill -TERM "$pid" 2>/dev/null || true
  deadline=$((SECONDS + ${SLUICE_KAFKA_STOP_TIMEOUT:-30}))
  while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
  local how="stopped"
  if kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid" 2>/dev/null || true
    how="killed (no clean shutdown within ${SLUICE_KAFKA_STOP_TIMEOUT:-30}s)"
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  fi
  rm -f "$KAFKA_PID"; unlock 8
  line kafka down "$KAFKA_BOOTSTRAP" "($how in $(elapsed "$t0"); was pid $pid)"
}

kafka_status() {
  local pid; pid="$(kafka_pid)"
  if kafka_probe; then
    line kafka up "$KAFKA_BOOTSTRAP" "(${pid:+pid $pid, }${KAFKA_VERSION})"
  elif [[ -n "$pid" ]]; then
    line kafka down "$KAFKA_BOOTSTRAP" "(pid $pid running but not answering: starting or stuck)"; return 1
  else
    line kafka down "$KAFKA_BOOTSTRAP" ""; return 1
  fi
}

# ---------------------------------------------------------------------------------------------

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }

main() {
  local cmd="${1:-}"; (($#)) && shift
  case "$cmd" in
    tool) kafka_tool "$@" ;;
    kafka-libs) need_java; kafka_resolve; echo "$KAFKA_LIBS" ;;
    up | down | status)
      local -a svcs=() args=("$@")
      ((${#args[@]})) || args=(all)
      local a
      for a in "${args[@]}"; do
        if [[ "$a" == all ]]; then
          if [[ "$cmd" == down ]]; then svcs+=(kafka); else svcs+=("${ALL_SERVICES[@]}"); fi
        else
          svcs+=("$(canon "$a")")
        fi
      done
      local rc=0 s
      for s in "${svcs[@]}"; do
        case "$cmd:$s" in
          up:kafka) kafka_up || rc=1 ;;
          down:kafka) kafka_down || rc=1 ;;
          status:kafka) kafka_status || rc=1 ;;
          up:*) debian_up "$s" || rc=1 ;;
          down:*) debian_down "$s" || rc=1 ;;
          status:*)
            if port_open "$(svc_port "$s")"; then line "$s" up "127.0.0.1:$(svc_port "$s")" ""
            else line "$s" down "127.0.0.1:$(svc_port "$s")" ""; rc=1; fi ;;
        esac
      done
      return "$rc" ;;
    -h | --help | help) usage ;;
    *) usage >&2; exit 2 ;;
  esac
}

main "$@"
