import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** PEM files made by `makeTestCertificates`, all in one directory. */
export interface TestCertificates {
  dir: string;
  /** The CA that signed the server and client certificates. */
  caCert: string;
  /** Server certificate for CN=localhost with SAN DNS:localhost, IP:127.0.0.1. */
  serverCert: string;
  serverKey: string;
  /** Client certificate (CN=rmqts-test-client) for mutual TLS. */
  clientCert: string;
  clientKey: string;
  /** Server certificate signed by the CA for a name that is not this host (DNS:wrong.invalid). */
  wrongNameCert: string;
  wrongNameKey: string;
  /** A second CA that signed nothing here: trusting it alone must fail verification. */
  otherCaCert: string;
}

const OPENSSL = process.env['OPENSSL'] ?? 'openssl';

function openssl(dir: string, args: string[]): void {
  execFileSync(OPENSSL, args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'], timeout: 30_000 });
}

/** A fresh P-256 key, unencrypted (the `req` arguments every certificate here shares). */
const NEW_EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

function makeCa(dir: string, name: string): void {
  openssl(dir, [
    'req',
    '-x509',
    ...NEW_EC_KEY,
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.crt`,
    '-days',
    '2',
    '-subj',
    `/CN=${name}`,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
}

function makeLeaf(dir: string, name: string, cn: string, ext: string): void {
  writeFileSync(join(dir, `${name}.ext`), ext);
  openssl(dir, ['req', ...NEW_EC_KEY, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`]);
  openssl(dir, [
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    `${name}.crt`,
    '-days',
    '2',
    '-extfile',
    `${name}.ext`,
  ]);
}

/**
 * A throw-away PKI for TLS tests, made with the openssl command line into `dir`: a CA, a server
 * certificate valid for localhost and 127.0.0.1, a client certificate, and an unrelated CA.
 */
export function makeTestCertificates(dir: string): TestCertificates {
  makeCa(dir, 'ca');
  makeCa(dir, 'other-ca');
  makeLeaf(dir, 'server', 'localhost', 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  makeLeaf(dir, 'wrong-name', 'wrong.invalid', 'subjectAltName=DNS:wrong.invalid\nextendedKeyUsage=serverAuth\n');
  makeLeaf(dir, 'client', 'rmqts-test-client', 'extendedKeyUsage=clientAuth\n');
  const p = (f: string): string => join(dir, f);
  return {
    dir,
    caCert: p('ca.crt'),
    serverCert: p('server.crt'),
    serverKey: p('server.key'),
    clientCert: p('client.crt'),
    clientKey: p('client.key'),
    wrongNameCert: p('wrong-name.crt'),
    wrongNameKey: p('wrong-name.key'),
    otherCaCert: p('other-ca.crt'),
  };
}
