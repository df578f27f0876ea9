/**
 * `http`: the operations listener (/metrics, /healthz, /readyz; src/ops). Loopback by default,
 * with its own allow list; `http: null` turns it off. Documented in
 * config/workspace-relay.example.yaml.
 */
import { z } from 'zod';
import { LOOPBACK_NETWORKS, cidrSchema } from './listener-schema.js';

export const DEFAULT_HTTP_PORT = 9325;

const httpListenSchema = z.strictObject({
  host: z.string().default('127.0.0.1'),
  port: z.number().int().min(0).max(65535).default(DEFAULT_HTTP_PORT),
  /** Client networks allowed to ask; others get 403. Default: loopback. */
  allow: z.array(cidrSchema).min(1).prefault(LOOPBACK_NETWORKS),
});

export const httpSchema = z
  .strictObject({
    listen: z
      .array(httpListenSchema)
      .min(1)
      .prefault([{}])
      .superRefine((list, ctx) => {
        const seen = new Set<string>();
        list.forEach((l, i) => {
          const key = `${l.host}:${l.port}`;
          if (l.port !== 0 && seen.has(key)) ctx.addIssue({ code: 'custom', path: [i, 'port'], message: `${key} is listed twice` });
          seen.add(key);
        });
      }),
  })
  .nullable()
  .prefault({});

export type HttpConfig = NonNullable<z.output<typeof httpSchema>>;
export type HttpListenConfig = HttpConfig['listen'][number];
