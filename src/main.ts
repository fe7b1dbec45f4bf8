#!/usr/bin/env node
// The command line: gate2mqtt [--config FILE] [--print-config] [--FLAG VALUE ...], or
// gate2mqtt passwd (a password hash for broker.users and http.auth.users).
import { Gateway } from './gateway.js';
import { cliFlags, loadConfig } from './config.js';
import { ConfigError, GatewayError, PortInUseError } from './errors.js';
import { runPasswd } from './passwd.js';
import { VERSION } from './paths.js';

const USAGE = `Usage: gate2mqtt [--config FILE] [--print-config] [flags]
       gate2mqtt passwd  reads a password (one line on stdin), prints its hash for broker.users

  --config FILE     JSON or YAML configuration file (or GATE2MQTT_CONFIG)
  --print-config    print the effective configuration, secrets redacted, and exit
  --version         print the version and exit
  --help            this text
Flags (each also an environment variable and a file key, see the README):
${[...cliFlags()].map(([flag, path]) => `  --${flag} VALUE`.padEnd(28) + path).join('\n')}
`;

function fail(message: string, exitCode: number): never {
  process.stderr.write(`gate2mqtt: ${message}\n`);
  process.exit(exitCode);
}

async function main(argv: string[]): Promise<void> {
  if (argv[0] === 'passwd') {
    process.exitCode = await runPasswd({ stdin: process.stdin, stdout: process.stdout, stderr: process.stderr });
    return;
  }
  let file: string | undefined;
  let printConfig = false;
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--help' || arg === '-h') {
      process.stdout.write(USAGE);
      return;
    } else if (arg === '--version' || arg === '-v') {
      process.stdout.write(`${VERSION}\n`);
      return;
    } else if (arg === '--print-config') {
      printConfig = true;
    } else if (arg === '--config') {
      file = argv[++i];
      if (!file) fail('--config needs a file name', 2);
    } else if (arg.startsWith('--config=')) {
      file = arg.slice('--config='.length);
    } else {
      args.push(arg);
    }
  }

  const { config, redacted } = loadConfig({ file, args });
  if (printConfig) {
    process.stdout.write(`${redacted}\n`);
    // npm prints its own "> gate2mqtt@... start" lines on stdout before ours, unless silent: a
    // script piping this JSON into a parser would fail on them without knowing why.
    if (process.env.npm_lifecycle_event === 'start' && process.env.npm_config_loglevel !== 'silent') {
      process.stderr.write('gate2mqtt: npm printed its own lines on stdout before this JSON; for the JSON alone run npm start --silent -- --print-config\n');
    }
    return;
  }

  const gateway = new Gateway(config);
  const { logger } = gateway;
  if (config.gantry.enabled && config.gantry.auth === '123456') {
    logger.warn('GATE2MQTT_GANTRY_AUTH is the default 123456: set your own binfile-auth code');
  }

  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const hard = setTimeout(() => {
      logger.error('shutdown took too long; exiting');
      process.exit(1);
    }, config.shutdownTimeoutMs);
    hard.unref();
    gateway.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));

  try {
    await gateway.start();
  } catch (err) {
    await gateway.stop().catch(() => undefined);
    throw err;
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof PortInUseError) fail(err.message, 1);
  if (err instanceof ConfigError) fail(`configuration error\n${err.message}`, 2);
  if (err instanceof GatewayError) fail(err.message, 1);
  process.stderr.write(`gate2mqtt: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
