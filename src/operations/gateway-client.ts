/**
 * Requests from the operations commands to a running gateway. When nothing answers there, the
 * error says what to do (start a gateway, or point --base-url at it) instead of a bare
 * `connect ECONNREFUSED`.
 */
import { type Dispatcher, request } from 'undici';
import { KeelError } from '../errors.js';

type RequestOptions = Parameters<typeof request>[1];

/** A request to the gateway at `url`'s origin; GATEWAY_UNREACHABLE when it cannot be reached. */
export async function gatewayRequest(url: URL, options?: RequestOptions): Promise<Dispatcher.ResponseData> {
  try {
    return (await request(url, options)) as Dispatcher.ResponseData;
  } catch (error) {
    throw unreachable(url, error);
  }
}

/**
 * The JSON a gateway answers at `url`. Another status throws a KeelError with the gateway's own
 * code and message when it gave one (MONITORING_DISABLED…), else with the status.
 */
export async function gatewayJson<T>(url: URL): Promise<T> {
  const response = await gatewayRequest(url);
  const text = await response.body.text();
  if (response.statusCode === 200) return JSON.parse(text) as T;
  let reason: { code?: unknown; message?: unknown } | undefined;
  try {
    reason = (JSON.parse(text) as { error?: typeof reason }).error;
  } catch {
    // Not JSON: the status says it.
  }
  if (reason?.code === 'MONITORING_DISABLED' && typeof reason.message === 'string')
    throw new KeelError('MONITORING_DISABLED', `${url.origin}: ${reason.message}`);
  throw new KeelError('NOT_FOUND', `${url.href} answered ${response.statusCode}`);
}

/** Checks that a gateway answers at `base` (its /health/live), before sending it load. */
export async function assertGatewayAnswers(base: URL): Promise<void> {
  const answer = await gatewayRequest(new URL('/health/live', base));
  await answer.body.dump();
}

function unreachable(url: URL, error: unknown): KeelError {
  const reason = (error as { code?: string }).code ?? (error as Error).message;
  return new KeelError(
    'GATEWAY_UNREACHABLE',
    `no gateway at ${url.origin} (${reason}): start one with \`npm start\` or \`keel serve\`, or pass --base-url`,
    { cause: error },
  );
}
