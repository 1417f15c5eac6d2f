#!/usr/bin/env bash
# Sluice development/CI services.
#
# Gives every developer and CI a real Apache Kafka broker (KRaft, single node, 127.0.0.1:9092,
# controller 127.0.0.1:9093) built from Maven Central jars, and checks (restarting if down) the
# machine's Debian-installed services (see /work/shared/services.md).
#
#   scripts/services.sh up     [SERVICE...]   start what is not answering, wait, one line each (default: all)
#   scripts/services.sh down   [SERVICE...]   stop; default (and "all"): kafka, schema-registry, s3, cassandra, hdfs. Debian-installed
#                                             services are stopped only when named explicitly.
#   scripts/services.sh status [SERVICE...]   up/down for each (exit 1 if any is down)
#   scripts/services.sh tool MAINCLASS|ALIAS [ARGS...]   run a Kafka tool with the cached classpath
#   scripts/services.sh kafka-libs            resolve (if needed) and print the Kafka libs directory
#   scripts/services.sh kafka-tls             generate (if needed) and print the Kafka TLS directory
#
# Kafka listeners (all on the one broker; test-only credentials, fixed, not secrets):
#   127.0.0.1:9092  PLAINTEXT       no authentication (also the inter-broker listener)
#   127.0.0.1:9093  CONTROLLER      KRaft controller, PLAINTEXT
#   127.0.0.1:9094  SASL_PLAINTEXT  PLAIN          user sluice, password sluice-plain-secret
#                                   SCRAM-SHA-256  user sluice, password sluice-sha256-secret
#                                   SCRAM-SHA-512  user sluice, password sluice-sha512-secret
#   127.0.0.1:9095  SSL             server certificate signed by the generated CA (tls/ca.pem)
#   127.0.0.1:9096  SSL (MTLS)      the same, and a client certificate signed by that CA is
#                                   required (tls/client.pem, tls/client-key.pem)
#   127.0.0.1:9097  SASL_SSL        the mechanisms and passwords of 9094, over the TLS of 9095
#                                   (server certificate only, no client certificate)
#   Each mechanism has its own password, so a client that sends the wrong mechanism is refused.
#   The broker certificate names 127.0.0.1 and localhost. The TLS files are generated once with
#   openssl into $SLUICE_SERVICES_HOME/kafka/tls (delete the folder to get new ones); the SCRAM
#   users are added when the data directory is formatted (or, for one formatted by an older
#   version of this script, once after the broker starts, with kafka-configs). `up` restarts a
#   running broker once when its configuration (this script's, or the TLS files) changed since
#   it was started; a matching one is reused.
#
#   SERVICE: kafka postgres mariadb redis rabbitmq mosquitto nats schema-registry s3 cassandra hdfs all
#   (schema-registry: a Confluent-compatible registry on 127.0.0.1:8081, run by
#   scripts/schema-registry.sh; s3: S3Proxy, an S3-compatible server on 127.0.0.1:9000 with
#   path-style access and the test credentials sluice-s3-access / sluice-s3-secret, run by
#   scripts/s3proxy.sh; cassandra: Apache Cassandra 5, one node, CQL on 127.0.0.1:9042, no
#   authentication, run by scripts/cassandra.sh; hdfs: the Hadoop minicluster, WebHDFS on
#   127.0.0.1:9870, run by scripts/hdfs.sh, for the hdfs connector's tests)
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
# (generated), data (log.dirs, formatted once), broker.log, broker.pid, broker.config (hash of
# the configuration the running broker started with), scram.stamp (SCRAM users created for
# this cluster id), tls/ (ca.pem, ca-key.pem, broker.pem, client.pem, client-key.pem).
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
KAFKA_SASL_PORT=9094
KAFKA_SSL_PORT=9095
KAFKA_MTLS_PORT=9096
KAFKA_SASL_SSL_PORT=9097
KAFKA_BOOTSTRAP="127.0.0.1:$KAFKA_PORT"
KAFKA_TLS="$KAFKA_HOME/tls"
KAFKA_CONFIG_STAMP="$KAFKA_HOME/broker.config"
KAFKA_SCRAM_STAMP="$KAFKA_HOME/scram.stamp"
# Test-only credentials (see the header); one SASL user, a password per mechanism.
KAFKA_SASL_USER=sluice
KAFKA_PLAIN_PASSWORD=sluice-plain-secret
KAFKA_SCRAM256_PASSWORD=sluice-sha256-secret
KAFKA_SCRAM512_PASSWORD=sluice-sha512-secret

ALL_SERVICES=(postgres mariadb redis rabbitmq mosquitto nats kafka schema-registry s3 cassandra hdfs)

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
    schema-registry | registry) echo schema-registry ;;
    s3 | s3proxy) echo s3 ;;
    cassandra) echo cassandra ;;
    hdfs | webhdfs) echo hdfs ;;
    *) die "unknown service '$1' (kafka postgres mariadb redis rabbitmq mosquitto nats schema-registry s3 cassandra hdfs all)" ;;
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

# PostgreSQL settings the connectors' tests need, in a conf.d file of their own: prepared
# transactions for the postgres sink's `delivery: exactly_once` (PREPARE TRANSACTION), and logical
# decoding for the postgres CDC source (`wal_level = logical`, and room for the replication slots
# of test files that run side by side). Written only when its content
# differs (idempotent). Both take effect at the server's start, so a running server that lacks
# either is restarted once here (as `up` restarts a Kafka broker whose configuration changed): run
# `up` before the tests, not beside them.
PG_SLUICE_CONF=$'max_prepared_transactions = 20\nwal_level = logical\nmax_replication_slots = 64\nmax_wal_senders = 64'
postgres_configure() {
  local v dir file
  v="$(pg_version)"; [[ -n "$v" ]] || return 0
  dir="${PG_CONF_DIR:-/etc/postgresql/$v/main/conf.d}"
  file="$dir/91-sluice.conf"
  if [[ "$(cat "$file" 2>/dev/null)" != "$PG_SLUICE_CONF" ]]; then
    if mkdir -p "$dir" 2>/dev/null && printf '%s\n' "$PG_SLUICE_CONF" >"$file.tmp.$$" 2>/dev/null; then
      mv "$file.tmp.$$" "$file" && note "postgres: wrote $file (${PG_SLUICE_CONF//$'\n'/, })"
    else
      rm -f "$file.tmp.$$"
      note "postgres: cannot write $file; set ${PG_SLUICE_CONF//$'\n'/, } in the server's configuration by hand"
    fi
  fi
  if port_open 5432 && command -v psql >/dev/null 2>&1; then
    local prepared wal slots
    prepared="$(psql -h 127.0.0.1 -U postgres -d postgres -Atc 'SHOW max_prepared_transactions' 2>/dev/null || true)"
    wal="$(psql -h 127.0.0.1 -U postgres -d postgres -Atc 'SHOW wal_level' 2>/dev/null || true)"
    slots="$(psql -h 127.0.0.1 -U postgres -d postgres -Atc 'SHOW max_replication_slots' 2>/dev/null || true)"
    if [[ -n "$prepared" && ( "$prepared" == 0 || "$wal" != logical || "$slots" -lt 64 ) ]]; then
      if [[ "$(cat "$file" 2>/dev/null)" == "$PG_SLUICE_CONF" ]]; then
        note "postgres: the running server has max_prepared_transactions = $prepared, wal_level = $wal, max_replication_slots = $slots; restarting it to apply $file"
        debian_down postgres || true
      else
        note "postgres: the running server has max_prepared_transactions = $prepared, wal_level = $wal and $file" \
          "could not be written; the postgres sink's exactly_once tests and the CDC source's tests skip"
      fi
    fi
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
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT,SASL_PLAINTEXT://127.0.0.1:$KAFKA_SASL_PORT,SSL://127.0.0.1:$KAFKA_SSL_PORT,MTLS://127.0.0.1:$KAFKA_MTLS_PORT,SASL_SSL://127.0.0.1:$KAFKA_SASL_SSL_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,SASL_PLAINTEXT://127.0.0.1:$KAFKA_SASL_PORT,SSL://127.0.0.1:$KAFKA_SSL_PORT,MTLS://127.0.0.1:$KAFKA_MTLS_PORT,SASL_SSL://127.0.0.1:$KAFKA_SASL_SSL_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,SSL:SSL,MTLS:SSL,SASL_SSL:SASL_SSL
# Test-only security listeners (see the header of scripts/services.sh). No authorizer: an
# authenticated client may do anything, like an anonymous one on PLAINTEXT.
sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512
listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_$KAFKA_SASL_USER="$KAFKA_PLAIN_PASSWORD";
listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
# SASL_SSL: the same users (SCRAM credentials are cluster-wide, PLAIN's are in its JAAS line)
# over the broker certificate below; ssl.client.auth stays none, as on SSL.
listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_$KAFKA_SASL_USER="$KAFKA_PLAIN_PASSWORD";
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
ssl.keystore.type=PEM
ssl.keystore.location=$KAFKA_TLS/broker.pem
ssl.truststore.type=PEM
ssl.truststore.location=$KAFKA_TLS/ca.pem
listener.name.mtls.ssl.client.auth=required
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

# The test CA, and the broker and client certificates it signs, into DIR (EC P-256 keys: quick
# to make; valid 10 years). The broker's PEM keystore is its key followed by its certificate.
kafka_tls_generate() {
  local d="$1"
  cat >"$d/openssl.cnf" <<'EOF'
[req]
distinguished_name = dn
prompt = no
[dn]
CN = Sluice test CA
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[broker]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[client]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
  local key=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)
  openssl req -x509 -new -config "$d/openssl.cnf" -extensions ca "${key[@]}" \
    -keyout "$d/ca-key.pem" -out "$d/ca.pem" -days 3650 -subj "/CN=Sluice test CA" &&
    openssl req -new -config "$d/openssl.cnf" "${key[@]}" \
      -keyout "$d/broker-key.pem" -out "$d/broker.csr" -subj "/CN=localhost" &&
    openssl x509 -req -in "$d/broker.csr" -CA "$d/ca.pem" -CAkey "$d/ca-key.pem" -set_serial 2 \
      -days 3650 -extfile "$d/openssl.cnf" -extensions broker -out "$d/broker-cert.pem" &&
    openssl req -new -config "$d/openssl.cnf" "${key[@]}" \
      -keyout "$d/client-key.pem" -out "$d/client.csr" -subj "/CN=sluice-test-client" &&
    openssl x509 -req -in "$d/client.csr" -CA "$d/ca.pem" -CAkey "$d/ca-key.pem" -set_serial 3 \
      -days 3650 -extfile "$d/openssl.cnf" -extensions client -out "$d/client.pem" &&
    cat "$d/broker-key.pem" "$d/broker-cert.pem" >"$d/broker.pem" &&
    rm -f "$d"/*.csr "$d/broker-key.pem" &&
    chmod 644 "$d"/*.pem
}

# Generates the TLS files once into $KAFKA_TLS (a temporary folder renamed into place, so a
# concurrent reader never sees half of them).
kafka_tls() {
  [[ -f "$KAFKA_TLS/.complete" ]] && return 0
  command -v openssl >/dev/null 2>&1 ||
    die "openssl not found on PATH (needed once to make the Kafka test certificates; apt-get install openssl)"
  lock 6 "$KAFKA_HOME/.tls.lock" "generating TLS files"
  if [[ ! -f "$KAFKA_TLS/.complete" ]]; then
    local tmp="$KAFKA_TLS.tmp.$$" out
    rm -rf "$tmp" && mkdir -p "$tmp"
    if ! out="$(kafka_tls_generate "$tmp" 2>&1)"; then
      rm -rf "$tmp"
      printf '%s\n' "$out" | tail -n 20 | sed 's/^/    /' >&2
      die "generating the Kafka test certificates with openssl failed"
    fi
    touch "$tmp/.complete"
    rm -rf "$KAFKA_TLS" && mv "$tmp" "$KAFKA_TLS"
    note "generated a test CA and broker and client certificates in $KAFKA_TLS"
  fi
  unlock 6
}

# Hash of what a broker started now would run with: server.properties and the TLS files.
kafka_config_hash() {
  cat "$KAFKA_VDIR/server.properties" "$KAFKA_TLS/broker.pem" "$KAFKA_TLS/ca.pem" | sha256sum | cut -c1-16
}

# Whether the running broker PID started with the configuration this script generates now
# (broker.config holds "pid hash", written at launch). Writes the configuration files.
kafka_config_current() { # PID
  [[ -f "$KAFKA_CONFIG_STAMP" && -f "$KAFKA_TLS/.complete" ]] || return 1
  kafka_write_config
  [[ "$(cat "$KAFKA_CONFIG_STAMP")" == "$1 $(kafka_config_hash)" ]]
}

# What scram.stamp holds once cluster ID has the SCRAM users of this script.
kafka_scram_stamp() { # CLUSTER_ID
  echo "$1 $(printf '%s\n' "$KAFKA_SASL_USER" "$KAFKA_SCRAM256_PASSWORD" "$KAFKA_SCRAM512_PASSWORD" |
    sha256sum | cut -c1-16)"
}

# Creates the SCRAM credentials unless scram.stamp says this cluster has them. A data directory
# formatted by this script has them from the start (StorageTool --add-scram); one formatted by
# an earlier version gets them here, once, with kafka-configs (one call per mechanism: Kafka
# refuses two credentials of one user in one request; an existing one is overwritten).
kafka_scram_users() {
  local id want mechanism password out
  id="$(sed -n 's/^cluster\.id=//p' "$KAFKA_DATA/meta.properties" 2>/dev/null || true)"
  want="$(kafka_scram_stamp "$id")"
  [[ -n "$id" && -f "$KAFKA_SCRAM_STAMP" && "$(cat "$KAFKA_SCRAM_STAMP")" == "$want" ]] && return 0
  need_java
  kafka_resolve
  tool_java_opts org.apache.kafka.tools.ConfigCommand
  for mechanism in SCRAM-SHA-256 SCRAM-SHA-512; do
    password="$KAFKA_SCRAM256_PASSWORD"
    [[ "$mechanism" == SCRAM-SHA-512 ]] && password="$KAFKA_SCRAM512_PASSWORD"
    if ! out="$(java "${TOOL_OPTS[@]}" -cp "$KAFKA_LIBS/*" org.apache.kafka.tools.ConfigCommand \
      --bootstrap-server "$KAFKA_BOOTSTRAP" --alter --entity-type users --entity-name "$KAFKA_SASL_USER" \
      --add-config "$mechanism=[password=$password]" 2>&1)"; then
      printf '%s\n' "$out" | tail -n 10 | sed 's/^/    /' >&2
      line kafka DOWN "127.0.0.1:$KAFKA_SASL_PORT" "(could not create the $mechanism user with kafka-configs)"
      return 1
    fi
  done
  [[ -n "$id" ]] && echo "$want" | write_atomic "$KAFKA_SCRAM_STAMP"
  note "kafka: created the SCRAM users"
  return 0
}

# One line per security listener, for `up` and `status`.
kafka_listener_lines() {
  local p what rc=0
  for p in "$KAFKA_SASL_PORT" "$KAFKA_SSL_PORT" "$KAFKA_MTLS_PORT" "$KAFKA_SASL_SSL_PORT"; do
    case "$p" in
      "$KAFKA_SASL_PORT") what="SASL_PLAINTEXT: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512" ;;
      "$KAFKA_SSL_PORT") what="SSL; CA $KAFKA_TLS/ca.pem" ;;
      "$KAFKA_MTLS_PORT") what="SSL with a client certificate (MTLS)" ;;
      *) what="SASL_SSL: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512; CA $KAFKA_TLS/ca.pem" ;;
    esac
    if port_open "$p"; then line kafka up "127.0.0.1:$p" "($what)"
    else line kafka DOWN "127.0.0.1:$p" "($what)"; rc=1; fi
  done
  return "$rc"
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
    kafka.tools.StorageTool format -t "$id" -c "$KAFKA_VDIR/server.properties" \
    --add-scram "SCRAM-SHA-256=[name=$KAFKA_SASL_USER,password=$KAFKA_SCRAM256_PASSWORD]" \
    --add-scram "SCRAM-SHA-512=[name=$KAFKA_SASL_USER,password=$KAFKA_SCRAM512_PASSWORD]" 2>&1)"; then
    printf '%s\n' "$out" | tail -n 20 | sed 's/^/    /' >&2
    die "formatting $KAFKA_DATA failed"
  fi
  kafka_scram_stamp "$id" | write_atomic "$KAFKA_SCRAM_STAMP"
  note "formatted ${KAFKA_DATA#"$ROOT"/} (cluster id $id, with the SCRAM users)"
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
    </dev/null >>"$KAFKA_LOG" 2>&1 6>&- 7>&- 8>&- &
  echo $! >"$KAFKA_PID"
  echo "$! $(kafka_config_hash)" | write_atomic "$KAFKA_CONFIG_STAMP"
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

# Whether the broker answering on 127.0.0.1:9092 can be reused as it is: it runs the current
# configuration, or it is not one this script started from here (no pid: left as it is).
kafka_reusable() {
  kafka_probe || return 1
  local pid; pid="$(kafka_pid)"
  [[ -z "$pid" ]] || kafka_config_current "$pid"
}

kafka_up() {
  if kafka_reusable; then
    local pid; pid="$(kafka_pid)"
    kafka_scram_users || return 1
    line kafka up "$KAFKA_BOOTSTRAP" "(running, reused${pid:+; pid $pid})"
    kafka_listener_lines
    return
  fi
  need_java --version
  lock 8 "$KAFKA_HOME/.broker.lock" "starting Kafka"
  # Another services.sh may have started it while we waited for the lock.
  if kafka_reusable; then unlock 8; kafka_up; return; fi

  local t0 pid tmo deadline how=started
  t0="$(now)"; tmo="$(svc_timeout kafka)"
  kafka_resolve
  kafka_tls
  kafka_write_config
  pid="$(kafka_pid)"
  # Started by an earlier version of this script (or before the TLS files changed): restart it
  # once with the new configuration. A broker still starting is waited for instead.
  if [[ -n "$pid" ]] && kafka_probe; then
    note "kafka: the running broker (pid $pid) has an older configuration; restarting it with the new one"
    kafka_stop_pid "$pid"
    pid=""
    how=restarted
  fi
  if [[ -z "$pid" ]]; then
    rm -f "$KAFKA_PID"
    local p
    for p in "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT" "$KAFKA_SASL_PORT" "$KAFKA_SSL_PORT" "$KAFKA_MTLS_PORT" \
      "$KAFKA_SASL_SSL_PORT"; do
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
    # The listeners open together once the broker serves requests.
    if kafka_probe && port_open "$KAFKA_SASL_PORT" && port_open "$KAFKA_SSL_PORT" &&
      port_open "$KAFKA_MTLS_PORT" && port_open "$KAFKA_SASL_SSL_PORT"; then break; fi
    if ((SECONDS >= deadline)); then
      unlock 8
      kafka_fail "no answer to a Kafka request after ${tmo}s (pid $pid still running)"
      return 1
    fi
    sleep 0.2
  done
  unlock 8
  rm -f "$KAFKA_HOME/format.err"
  kafka_scram_users || return 1
  line kafka up "$KAFKA_BOOTSTRAP" "($how $KAFKA_VERSION in $(elapsed "$t0"); pid $pid)"
  kafka_listener_lines
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
  local t0; t0="$(now)"
  kafka_stop_pid "$pid"
  unlock 8
  line kafka down "$KAFKA_BOOTSTRAP" "($KAFKA_STOPPED in $(elapsed "$t0"); was pid $pid)"
}

# Stops broker PID (SIGTERM, SIGKILL after SLUICE_KAFKA_STOP_TIMEOUT) and forgets it; sets
# KAFKA_STOPPED to how. The caller holds the broker lock.
kafka_stop_pid() {
  local pid="$1" deadline
  kill -TERM "$pid" 2>/dev/null || true
  deadline=$((SECONDS + ${SLUICE_KAFKA_STOP_TIMEOUT:-30}))
  while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
  KAFKA_STOPPED="stopped"
  if kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid" 2>/dev/null || true
    KAFKA_STOPPED="killed (no clean shutdown within ${SLUICE_KAFKA_STOP_TIMEOUT:-30}s)"
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  fi
  rm -f "$KAFKA_PID" "$KAFKA_CONFIG_STAMP"
}

kafka_status() {
  local pid; pid="$(kafka_pid)"
  if kafka_probe; then
    local older=""
    [[ -n "$pid" ]] && ! kafka_config_current "$pid" && older="older configuration: \`up\` restarts it, "
    line kafka up "$KAFKA_BOOTSTRAP" "(${pid:+pid $pid, }$older$KAFKA_VERSION)"
    kafka_listener_lines || return 1
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
    kafka-tls) kafka_tls; echo "$KAFKA_TLS" ;;
    up | down | status)
      local -a svcs=() args=("$@")
      ((${#args[@]})) || args=(all)
      local a
      for a in "${args[@]}"; do
        if [[ "$a" == all ]]; then
          if [[ "$cmd" == down ]]; then svcs+=(kafka schema-registry s3 cassandra hdfs); else svcs+=("${ALL_SERVICES[@]}"); fi
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
          *:schema-registry) bash "$ROOT/scripts/schema-registry.sh" "$cmd" || rc=1 ;;
          *:s3) bash "$ROOT/scripts/s3proxy.sh" "$cmd" || rc=1 ;;
          *:cassandra) bash "$ROOT/scripts/cassandra.sh" "$cmd" || rc=1 ;;
          *:hdfs) bash "$ROOT/scripts/hdfs.sh" "$cmd" || rc=1 ;;
          up:postgres) postgres_configure; debian_up "$s" || rc=1 ;;
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
