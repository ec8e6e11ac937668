/**
 * A throwaway redis-server that also listens with TLS, for tests of `rediss://` connections.
 *
 * A fresh CA and a server certificate for 127.0.0.1 are made with the openssl command (Debian
 * package openssl) in a temporary directory; the server keeps its plain port for the readiness
 * probe and adds a TLS port. Clients trust the returned CA. Client certificates are not required.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePorts, LOOPBACK } from './free-port.js';
import { launchRedisServer } from './redis-process.js';

const run = promisify(execFile);
/** Lifetime of the test certificates, in days. */
const CERT_DAYS = '2';

export interface TlsRedisHandle {
  /** rediss://127.0.0.1:<tls port> */
  readonly url: string;
  /** The CA that signed the server certificate, for the client's `tls.ca`. */
  readonly ca: Buffer;
  stop(): Promise<void>;
}

export async function startTlsRedisServer(): Promise<TlsRedisHandle> {
  const certs = await mkdtemp(join(tmpdir(), 'keel-tls-'));
  const file = (name: string) => join(certs, name);
  try {
    await run('openssl', [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      CERT_DAYS,
      '-subj',
      '/CN=keel-test-ca',
      '-keyout',
      file('ca.key'),
      '-out',
      file('ca.crt'),
    ]);
    await run('openssl', [
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-subj',
      '/CN=127.0.0.1',
      '-keyout',
      file('server.key'),
      '-out',
      file('server.csr'),
    ]);
    await run('openssl', [
      'x509',
      '-req',
      '-in',
      file('server.csr'),
      '-CA',
      file('ca.crt'),
      '-CAkey',
      file('ca.key'),
      '-CAcreateserial',
      '-days',
      CERT_DAYS,
      '-extfile',
      await subjectAltName(certs),
      '-out',
      file('server.crt'),
    ]);
  } catch (error) {
    await rm(certs, { recursive: true, force: true });
    throw new Error(
      `openssl could not make test certificates (install the Debian package openssl): ${String(error)}`,
    );
  }
  const [port, tlsPort] = await freePorts(2);
  const server = await launchRedisServer(port, () => [
    ...['--tls-port', String(tlsPort)],
    ...['--tls-cert-file', file('server.crt'), '--tls-key-file', file('server.key')],
    ...['--tls-ca-cert-file', file('ca.crt'), '--tls-auth-clients', 'no'],
  ]);
  const ca = await readFile(file('ca.crt'));
  return {
    url: `rediss://${LOOPBACK}:${tlsPort}`,
    ca,
    async stop() {
      await server.terminate('SIGTERM');
      await rm(certs, { recursive: true, force: true });
    },
  };
}

async function subjectAltName(dir: string): Promise<string> {
  const path = join(dir, 'san.ext');
  await writeFile(path, `subjectAltName=IP:${LOOPBACK}\n`);
  return path;
}
