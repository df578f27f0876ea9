/**
 * Listeners and device accounts: who may connect, how (TLS, AUTH), and as whom. The edge.
 * Every key is documented in config/workspace-relay.example.yaml.
 */
import { isIP } from 'node:net';
import { z } from 'zod';
import { emailSchema, optionalDuration } from './atoms.js';
import { privateNetworksOnly } from './private-networks.js';

const TLS_VERSIONS = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'] as const;

const tlsSchema = z
  .strictObject({
    mode: z.enum(['none', 'starttls', 'implicit']).default('none'),
    certFile: z.string().optional(),
    keyFile: z.string().optional(),
    minVersion: z.enum(TLS_VERSIONS).default('TLSv1.2'),
    /**
     * TLSv1 / TLSv1.1 are refused unless this names the legacy device (or devices) that needs
     * them; the relay warns at every start while it is set.
     */
    legacyDevice: z.string().min(1).optional(),
  })
  .superRefine((t, ctx) => {
    if (t.mode !== 'none' && (!t.certFile || !t.keyFile)) {
      ctx.addIssue({
        code: 'custom',
        path: [t.certFile ? 'keyFile' : 'certFile'],
        message: `tls mode "${t.mode}" needs certFile and keyFile (PEM files); or set mode: none`,
      });
    }
    if ((t.minVersion === 'TLSv1' || t.minVersion === 'TLSv1.1') && !t.legacyDevice) {
      ctx.addIssue({
        code: 'custom',
        path: ['minVersion'],
        message: `${t.minVersion} is broken and off by default; to allow it for an old device, also set tls.legacyDevice to name that device`,
      });
    }
  });

/** A client network in CIDR form (IPv4 or IPv6); a bare address means that one host. */
export const cidrSchema = z.string().transform((v, ctx) => {
  const [addr, bits, extra] = v.trim().split('/');
  const family = isIP(addr ?? '');
  const max = family === 6 ? 128 : 32;
  const prefix = bits === undefined ? max : Number(bits);
  if (!family || extra !== undefined || !Number.isInteger(prefix) || prefix < 0 || prefix > max || (bits !== undefined && !/^\d+$/.test(bits))) {
    ctx.addIssue({ code: 'custom', message: `"${v}" is not a network: use CIDR such as 192.168.10.0/24 or fd00::/8, or one address` });
    return z.NEVER;
  }
  return { address: addr!, prefix, family: family === 6 ? ('ipv6' as const) : ('ipv4' as const), text: `${addr}/${prefix}` };
});
export type Cidr = z.output<typeof cidrSchema>;

export const LOOPBACK_NETWORKS = ['127.0.0.0/8', '::1/128'];

/** listen[].greetingDelay where a listener is open wider than loopback and private networks. */
export const OPEN_GREETING_DELAY_MS = 100;

export const listenerSchema = z
  .strictObject({
    /** Names the listener in logs; device accounts and the hosted binding may refer to it. */
    name: z.string().regex(/^[a-z0-9][a-z0-9_-]*$/i, 'use letters, digits, - and _').optional(),
    host: z.string().default('127.0.0.1'),
    port: z.number().int().min(0).max(65535),
    /** Client networks allowed to connect; others get 554 5.7.1 at connect. Default: loopback. */
    allow: z.array(cidrSchema).min(1).prefault(LOOPBACK_NETWORKS),
    tls: tlsSchema.prefault({}),
    auth: z
      .strictObject({
        /** AUTH is offered only when device accounts exist; PLAIN and LOGIN. */
        required: z.boolean().default(false),
        /** Allow AUTH without TLS (loopback, or an opted-in device network). */
        allowPlaintext: z.boolean().default(false),
      })
      .prefault({}),
    /** Hosted isolation: this listener belongs to one workspace (by name). */
    workspace: z.string().optional(),
    /** Envelope senders this listener may use (after mapping); default any in its workspace(s). */
    senders: z.array(emailSchema).optional(),
    /** When From is not the user Google sends as: rewrite it, send as the From user, or refuse. */
    fromPolicy: z.enum(['rewrite', 'impersonate', 'reject']).default('rewrite'),
    /** With fromPolicy rewrite: keep the original From address in Reply-To. */
    replyToOriginal: z.boolean().default(false),
    /** Check From against the user's verified send-as aliases (Gmail API settings.sendAs.list). */
    verifySendAs: z.boolean().default(false),
    /** Accept bare LF / bare CR line endings in DATA (normalised to CRLF; a known device only). */
    allowBareLineEndings: z.boolean().default(false),
    /**
     * Let Reply-To, Mail-Followup-To, Mail-Reply-To, Resent-Reply-To, Mail-Copies-To and the List-*
     * mailto: links name addresses outside the workspace (staff who press Reply then write
     * outside). Read-receipt and error headers are held to the workspace regardless. docs/edge.md.
     */
    allowOutsideReplyAddresses: z.boolean().default(false),
    /**
     * Behind a TCP load balancer (HAProxy send-proxy / send-proxy-v2): connections from these
     * networks must open with a PROXY protocol header (v1 or v2), whose client address allow,
     * the connection limits, the login throttle and the logs then use; any other peer is refused.
     * docs/proxy-protocol.md.
     */
    proxyProtocol: z
      .strictObject({
        trusted: z
          .array(cidrSchema.refine((n) => n.prefix > 0, 'trusting every address lets any client choose the address the relay sees: list the balancers only'))
          .min(1, 'list the load balancers\' addresses, e.g. ["10.0.0.2/32"]; or remove proxyProtocol'),
      })
      .optional(),
    maxConnections: z.number().int().min(1).default(100),
    maxConnectionsPerClient: z.number().int().min(1).default(20),
    /**
     * Wait before the greeting to catch clients that talk too early. Default: 0 when `allow` holds
     * only loopback and private networks, else 100 ms.
     */
    greetingDelay: optionalDuration(),
  })
  .transform((l) => ({ ...l, greetingDelay: l.greetingDelay ?? (privateNetworksOnly(l.allow) ? 0 : OPEN_GREETING_DELAY_MS) }));

export const deviceSchema = z.strictObject({
  /** The AUTH login name. */
  username: z.string().min(1),
  /** `workspace-relay hash-password` prints one (scrypt). Never the password itself. */
  passwordHash: z.string().regex(/^scrypt\$/, 'use the output of: workspace-relay hash-password'),
  /** The one workspace this device belongs to. */
  workspace: z.string(),
  /** Envelope senders (after mapping) this device may use; default: any in its workspace. */
  senders: z.array(emailSchema).optional(),
  /** Recipients this device may send to (e.g. scan-to-self); default: any in its workspace. */
  allowedRecipients: z.array(emailSchema).optional(),
  /** Messages per hour this device may send; default: no limit. */
  maxMessagesPerHour: z.number().int().min(1).optional(),
});

export type ListenerConfig = z.output<typeof listenerSchema>;
export type DeviceConfig = z.output<typeof deviceSchema>;
