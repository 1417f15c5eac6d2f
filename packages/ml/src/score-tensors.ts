/**
 * The `score` step's tensors of integers and texts: the fields of a record as an int64, int32 or
 * string tensor holds them, and one run's tensor data of any input type. Not part of the public
 * surface.
 */

import type { Row } from '@sluice/core';
import { FeatureError } from './features.ts';
import type { InputPlan, InputType } from './score-model.ts';

/**
 * Writes the fields of `input` in `record` as they are into `raw` from `at`: integers for an
 * int64 / int32 tensor, texts for a string tensor; throws {@link FeatureError} for a value the
 * tensor cannot hold (a dead letter).
 */
export function rawRow(
  record: Row,
  input: InputPlan,
  type: InputType,
  raw: (bigint | number | string)[],
  at: number,
): void {
  const fields = input.fields!;
  for (let c = 0; c < fields.length; c++) {
    const field = fields[c];
    const value = record[field];
    if (value === undefined || value === null)
      throw new FeatureError(field, `input field '${field}' is missing`);
    if (type === 'string') {
      if (typeof value !== 'string')
        throw new FeatureError(
          field,
          `input field '${field}' holds ${JSON.stringify(value)}, not a text (the model's input '${input.name}' is a string tensor)`,
        );
      raw[at + c] = value;
      continue;
    }
    const bits = type === 'int64' ? 64 : 32;
    let v: bigint | undefined;
    if (typeof value === 'bigint') v = value;
    else if (typeof value === 'number' && Number.isSafeInteger(value)) v = BigInt(value);
    if (v === undefined || BigInt.asIntN(bits, v) !== v)
      throw new FeatureError(
        field,
        `input field '${field}' holds ${typeof value === 'bigint' ? value.toString() : JSON.stringify(value)}, not an integer of ${bits} bits (the model's input '${input.name}' is an ${type} tensor)`,
      );
    raw[at + c] = type === 'int64' ? v : Number(v);
  }
}

/** The data of one run's tensor: rows `from`–`to` of the encoded or raw columns, padded to `length` with zeros (empty texts). */
export function tensorData(
  type: InputType,
  length: number,
  values: Float64Array,
  raw: readonly (bigint | number | string)[],
  from: number,
  to: number,
): Float32Array | Float64Array | BigInt64Array | Int32Array | string[] {
  switch (type) {
    case 'float32':
    case 'float64': {
      const data = type === 'float32' ? new Float32Array(length) : new Float64Array(length);
      data.set(values.subarray(from, to));
      return data;
    }
    case 'int64': {
      const data = new BigInt64Array(length);
      for (let k = from; k < to; k++) data[k - from] = raw[k] as bigint;
      return data;
    }
    case 'int32': {
      const data = new Int32Array(length);
      for (let k = from; k < to; k++) data[k - from] = raw[k] as number;
      return data;
    }
    case 'string': {
      const data = new Array<string>(length).fill('');
      for (let k = from; k < to; k++) data[k - from] = raw[k] as string;
      return data;
    }
  }
}
