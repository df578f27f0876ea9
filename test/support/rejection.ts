/** The DeliveryError a transport's promise rejects with (the test fails if it resolves or rejects with anything else). */
import { expect } from 'vitest';
import { DeliveryError } from '../../src/errors.js';

export async function rejection(p: Promise<unknown>): Promise<DeliveryError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DeliveryError);
  return err as DeliveryError;
}
