#!/usr/bin/env bash
# Run an Apache Kafka tool class with the cached Kafka classpath (see scripts/services.sh: ~/.cache/sluice/kafka/<version>/libs).
#   scripts/kafka-tool.sh MAINCLASS|ALIAS [ARGS...]
# e.g. scripts/kafka-tool.sh topics --bootstrap-server 127.0.0.1:9092 --list
#      scripts/kafka-tool.sh console-consumer --bootstrap-server 127.0.0.1:9092 --topic t --from-beginning --max-messages 3
# Aliases and environment: see scripts/services.sh.
set -euo pipefail
exec "$(dirname "${BASH_SOURCE[0]}")/services.sh" tool "$@"
