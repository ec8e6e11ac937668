/**
 * A client of the gateway's admin API, for the commands that change a running gateway: route
 * enablement, cache flushes and the rollouts (start, status, operator actions, history, the
 * emergency stop, the shadow mismatches). Errors carry the gateway's own code and message (401 when the token is wrong).
 */
import { ConfigError, KeelError, type KeelErrorCode } from '../errors.js';
import type { AuditRecord, EmergencyStop, GuardStatus, RolloutRecord } from '../rollout/index.js';
import type { Mismatch, ShadowCounts } from '../server/index.js';
import { gatewayRequest } from './gateway-client.js';

export interface AdminRoute {
  name: string;
  kind: 'read' | 'write';
  path: string;
  methods: string[];
  enabledPercent: number | null;
}

export class AdminClient {
  constructor(
    private readonly base: URL,
    private readonly token: string | undefined,
  ) {
    if (token === undefined || token === '') {
      throw new ConfigError('KEEL_ADMIN_TOKEN', 'the admin API needs the token the gateway was started with');
    }
  }

  routes(): Promise<AdminRoute[]> {
    return this.call<AdminRoute[]>('GET', '/admin/routes');
  }

  /** Sets the enablement of the named read routes (all of them when `names` is empty); returns what changed. */
  async setEnablement(
    names: readonly string[],
    percent: number,
    by?: string,
  ): Promise<{ name: string; from: number; to: number }[]> {
    const reads = (await this.routes()).filter((route) => route.kind === 'read');
    const unknown = names.filter((name) => !reads.some((route) => route.name === name));
    if (unknown.length > 0) {
      throw new ConfigError(
        'route',
        `no read route named ${unknown.join(', ')}; the read routes are ${reads.map((route) => route.name).join(', ')}`,
      );
    }
    const chosen = names.length === 0 ? reads : reads.filter((route) => names.includes(route.name));
    const changes = [];
    for (const route of chosen) {
      await this.call('PUT', `/admin/routes/${encodeURIComponent(route.name)}/enabled`, { percent, by });
      changes.push({ name: route.name, from: route.enabledPercent ?? 0, to: percent });
    }
    return changes;
  }

  async flush(): Promise<void> {
    await this.call('POST', '/admin/flush');
  }

  rollouts(): Promise<RolloutsView> {
    return this.call<RolloutsView>('GET', '/admin/rollouts');
  }

  rollout(id: string): Promise<RolloutView> {
    return this.call<RolloutView>('GET', `/admin/rollouts/${encodeURIComponent(id)}`);
  }

  /** Starts a built-in plan (`{ builtin, route }`) or a plan's YAML (`{ plan }`). */
  startRollout(body: {
    builtin?: string;
    route?: string;
    plan?: string;
    id?: string;
    by: string;
  }): Promise<RolloutRecord> {
    return this.call<RolloutRecord>('POST', '/admin/rollouts', body);
  }

  rolloutAction(id: string, action: RolloutAction, by: string, reason?: string): Promise<RolloutRecord> {
    return this.call<RolloutRecord>('POST', `/admin/rollouts/${encodeURIComponent(id)}/${action}`, {
      by,
      reason,
    });
  }

  history(id: string | undefined, limit: number): Promise<AuditRecord[]> {
    const path = id === undefined ? '/admin/audit' : `/admin/rollouts/${encodeURIComponent(id)}/history`;
    return this.call<AuditRecord[]>('GET', `${path}?limit=${limit}`);
  }

  /** The instance's shadow counts and its latest mismatches (of one route when named). */
  shadow(
    route: string | undefined,
    limit: number,
  ): Promise<{ counts: ShadowCounts; mismatches: Mismatch[] }> {
    const query = new URLSearchParams({ limit: String(limit) });
    if (route !== undefined) query.set('route', route);
    return this.call('GET', `/admin/shadow?${query}`);
  }

  emergencyStop(by: string, reason: string): Promise<{ safeWeights: Record<string, number> }> {
    return this.call('POST', '/admin/emergency-stop', { by, reason });
  }

  async clearEmergencyStop(by: string, reason?: string): Promise<void> {
    await this.call('DELETE', '/admin/emergency-stop', { by, reason });
  }

  private async call<T>(method: 'GET' | 'PUT' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.token}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await gatewayRequest(new URL(path, this.base), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.body.text();
    // The admin API's answers are the gateway's own; one with X-Cache came from the origin.
    if (response.headers['x-cache'] !== undefined)
      throw new KeelError(
        'NOT_FOUND',
        `${this.base.origin} has no admin API: start the gateway with KEEL_ADMIN_TOKEN (with KEEL_ADMIN_PORT, pass its address as --base-url)`,
      );
    if (response.statusCode === 401)
      throw new KeelError(
        'UNAUTHORIZED',
        `${this.base.origin} refused the admin token (401); use the one it was started with.`,
      );
    if (response.statusCode >= 300) throw answeredError(method, path, response.statusCode, text);
    return (text === '' ? undefined : JSON.parse(text)) as T;
  }
}

export type RolloutAction = 'promote' | 'pause' | 'resume' | 'ack' | 'rollback' | 'stop';

export interface RolloutsView {
  rollouts: RolloutRecord[];
  switches: Record<string, number>;
  emergencyStop: EmergencyStop | null;
  leader: boolean;
}

export type RolloutView = RolloutRecord & { guards: GuardStatus | null; leader: boolean };

/** The gateway's own error (its code and message) when it sent one, else the status and the text. */
function answeredError(method: string, path: string, status: number, text: string): KeelError {
  try {
    const { error } = JSON.parse(text) as { error?: { code?: KeelErrorCode; message?: string } };
    if (error?.code !== undefined && error.message !== undefined)
      return new KeelError(error.code, error.message);
  } catch {
    // Not the gateway's JSON: report it as it came.
  }
  return new KeelError('INVALID_ARGUMENT', `${method} ${path} answered ${status}: ${text}`);
}
