import { Client, Connection } from '@temporalio/client';
import { ExitCode, type ExitCodeValue } from '../core/errors';
import { ClientError } from './errors';

/** Thrown when the Temporal server cannot be reached; the message says how to start it. Exit 1, no stack. */
export class ServiceUnavailableError extends ClientError {
  override readonly name = 'ServiceUnavailableError';
  override get exitCode(): ExitCodeValue {
    return ExitCode.failed;
  }
  constructor(
    readonly service: 'temporal' | 's3',
    readonly address: string,
    cause: string,
  ) {
    super(
      `${service === 'temporal' ? 'Temporal server' : 'S3 server'} at ${address} is not reachable (${cause}).\n` +
        `Start the local one with \`agentic-pruner server start\` (or \`bash infra/services.sh start ${service}\`), ` +
        (service === 'temporal'
          ? 'or point --address, TEMPORAL_ADDRESS or AP_TEMPORAL_PORT at a running server.'
          : 'or point AP_S3_ENDPOINT (or AP_S3_PORT) at a running server.'),
    );
  }
}

/** Connect to Temporal with a bounded wait and a message that names the server and how to start it. */
export async function connectClient(address: string, namespace: string, timeoutMs = 10_000): Promise<Client> {
  let connection: Connection;
  try {
    connection = await Connection.connect({ address, connectTimeout: timeoutMs });
  } catch (err) {
    throw new ServiceUnavailableError(
      'temporal',
      address,
      err instanceof Error ? (err.message.split('\n')[0] ?? '') : String(err),
    );
  }
  return new Client({ connection, namespace });
}
