/**
 * Safe by default: refuses configurations that would expose the server, saying why, before anything
 * listens. `auth.mode: none` only on a loopback bind; a non-loopback bind only with TLS unless
 * `allowInsecureHttp: true`; OIDC needs an issuer, an audience and keys (an https JWKS URL off loopback).
 */
import * as net from 'node:net';
import * as path from 'node:path';
import type { Config } from '../config';
import { ConfigError } from '../config';

/** 127.0.0.0/8, ::1 (and its IPv4-mapped form) and `localhost`. */
export function isLoopback(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[(.*)\]$/, '$1');
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (net.isIPv4(h)) return h.startsWith('127.');
  if (net.isIPv6(h)) {
    if (h === '::1' || /^(0{1,4}:){7}0{0,3}1$/.test(h)) return true;
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(h);
    return mapped !== null && mapped[1]!.startsWith('127.');
  }
  return false;
}

export function tokenFilePath(config: Config): string {
  return path.resolve(config.auth.tokenFile || path.join(config.dataDir, 'tokens.yaml'));
}

export function checkStartup(config: Config): void {
  const loopback = isLoopback(config.bind);
  const tls = config.tls.cert !== '' || config.tls.key !== '';
  if (tls && (config.tls.cert === '' || config.tls.key === '')) {
    throw new ConfigError('TLS needs both tls.cert and tls.key (PEM files)');
  }
  if (config.auth.mode === 'none' && !loopback) {
    throw new ConfigError(
      `auth.mode is none, which lets every caller act as admin, so occitan only starts on a loopback bind (127.0.0.1, ::1, localhost); bind is ${config.bind}. ` +
      'Use auth.mode tokens or oidc, or bind to loopback.');
  }
  if (!loopback && !tls && !config.allowInsecureHttp) {
    throw new ConfigError(
      `bind ${config.bind} is not loopback and no TLS is configured, so credentials would cross the network in clear. ` +
      'Set tls.cert and tls.key, or (behind a TLS-terminating proxy) allowInsecureHttp: true.');
  }
  if (config.auth.mode === 'oidc') {
    const o = config.auth.oidc;
    if (!o.issuer || !o.audience) throw new ConfigError('auth.mode oidc needs auth.oidc.issuer and auth.oidc.audience');
    if (!o.jwksUrl === !o.jwksFile) throw new ConfigError('auth.mode oidc needs exactly one of auth.oidc.jwksUrl and auth.oidc.jwksFile');
    if (o.jwksUrl) {
      const u = new URL(o.jwksUrl);
      if (u.protocol !== 'https:' && !isLoopback(u.hostname)) {
        throw new ConfigError(`auth.oidc.jwksUrl ${o.jwksUrl} must use https (plain http only on loopback)`);
      }
    }
  }
}
