import { describe, expect, it } from 'vitest';
import { parseConfig, type Config, type WorkspaceConfig } from '../src/config/index.js';
import { POLICY_CODES, resolveSender, workspaceOfDomain, type SenderDecision } from '../src/policy/index.js';
import { renderReply } from '../src/replies/index.js';

type Ws = { name: string; domains: string[]; map?: Record<string, string>; default?: string | null };

function config(...workspaces: Ws[]): Config {
  return parseConfig({
    queue: { dir: '/tmp/unused' },
    workspaces: workspaces.map((w) => ({
      name: w.name,
      domains: w.domains,
      transport: 'outbox',
      outbox: { dir: '/tmp/unused-outbox' },
      senders: { map: w.map ?? {}, default: w.default ?? null },
    })),
  });
}

const ws = (c: Config, name: string): WorkspaceConfig => c.workspaces.find((w) => w.name === name)!;

function ok(d: SenderDecision) {
  if (!d.ok) throw new Error(`expected acceptance, got ${renderReply(d.reply).message}`);
  return { workspace: d.workspace.name, sender: d.sender, via: d.via };
}
function refused(d: SenderDecision) {
  if (d.ok) throw new Error(`expected a refusal, got ${d.sender}`);
  return renderReply(d.reply);
}

const one = config({
  name: 'clinic',
  domains: ['clinic.example', 'bücher.example'],
  map: { 'Scanner@Printer.Local': 'frontdesk@clinic.example', 'ehr@clinic.example': 'billing@clinic.example', scanner2: 'fax@clinic.example' },
  default: 'relay@clinic.example',
});

const two = config(
  { name: 'north', domains: ['north.example'], map: { 'fax@device.local': 'fax@north.example' }, default: 'relay@north.example' },
  { name: 'south', domains: ['south.example'], map: { 'fax@device.local': 'fax@south.example', 'lab@device.local': 'lab@south.example' } },
);

describe('resolveSender', () => {
  it.each([
    // senders.map first, matched case-insensitively on the key as written in config
    ['scanner@printer.local', 'frontdesk@clinic.example', 'map'],
    ['SCANNER@PRINTER.LOCAL', 'frontdesk@clinic.example', 'map'],
    // a map entry wins over the address itself, even inside the workspace
    ['EHR@clinic.example', 'billing@clinic.example', 'map'],
    // a key that is not an address at all still maps when the device sends exactly that
    ['scanner2', 'fax@clinic.example', 'map'],
    // the address itself when it is in a workspace domain (normalized)
    ['Dr.Who@Clinic.Example', 'dr.who@clinic.example', 'address'],
    ['anna@bücher.example', 'anna@xn--bcher-kva.example', 'address'],
    ['anna@xn--bcher-kva.example', 'anna@xn--bcher-kva.example', 'address'],
    // anything else falls back to the one senders.default
    ['root@localhost', 'relay@clinic.example', 'default'],
    ['someone@gmail.example', 'relay@clinic.example', 'default'],
    ['x@sub.clinic.example', 'relay@clinic.example', 'default'],
    ['', 'relay@clinic.example', 'default'],
  ])('single workspace: %j → %s via %s', (mailFrom, sender, via) => {
    expect(ok(resolveSender(one, mailFrom))).toEqual({ workspace: 'clinic', sender, via });
  });

  it('refuses an unmapped sender outside every workspace when no default is set', () => {
    const c = config({ name: 'clinic', domains: ['clinic.example'] });
    const reply = refused(resolveSender(c, 'scanner@printer.local'));
    expect([reply.responseCode, reply.enhanced, reply.code]).toEqual([550, '5.7.1', POLICY_CODES.senderRefused]);
    expect(reply.reason).toBe(
      'sender <scanner@printer.local> is not in a Google Workspace domain this relay serves (map it in senders.map or set senders.default)',
    );
    expect(refused(resolveSender(c, '')).reason).toMatch(/null sender <> .*senders\.default/);
    // the workspace's own users still send as themselves
    expect(ok(resolveSender(c, 'a@clinic.example')).sender).toBe('a@clinic.example');
  });

  it('refuses a sender that cannot be parsed, and says how to map it', () => {
    const reply = refused(resolveSender(one, '"odd"@clinic.example'));
    expect([reply.responseCode, reply.enhanced, reply.code]).toEqual([553, '5.1.7', POLICY_CODES.senderInvalid]);
    expect(reply.reason).toMatch(/quoted local parts.*senders\.map/);
    expect(refused(resolveSender(one, 'u%evil@clinic.example')).responseCode).toBe(553);
  });

  it('never puts a line break or non-ASCII from the sender into the reply', () => {
    const c = config({ name: 'clinic', domains: ['clinic.example'] });
    const reply = refused(resolveSender(c, 'a\r\n250 ok@x.example'));
    expect(reply.reason).not.toMatch(/[\r\n]/);
    expect(reply.reason).toMatch(/^[\x20-\x7e]+$/);
  });

  describe('with several workspaces', () => {
    it('chooses the workspace that owns the sender domain', () => {
      expect(ok(resolveSender(two, 'a@north.example'))).toEqual({ workspace: 'north', sender: 'a@north.example', via: 'address' });
      expect(ok(resolveSender(two, 'b@South.Example'))).toEqual({ workspace: 'south', sender: 'b@south.example', via: 'address' });
      expect(ok(resolveSender(two, 'lab@device.local'))).toEqual({ workspace: 'south', sender: 'lab@south.example', via: 'map' });
    });

    it('uses the default only when exactly one workspace has one', () => {
      expect(ok(resolveSender(two, 'printer@device.local'))).toEqual({ workspace: 'north', sender: 'relay@north.example', via: 'default' });
      expect(ok(resolveSender(two, ''))).toEqual({ workspace: 'north', sender: 'relay@north.example', via: 'default' });

      const both = config(
        { name: 'north', domains: ['north.example'], default: 'relay@north.example' },
        { name: 'south', domains: ['south.example'], default: 'relay@south.example' },
      );
      const reply = refused(resolveSender(both, 'printer@device.local'));
      expect([reply.responseCode, reply.enhanced]).toEqual([550, '5.7.1']);
      expect(reply.reason).toMatch(/several workspaces \(north, south\) have senders\.default/);
      expect(refused(resolveSender(both, '')).reason).toMatch(/several workspaces/);
    });

    it('refuses a device sender mapped to different users in two workspaces', () => {
      const reply = refused(resolveSender(two, 'fax@device.local'));
      expect(reply.responseCode).toBe(550);
      expect(reply.reason).toMatch(/mapped more than once.*north, south/);
    });

    it('restricted to the listener workspace, only that workspace maps, owns and defaults', () => {
      const south = ws(two, 'south');
      const north = ws(two, 'north');
      expect(ok(resolveSender(two, 'fax@device.local', { workspace: south }))).toEqual({ workspace: 'south', sender: 'fax@south.example', via: 'map' });
      expect(ok(resolveSender(two, 'fax@device.local', { workspace: north }))).toEqual({ workspace: 'north', sender: 'fax@north.example', via: 'map' });
      // south has no default: an outside sender is refused there though north has one
      expect(refused(resolveSender(two, 'printer@device.local', { workspace: south })).reason).toMatch(/not in a Google Workspace domain/);
      expect(refused(resolveSender(two, '', { workspace: south })).reason).toMatch(/null sender/);
      // another workspace's user cannot send through this listener
      const reply = refused(resolveSender(two, 'a@north.example', { workspace: south }));
      expect(reply.reason).toBe('sender <a@north.example> belongs to workspace north, but this listener serves workspace south');
      // and south's map entries do not apply on north's listener: north's default does
      expect(ok(resolveSender(two, 'lab@device.local', { workspace: north }))).toEqual({ workspace: 'north', sender: 'relay@north.example', via: 'default' });
    });
  });

  it('the sending user is always inside the chosen workspace', () => {
    const inputs = ['', 'a@north.example', 'b@south.example', 'fax@device.local', 'lab@device.local', 'x@y.example', 'EVIL@NORTH.EXAMPLE.evil'];
    for (const c of [one, two]) {
      for (const from of inputs) {
        const d = resolveSender(c, from);
        if (d.ok) expect(d.workspace.domains).toContain(d.sender.split('@')[1]);
      }
    }
  });
});

describe('workspaceOfDomain', () => {
  it.each([
    ['north.example', 'north'],
    ['NORTH.EXAMPLE', 'north'],
    ['south.example', 'south'],
    ['sub.north.example', null],
    ['north.example.evil.example', null],
    ['evilnorth.example', null],
    ['north.example.', null],
    ['', null],
  ])('%j → %s', (domain, name) => {
    expect(workspaceOfDomain(two, domain)?.name ?? null).toBe(name);
  });

  it('matches U-label and A-label spellings of an IDN domain', () => {
    expect(workspaceOfDomain(one, 'bücher.example')?.name).toBe('clinic');
    expect(workspaceOfDomain(one, 'xn--bcher-kva.example')?.name).toBe('clinic');
    expect(workspaceOfDomain(one, 'bucher.example')).toBeNull();
  });
});
