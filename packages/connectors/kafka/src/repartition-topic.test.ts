import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { Admin, ConfigResourceTypes } from '@platformatic/kafka';
import { ensureRepartitionTopic } from './repartition-topic.ts';
import { deleteTopics, KAFKA_BROKER, kafkaAvailable, Topics, uniqueName } from './test-support.ts';

const skip = (await kafkaAvailable()) ? false : 'kafka not reachable';
const topics = new Topics();
const made: string[] = [];
after(async () => {
  await topics.cleanup();
  if (made.length > 0) await deleteTopics(...made);
});

function admin(): Admin {
  return new Admin({
    clientId: 'sluice-test-repartition',
    bootstrapBrokers: [KAFKA_BROKER],
    autocreateTopics: false,
  });
}

test('a missing repartition topic is created with the partition count, kept until read, and found again', {
  skip,
}, async () => {
  const name = `${uniqueName('repartition')}-counts-repartition`;
  made.push(name);
  const a = admin();
  try {
    await ensureRepartitionTopic(a, name, 3);
    // A second worker finds it made.
    await ensureRepartitionTopic(a, name, 3);
    const md = await a.metadata({ topics: [name], forceUpdate: true });
    assert.equal(md.topics.get(name)?.partitionsCount, 3);
    const [described] = await a.describeConfigs({
      resources: [
        {
          resourceType: ConfigResourceTypes.TOPIC,
          resourceName: name,
          configurationKeys: ['retention.ms', 'cleanup.policy'],
        },
      ],
    });
    const configs = Object.fromEntries((described?.configs ?? []).map((c) => [c.name, c.value]));
    assert.deepEqual(configs, { 'retention.ms': '-1', 'cleanup.policy': 'delete' });
  } finally {
    await a.close();
  }
});

test('a repartition topic with another partition count stops the worker', { skip }, async () => {
  const name = await topics.create('repartition-other', 2);
  const a = admin();
  try {
    await assert.rejects(ensureRepartitionTopic(a, name, 3), {
      code: 'CONFIG_INVALID',
      message: /has 2 partitions, but the source topics have 3/,
    });
  } finally {
    await a.close();
  }
});
