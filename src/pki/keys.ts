/**
 * Private keys: generation (the slow part of a PKI, run concurrently on the libuv thread pool),
 * PEM encoding in the forms kubeadm writes, parsing, and conversion to WebCrypto keys for signing.
 */
import { createPrivateKey, createPublicKey, generateKeyPair, webcrypto, type KeyObject } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { promisify } from 'node:util';
import pLimit from 'p-limit';
import type { KeyAlgorithm } from './input.js';

const generateKeyPairAsync = promisify(generateKeyPair);

/** Generates one private key. */
export async function generateKey(algorithm: KeyAlgorithm): Promise<KeyObject> {
  const pair =
    algorithm === 'rsa-2048'
      ? await generateKeyPairAsync('rsa', { modulusLength: 2048, publicExponent: 0x10001 })
      : await generateKeyPairAsync('ec', { namedCurve: 'prime256v1' });
  return pair.privateKey;
}

/**
 * Generates many keys at once. RSA generation is CPU-bound in the thread pool, so more jobs in
 * flight than cores only queues them; one per core keeps every core busy.
 */
export async function generateKeys(algorithms: readonly KeyAlgorithm[]): Promise<KeyObject[]> {
  const limit = pLimit(Math.max(2, availableParallelism()));
  return Promise.all(algorithms.map((a) => limit(() => generateKey(a))));
}

/** PKCS#1 "RSA PRIVATE KEY" or SEC 1 "EC PRIVATE KEY", as kubeadm v1.13 writes them. */
export function privateKeyPem(key: KeyObject): string {
  const type = key.asymmetricKeyType === 'rsa' ? 'pkcs1' : 'sec1';
  return key.export({ type, format: 'pem' }).toString();
}

/** PKIX "PUBLIC KEY" (sa.pub). */
export function publicKeyPem(key: KeyObject): string {
  return createPublicKey(key).export({ type: 'spki', format: 'pem' }).toString();
}

/** Parses a PEM private key (PKCS#1, PKCS#8 or SEC 1); throws the crypto error on bad input. */
export function parsePrivateKey(pem: string | Buffer): KeyObject {
  return createPrivateKey(pem);
}

/** The plan's name for a key's algorithm, or a description of a key the plan never uses. */
export function describeKey(key: KeyObject): KeyAlgorithm | string {
  const d = key.asymmetricKeyDetails;
  if (key.asymmetricKeyType === 'rsa') return d?.modulusLength === 2048 ? 'rsa-2048' : `rsa-${d?.modulusLength ?? '?'}`;
  if (key.asymmetricKeyType === 'ec') return d?.namedCurve === 'prime256v1' ? 'ecdsa-p256' : `ecdsa-${d?.namedCurve ?? '?'}`;
  return key.asymmetricKeyType ?? 'unknown';
}

/** DER SubjectPublicKeyInfo of a private or public key, to compare keys exactly. */
export function spkiDer(key: KeyObject): Buffer {
  const pub = key.type === 'public' ? key : createPublicKey(key);
  return pub.export({ type: 'spki', format: 'der' });
}

/** WebCrypto algorithm of signatures made with this key (SHA-256, as kubeadm). */
export function signatureAlgorithm(key: KeyObject): webcrypto.RsaHashedImportParams | (webcrypto.EcKeyImportParams & { hash: string }) {
  return key.asymmetricKeyType === 'rsa'
    ? { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }
    : { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
}

/** The key as WebCrypto keys, which @peculiar/x509 signs with. */
export async function toCryptoKeyPair(key: KeyObject): Promise<webcrypto.CryptoKeyPair> {
  const alg = signatureAlgorithm(key);
  const der = key.export({ type: 'pkcs8', format: 'der' });
  const [privateKey, publicKey] = await Promise.all([
    webcrypto.subtle.importKey('pkcs8', der, alg, false, ['sign']),
    webcrypto.subtle.importKey('spki', spkiDer(key), alg, true, ['verify']),
  ]);
  return { privateKey, publicKey } ;
}
