/**
 * The rollouts on the admin API (under `/admin`, behind its token), what `keel rollout` calls:
 *
 *   GET    /admin/rollouts                          → { rollouts, switches, emergencyStop, leader }
 *   GET    /admin/rollouts/:id                      → the rollout, its plan, its guards' last values
 *   POST   /admin/rollouts  { builtin, route? } | { plan: "<yaml>" }, { id?, by? }  → the rollout
 *   POST   /admin/rollouts/:id/{promote|pause|resume|ack|rollback|stop}  { by?, reason? }
 *   GET    /admin/rollouts/:id/history?limit=       → its audit records, newest first
 *   GET    /admin/shadow?route=&limit=              → this instance's shadow counts and latest
 *                                                     mismatches (shadow-traffic.ts)
 *   GET    /admin/audit?limit=                      → every audit record, newest first
 *   POST   /admin/emergency-stop  { by?, reason }   → the safe weights set
 *   DELETE /admin/emergency-stop  { by?, reason? }
 *
 * Any instance answers: the state is shared, the guards' last values included (the evaluating
 * instance, `leader: true` when it is this one, shares each evaluation through the store). `by`
 * names the operator in the audit (`operator:<by>`; `api` when absent). Errors: 404 NOT_FOUND (no such rollout), 409
 * CONFLICT (not in a state for that action, the emergency stop is set), 400 CONFIG_INVALID (a plan
 * that does not validate, or names what the gateway lacks).
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { ConfigError, isKeelError, type KeelError } from '../errors.js';
import { BUILTIN_PLANS, type Plan, parsePlan, type Rollout } from '../rollout/index.js';
import { MISMATCHES_KEPT, type ShadowTraffic } from './shadow-traffic.js';

const ACTIONS = ['promote', 'pause', 'resume', 'ack', 'rollback', 'stop'] as const;
type Action = (typeof ACTIONS)[number];
const STATUS_OF_ERROR: Record<string, number> = {
  NOT_FOUND: 404,
  CONFLICT: 409,
  CONFIG_INVALID: 400,
  STORE_UNAVAILABLE: 503,
};
const DEFAULT_HISTORY = 100;
const MAX_HISTORY = 10_000;

interface StartBody {
  builtin?: string;
  route?: string;
  plan?: string;
  id?: string;
  by?: string;
}

const startSchema = {
  type: 'object',
  properties: {
    builtin: { type: 'string', minLength: 1 },
    route: { type: 'string', minLength: 1 },
    plan: { type: 'string', minLength: 1 },
    id: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$' },
    by: { type: 'string', minLength: 1, maxLength: 100 },
  },
  additionalProperties: false,
} as const;
const decisionSchema = {
  type: 'object',
  properties: {
    by: { type: 'string', minLength: 1, maxLength: 100 },
    reason: { type: 'string', maxLength: 1_000 },
  },
  additionalProperties: false,
} as const;
const limitSchema = {
  type: 'object',
  properties: { limit: { type: 'integer', minimum: 1, maximum: MAX_HISTORY } },
} as const;

const shadowQuerySchema = {
  type: 'object',
  properties: {
    route: { type: 'string', minLength: 1 },
    limit: { type: 'integer', minimum: 1, maximum: MISMATCHES_KEPT },
  },
  additionalProperties: false,
} as const;

export async function rolloutAdminRoutes(
  app: FastifyInstance,
  /** `shadow`: the gateway's shadow traffic (GET /shadow); a service without it has no such route. */
  options: { rollout: Rollout; shadow?: ShadowTraffic },
): Promise<void> {
  const { rollout, shadow } = options;
  app.setErrorHandler((error, _request, reply) => answerError(error as KeelError, reply));

  app.get('/rollouts', async () => ({
    rollouts: await rollout.store.rollouts(),
    switches: rollout.board.weights(),
    emergencyStop: (await rollout.store.emergencyStop()) ?? null,
    leader: rollout.controller.isLeader,
  }));

  if (shadow !== undefined)
    app.get<{ Querystring: { route?: string; limit?: number } }>(
      '/shadow',
      { schema: { querystring: shadowQuerySchema } },
      async (request) => {
        const { route, limit = MISMATCHES_KEPT } = request.query;
        return { counts: shadow.counts, mismatches: shadow.mismatches(route).slice(-limit) };
      },
    );

  app.get<{ Params: { id: string } }>('/rollouts/:id', async (request, reply) => {
    const record = await rollout.store.rollout(request.params.id);
    if (record === undefined) return notFound(reply, request.params.id);
    return {
      ...record,
      guards: (await rollout.guards(record.id)) ?? null,
      leader: rollout.controller.isLeader,
    };
  });

  app.post<{ Body: StartBody }>('/rollouts', { schema: { body: startSchema } }, async (request, reply) => {
    const plan = planOf(request.body);
    const record = await rollout.actions.start(plan, actorOf(request.body.by), request.body.id);
    return reply.code(201).send(record);
  });

  app.post<{ Params: { id: string; action: Action }; Body: { by?: string; reason?: string } | undefined }>(
    '/rollouts/:id/:action',
    {
      schema: {
        params: {
          type: 'object',
          properties: { id: { type: 'string' }, action: { type: 'string', enum: [...ACTIONS] } },
        },
        body: decisionSchema,
      },
    },
    async (request) => act(rollout, request.params.id, request.params.action, request.body ?? {}),
  );

  app.get<{ Params: { id: string }; Querystring: { limit?: number } }>(
    '/rollouts/:id/history',
    { schema: { querystring: limitSchema } },
    async (request) => rollout.actions.history(request.params.id, request.query.limit ?? DEFAULT_HISTORY),
  );

  app.get<{ Querystring: { limit?: number } }>(
    '/audit',
    { schema: { querystring: limitSchema } },
    async (request) => rollout.actions.history(undefined, request.query.limit ?? DEFAULT_HISTORY),
  );

  app.post<{ Body: { by?: string; reason?: string } }>(
    '/emergency-stop',
    { schema: { body: { ...decisionSchema, required: ['reason'] } } },
    async (request) => ({
      safeWeights: await rollout.actions.emergencyStop(
        actorOf(request.body.by),
        request.body.reason as string,
      ),
    }),
  );

  app.delete<{ Body: { by?: string; reason?: string } | undefined }>(
    '/emergency-stop',
    { schema: { body: decisionSchema } },
    async (request) => {
      await rollout.actions.clearEmergencyStop(actorOf(request.body?.by), request.body?.reason);
      return { cleared: true };
    },
  );
}

function act(rollout: Rollout, id: string, action: Action, body: { by?: string; reason?: string }) {
  const actor = actorOf(body.by);
  const { actions } = rollout;
  switch (action) {
    case 'promote':
      return actions.promote(id, actor, body.reason);
    case 'pause':
      return actions.pause(id, actor, body.reason);
    case 'resume':
      return actions.resume(id, actor, body.reason);
    case 'ack':
      return actions.acknowledge(id, actor, body.reason);
    case 'rollback':
      return actions.rollback(id, actor, body.reason);
    case 'stop':
      return actions.stop(id, actor, body.reason);
  }
}

/** The plan a start names: a built-in (with its route), or a plan's YAML text. */
function planOf(body: StartBody): Plan {
  if (body.plan !== undefined) return parsePlan(body.plan, 'plan');
  const builtin = body.builtin === undefined ? undefined : BUILTIN_PLANS[body.builtin];
  if (builtin === undefined)
    throw new ConfigError(
      'builtin',
      `name a built-in plan (${Object.keys(BUILTIN_PLANS).join(', ')}) or give a plan's YAML`,
    );
  if (builtin.needsRoute && body.route === undefined)
    throw new ConfigError('route', `the ${body.builtin} plan needs a route`);
  return builtin.needsRoute ? builtin.build(body.route as string) : builtin.build();
}

/** The audit's actor for a request naming its operator in `by`: `operator:<by>`, else `api`. */
export function actorOf(by: string | undefined): string {
  return by === undefined ? 'api' : `operator:${by}`;
}

function notFound(reply: FastifyReply, id: string): FastifyReply {
  return reply.code(404).send({
    error: { code: 'NOT_FOUND', message: `No rollout named ${id}; GET /admin/rollouts lists them.` },
  });
}

function answerError(error: KeelError & { statusCode?: number; validation?: unknown }, reply: FastifyReply) {
  if (error.validation !== undefined)
    return reply.code(400).send({ error: { code: 'INVALID_ARGUMENT', message: error.message } });
  const status = STATUS_OF_ERROR[error.code];
  if (status !== undefined || isKeelError(error))
    return reply.code(status ?? 500).send({ error: { code: error.code, message: error.message } });
  throw error;
}
