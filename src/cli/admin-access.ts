/**
 * What the commands that change a running gateway share: where the gateway is by default, the
 * admin client with the token from KEEL_ADMIN_TOKEN, and the operator's name the audit records.
 */
import { userInfo } from 'node:os';
import { AdminClient } from '../operations/index.js';

export const DEFAULT_GATEWAY = 'http://127.0.0.1:8080';

/** The admin API of the gateway at `baseUrl`, with KEEL_ADMIN_TOKEN. */
export function adminClient(baseUrl: string): AdminClient {
  return new AdminClient(new URL(baseUrl), process.env.KEEL_ADMIN_TOKEN);
}

/** Who is at the keyboard, for the audit (`operator:<name>`): $USER, else the login name. */
export function operatorName(): string {
  return process.env.USER ?? userInfo().username;
}
