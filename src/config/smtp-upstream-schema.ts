/**
 * The config sections of the SMTP ways into Google: `smtp` (Gmail SMTP with an app password),
 * `gmailXoauth2` (Gmail SMTP with XOAUTH2) and `smtpRelay` (Google's SMTP relay service). TLS is
 * always required: implicit on 465 (the default there), STARTTLS otherwise.
 */
import { z } from 'zod';
import { emailSchema as email } from './atoms.js';

const port = (def: number) => z.number().int().min(1).max(65535).default(def);

export const smtpSchema = z
  .strictObject({
    host: z.string().default('smtp.gmail.com'),
    port: port(465),
    /** Implicit TLS; defaults to true on port 465. Otherwise STARTTLS is required. */
    secure: z.boolean().optional(),
    user: email,
    appPasswordFile: z.string().min(1),
    /** Extra CA certificate (PEM) to trust for the upstream; tests and TLS-inspecting proxies. */
    caFile: z.string().optional(),
  })
  .transform((s) => ({ ...s, secure: s.secure ?? s.port === 465 }));

/** Gmail SMTP with XOAUTH2: a token from the service account for each sending user (scope https://mail.google.com/). */
export const gmailXoauth2Schema = z
  .strictObject({
    serviceAccountKeyFile: z.string().min(1),
    host: z.string().default('smtp.gmail.com'),
    port: port(465),
    /** Implicit TLS; defaults to true on port 465. Otherwise STARTTLS is required. */
    secure: z.boolean().optional(),
    caFile: z.string().optional(),
  })
  .transform((s) => ({ ...s, secure: s.secure ?? s.port === 465 }));

/** Google's SMTP relay service: the relay's IP address (no AUTH), or SMTP AUTH as one user. */
export const smtpRelaySchema = z
  .strictObject({
    host: z.string().default('smtp-relay.gmail.com'),
    port: port(587),
    /** Implicit TLS; defaults to true on port 465. Otherwise STARTTLS is required. */
    secure: z.boolean().optional(),
    /** SMTP AUTH (with passwordFile), when the relay setting requires it; default: none (by IP address). */
    user: email.optional(),
    passwordFile: z.string().min(1).optional(),
    /** The EHLO name: a name of the practice's domain (Google checks it); default the machine's host name. */
    heloName: z.string().regex(/^[A-Za-z0-9.-]+$/, 'a host name such as relay.clinic.example').optional(),
    caFile: z.string().optional(),
  })
  .superRefine((s, ctx) => {
    if ((s.user === undefined) !== (s.passwordFile === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: [s.user === undefined ? 'user' : 'passwordFile'],
        message: 'set both user and passwordFile for SMTP AUTH, or neither (the relay service then knows the relay by its IP address)',
      });
    }
  })
  .transform((s) => ({ ...s, secure: s.secure ?? s.port === 465 }));

/** Which section each transport reads. */
