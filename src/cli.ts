#!/usr/bin/env node
/**
 * The `occitan` command. Arguments are parsed with node's util.parseArgs (no extra dependency).
 *   occitan serve [--config FILE]                    run the server
 *   occitan store --data-dir DIR [--port N] [--bind A]  run the embedded CouchDB-protocol store on its own
 */
import * as http from 'node:http';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from './config';
import { startOccitan } from './server';
import { runStandaloneStore } from './store/standalone';

async function serve(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { config: { type: 'string', short: 'c' } } });
  let config;
  try {
    config = loadConfig({ file: values.config });
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`occitan: ${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
  const occitan = await startOccitan(config);
  const server = http.createServer({ maxHeaderSize: config.limits.headerBytes }, occitan.app.callback());
  server.listen(config.port, config.bind, () => {
    const addr = server.address();
    const port = typeof addr === 'object' && addr ? addr.port : config.port;
    process.stdout.write(`occitan listening on http://${config.bind.includes(':') ? `[${config.bind}]` : config.bind}:${port}\n`);
  });
  const stop = (): void => {
    server.close(() => void occitan.close().then(() => process.exit(0)));
    setTimeout(() => process.exit(0), 10000).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

async function store(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { 'data-dir': { type: 'string' }, port: { type: 'string' }, bind: { type: 'string' } },
  });
  if (!values['data-dir']) throw new Error('occitan store needs --data-dir DIR');
  await runStandaloneStore({ dataDir: values['data-dir'], port: Number(values.port ?? '5984'), bind: values.bind });
}

async function main(): Promise<void> {
  const [command, ...rest] = process.argv.slice(2);
  switch (command ?? 'serve') {
    case 'serve':
      return serve(rest);
    case 'store':
      return store(rest);
    default:
      process.stderr.write('usage: occitan serve [--config FILE] | occitan store --data-dir DIR [--port N] [--bind ADDR]\n');
      process.exit(2);
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`occitan: ${(e as Error).message}\n`);
  process.exit(1);
});
