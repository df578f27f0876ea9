/**
 * What a reload does to the listeners and the settings read once at start (src/lifecycle/
 * reload-plan.ts), by table; and the cleanup stack start-up and reload unwind.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/load.js';
import type { Config } from '../src/config/index.js';
import { CleanupStack, listenerKey, planReload, type Running } from '../src/lifecycle/index.js';

type L = { host?: string; port: number; name?: string; tls?: { mode: 'none' | 'starttls' | 'implicit'; certFile?: string; keyFile?: string }; greetingDelay?: number };

const config = (listen: L[], queue: Partial<Record<string, unknown>> = {}): Config =>
  parseConfig({
    listen: listen.map((l) => ({ host: '127.0.0.1', ...l })),
    workspaces: [{ name: 'clinic', domains: ['clinic.example'], transport: 'outbox', outbox: { dir: '/var/outbox' } }],
    queue: { dir: '/var/spool/relay', ...queue },
  });

const TLS = { certFile: '/etc/relay/cert.pem', keyFile: '/etc/relay/key.pem' };

/** What runs: each listener named by its host:port, started from `from`. */
function running(from: Config, over: Partial<Running<{ cfg: Config['listen'][number] }>> = {}): Running<{ cfg: Config['listen'][number] }> {
  return { listeners: from.listen.map((cfg) => ({ cfg })), spoolDir: path.resolve(from.queue.dir), deliveryThread: true, dedupeRetention: from.queue.dedupeRetention, threadable: true, ...over };
}

/** The plan, with listeners named host:port. */
function named(from: Config, next: Config, over?: Partial<Running<{ cfg: Config['listen'][number] }>>) {
  const plan = planReload(running(from, over), next);
  return {
    reload: plan.reload.map((r) => listenerKey(r.running.cfg)),
    reopen: plan.reopen.map((r) => `${listenerKey(r.running.cfg)} ${r.running.cfg.tls.mode}→${r.next.tls.mode}`),
    close: plan.close.map((r) => listenerKey(r.cfg)),
    open: plan.open.map(listenerKey),
    restartNeeded: plan.restartNeeded,
  };
}

const none: ReturnType<typeof named> = { reload: [], reopen: [], close: [], open: [], restartNeeded: [] };

describe('reload plan', () => {
  it.each<[string, L[], L[], Partial<typeof none>]>([
    ['the same listeners: each reloaded in place', [{ port: 25 }, { port: 587 }], [{ port: 25 }, { port: 587 }], { reload: ['127.0.0.1:25', '127.0.0.1:587'] }],
    ['a setting that needs no new socket (greetingDelay): in place', [{ port: 25 }], [{ port: 25, greetingDelay: 500 }], { reload: ['127.0.0.1:25'] }],
    ['a certificate change (same tls.mode): in place', [{ port: 587, tls: { mode: 'starttls', ...TLS } }], [{ port: 587, tls: { mode: 'starttls', certFile: '/etc/relay/new.pem', keyFile: TLS.keyFile } }], { reload: ['127.0.0.1:587'] }],
    ['tls.mode changed: closed and opened again on the same port', [{ port: 587 }], [{ port: 587, tls: { mode: 'starttls', ...TLS } }], { reopen: ['127.0.0.1:587 none→starttls'] }],
    ['a port gone: closed', [{ port: 25 }, { port: 587 }], [{ port: 25 }], { reload: ['127.0.0.1:25'], close: ['127.0.0.1:587'] }],
    ['a new port: opened', [{ port: 25 }], [{ port: 25 }, { port: 2525 }], { reload: ['127.0.0.1:25'], open: ['127.0.0.1:2525'] }],
    ['a port moved: the old closed, the new opened', [{ port: 25 }], [{ port: 26 }], { close: ['127.0.0.1:25'], open: ['127.0.0.1:26'] }],
    ['a host changed: the old closed, the new opened', [{ port: 25 }], [{ host: '0.0.0.0', port: 25 }], { close: ['127.0.0.1:25'], open: ['0.0.0.0:25'] }],
    [
      'all at once',
      [{ port: 25 }, { port: 465, tls: { mode: 'implicit', ...TLS } }, { port: 587 }],
      [{ port: 465, tls: { mode: 'starttls', ...TLS } }, { port: 587 }, { port: 2525 }],
      { reload: ['127.0.0.1:587'], reopen: ['127.0.0.1:465 implicit→starttls'], close: ['127.0.0.1:25'], open: ['127.0.0.1:2525'] },
    ],
  ])('%s', (_name, before, after, expected) => {
    expect(named(config(before), config(after))).toEqual({ ...none, ...expected });
  });

  it('listeners on port 0 (any free port) are told apart by name: each its own, a new one opened', () => {
    const from = config([{ port: 0, name: 'a' }, { port: 0, name: 'b' }]);
    const plan = planReload(running(from), config([{ port: 0, name: 'a' }, { port: 0, name: 'c' }]));
    expect(plan.reload.map((r) => [r.running.cfg.name, r.next.name])).toEqual([['a', 'a']]);
    expect(plan.close.map((r) => r.cfg.name)).toEqual(['b']);
    expect(plan.open.map((l) => l.name)).toEqual(['c']);
  });

  it('names the settings read only at start that a reload changed', () => {
    const from = config([{ port: 25 }]);
    expect(named(from, config([{ port: 25 }], { deliveryThread: false, dedupeRetention: '2d' })).restartNeeded).toEqual(['queue.deliveryThread', 'queue.dedupeRetention']);
    expect(named(from, config([{ port: 25 }], { dedupeRetention: '7d' })).restartNeeded).toEqual([]);
  });

  it('a relay that cannot run a thread (transports or clock replaced) does not ask for one', () => {
    const from = config([{ port: 25 }]);
    expect(named(from, config([{ port: 25 }]), { deliveryThread: false, threadable: false }).restartNeeded).toEqual([]);
    expect(named(from, config([{ port: 25 }]), { deliveryThread: true, threadable: true }).restartNeeded).toEqual([]);
  });

  it('refuses a new queue.dir: that needs a restart', () => {
    expect(() => planReload(running(config([{ port: 25 }])), config([{ port: 25 }], { dir: '/var/spool/other' }))).toThrow(
      /^queue\.dir: changing the spool directory needs a restart/,
    );
  });
});

describe('cleanup stack', () => {
  it('unwinds last first, every step even when one fails, and is empty afterwards', async () => {
    const order: string[] = [];
    const stack = new CleanupStack();
    stack.defer(() => order.push('lock'));
    stack.defer(async () => {
      await new Promise((r) => setTimeout(r, 5));
      order.push('listeners');
    });
    stack.defer(() => {
      throw new Error('thread would not stop');
    });
    stack.defer(() => order.push('scheduler'));
    const errors = await stack.unwind();
    expect(order).toEqual(['scheduler', 'listeners', 'lock']);
    expect(errors.map((e) => (e as Error).message)).toEqual(['thread would not stop']);
    expect(stack.size).toBe(0);
    expect(await stack.unwind()).toEqual([]);
  });

  it('a dismissed stack undoes nothing', async () => {
    const stack = new CleanupStack();
    let undone = false;
    stack.defer(() => (undone = true));
    stack.dismiss();
    await stack.unwind();
    expect(undone).toBe(false);
  });
});
