/**
 * The connector packages of this repository, listed once: the CLI loads one when a pipeline
 * names one of its types, `sluice describe` lists what is installed, and the docs generator
 * writes a reference page for each. The docs generator fails when a package's plugin provides
 * other types than listed here, so the list cannot drift from the packages.
 */

/** One connector package. */
export interface ConnectorPackage {
  /** Its npm name, as imported. */
  readonly pkg: string;
  /** The title of its reference page. */
  readonly title: string;
  /** The component types its plugin provides, known without importing it. */
  readonly types: readonly string[];
}

export const connectorCatalogue: readonly ConnectorPackage[] = [
  { pkg: '@sluice/bigquery', title: 'Google BigQuery', types: ['bigquery'] },
  { pkg: '@sluice/cassandra', title: 'Apache Cassandra', types: ['cassandra'] },
  { pkg: '@sluice/duckdb', title: 'DuckDB', types: ['duckdb'] },
  { pkg: '@sluice/hdfs', title: 'HDFS', types: ['hdfs'] },
  { pkg: '@sluice/kafka', title: 'Kafka', types: ['kafka'] },
  { pkg: '@sluice/mqtt', title: 'MQTT', types: ['mqtt'] },
  {
    pkg: '@sluice/ml',
    title: 'Machine learning',
    types: ['learn', 'predict', 'learn_predict', 'evaluate', 'score'],
  },
  { pkg: '@sluice/nats', title: 'NATS JetStream', types: ['nats'] },
  { pkg: '@sluice/postgres', title: 'PostgreSQL', types: ['postgres'] },
  { pkg: '@sluice/pubsub', title: 'Google Cloud Pub/Sub', types: ['pubsub'] },
  { pkg: '@sluice/redis', title: 'Redis', types: ['redis'] },
  { pkg: '@sluice/s3', title: 'S3-compatible object storage', types: ['s3'] },
  { pkg: '@sluice/server', title: 'HTTP views', types: ['view'] },
  { pkg: '@sluice/sql', title: 'SQL step', types: ['sql'] },
  { pkg: '@sluice/rabbitmq', title: 'RabbitMQ', types: ['rabbitmq'] },
  { pkg: '@sluice/websocket', title: 'WebSocket', types: ['websocket'] },
];
