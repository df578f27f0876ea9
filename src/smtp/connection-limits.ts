/**
 * listen[].maxConnections and maxConnectionsPerClient: sessions counted from the moment they are
 * admitted (onConnect) until they close. The limits are read at each admission, so a reload
 * applies to the next client.
 */
export type Admission = 'ok' | 'listener_full' | 'client_full';

export class ConnectionCounter {
  private total = 0;
  private readonly perClient = new Map<string, number>();

  get size(): number {
    return this.total;
  }

  /** Admit a session if both limits allow it (and then count it). */
  admit(client: string, limits: { maxConnections: number; maxConnectionsPerClient: number }): Admission {
    if (this.total >= limits.maxConnections) return 'listener_full';
    const mine = this.perClient.get(client) ?? 0;
    if (mine >= limits.maxConnectionsPerClient) return 'client_full';
    this.total++;
    this.perClient.set(client, mine + 1);
    return 'ok';
  }

  /** A session admitted earlier has closed. */
  release(client: string): void {
    const mine = this.perClient.get(client);
    if (mine === undefined) return;
    this.total--;
    if (mine <= 1) this.perClient.delete(client);
    else this.perClient.set(client, mine - 1);
  }
}
