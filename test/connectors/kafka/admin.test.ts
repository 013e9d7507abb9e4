import { describe, expect, it } from 'vitest';
import { COMPACTED_TOPIC_CONFIG, topicConfig } from '../../../connectors/kafka/admin.ts';

describe('topicConfig: the configs a topic is created with', () => {
  const plain = { topic: 't', partitions: 3, compacted: false };
  const compacted = { ...plain, compacted: true };

  it('a compacted topic gets the compaction settings, a plain one none of them', () => {
    expect(topicConfig(compacted, 1)).toEqual(COMPACTED_TOPIC_CONFIG);
    expect(topicConfig(plain, 1)).toEqual({});
  });

  it('with 3 replicas or more, a majority must hold a write before it is acknowledged', () => {
    expect(topicConfig(plain, 3)).toEqual({ 'min.insync.replicas': '2' });
    expect(topicConfig(plain, 4)['min.insync.replicas']).toBe('3');
    expect(topicConfig(plain, 5)['min.insync.replicas']).toBe('3');
    expect(topicConfig(compacted, 3)).toEqual({
      ...COMPACTED_TOPIC_CONFIG,
      'min.insync.replicas': '2',
    });
  });

  it("below 3 replicas the broker's default stands (a majority of 2 would stop producers while a broker is down)", () => {
    expect(topicConfig(plain, 2)).toEqual({});
  });
});
