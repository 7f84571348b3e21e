// SPDX-License-Identifier: Apache-2.0
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import formatsModule from 'ajv-formats';

/** The JSON Schema that ships with the package (`core/schemas/function-map.schema.json`). */
export const FUNCTION_MAP_SCHEMA_PATH = fileURLToPath(
  // Same relative location from src/function-map/ and dist/function-map/.
  new URL('../../schemas/function-map.schema.json', import.meta.url),
);

let validator: ValidateFunction | undefined;

/** Compiled once; fills the schema's defaults into the validated object (ajv `useDefaults`). */
export function functionMapValidator(): ValidateFunction {
  if (!validator) {
    const schema = JSON.parse(readFileSync(FUNCTION_MAP_SCHEMA_PATH, 'utf8')) as object;
    const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: true });
    // ajv-formats is CommonJS; under NodeNext its default import is the module object.
    const addFormats = ((formatsModule as unknown as { default?: unknown }).default ?? formatsModule) as (
      a: Ajv,
    ) => Ajv;
    addFormats(ajv);
    validator = ajv.compile(schema);
  }
  return validator;
}

export type SchemaError = ErrorObject;
