/**
 * What a TLS transport tells about its session (extra info 'peercert', 'cipher',
 * 'ssl_object'), in the shapes of Node's tls.TLSSocket so code written against Node's `tls`
 * reads them unchanged. Built once per handshake from the engine's TLSSessionInfo; the
 * certificate fields come from the DER through node:crypto's X509Certificate, so they match
 * what Node's getPeerCertificate() shows for the same certificate.
 */
import type { TLSSessionInfo } from './engine.js';
import { crypto } from '../node-builtins.js';

/** As Node's getPeerCertificate(): the fields most code reads. */
export interface PeerCertificate {
  subject: Record<string, string | string[]>;
  issuer: Record<string, string | string[]>;
  subjectaltname?: string;
  infoAccess?: Record<string, string[]>;
  ca: boolean;
  valid_from: string;
  valid_to: string;
  fingerprint: string;
  fingerprint256: string;
  fingerprint512: string;
  serialNumber: string;
  raw: Buffer;
  /** Only with getPeerCertificate(true): the certificate that issued this one (itself for a self-signed root). */
  issuerCertificate?: PeerCertificate;
}

/** The negotiated cipher as getCipher() reports it (name, standard name, version). */
export type CipherInfo = NonNullable<TLSSessionInfo['cipher']>;

/** 'C=US\nCN=x' (X509Certificate's form) as Node's object: a key seen twice holds an array. */
function parseName(text: string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = Object.create(null);
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    const key = line.slice(0, eq);
    const value = line.slice(eq + 1);
    const seen = out[key];
    if (seen === undefined) out[key] = value;
    else if (Array.isArray(seen)) seen.push(value);
    else out[key] = [seen, value];
  }
  return out;
}

/** 'OCSP - URI:http://x\nCA Issuers - URI:http://y' as Node's infoAccess object. */
function parseInfoAccess(text: string | undefined): Record<string, string[]> | undefined {
  if (text === undefined) return undefined;
  const out: Record<string, string[]> = Object.create(null);
  for (const line of text.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep <= 0) continue;
    (out[line.slice(0, sep)] ??= []).push(line.slice(sep + 3));
  }
  return out;
}

/** One certificate (DER) in getPeerCertificate()'s shape. */
export function certificateObject(der: Uint8Array): PeerCertificate {
  const x = new (crypto().X509Certificate)(der);
  const cert: PeerCertificate = {
    subject: parseName(x.subject),
    issuer: parseName(x.issuer),
    ca: x.ca,
    valid_from: x.validFrom,
    valid_to: x.validTo,
    fingerprint: x.fingerprint,
    fingerprint256: x.fingerprint256,
    fingerprint512: x.fingerprint512,
    serialNumber: x.serialNumber.toUpperCase(),
    raw: x.raw,
  };
  if (x.subjectAltName !== undefined) cert.subjectaltname = x.subjectAltName;
  const info = parseInfoAccess(x.infoAccess);
  if (info !== undefined) cert.infoAccess = info;
  return cert;
}

/** The peer's certificate, with `issuerCertificate` links along the chain it sent when `detailed`. */
export function peerCertificate(info: TLSSessionInfo, detailed = false): PeerCertificate | null {
  if (info.peerCertificate === null) return null;
  const leaf = certificateObject(info.peerCertificate);
  if (!detailed) return leaf;
  // The chain as sent starts with the leaf; each next one issued the one before.
  const chain = info.peerChain.length > 0 ? info.peerChain.slice(1).map(certificateObject) : [];
  let cur = leaf;
  for (const next of chain) {
    cur.issuerCertificate = next;
    cur = next;
  }
  // A self-signed certificate issued itself, as Node shows it.
  if (sameName(cur.subject, cur.issuer)) cur.issuerCertificate = cur;
  return leaf;
}

function sameName(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * extra info 'ssl_object': the session as Node's TLSSocket shows it (asyncio's SSLObject
 * has the same role). A snapshot taken when the handshake finished.
 */
export class SSLObject {
  /** The protocol ALPN settled on, or false. */
  readonly alpnProtocol: string | false;
  /** The SNI name sent (client) or received (server), or null. */
  readonly servername: string | null;
  /** The peer's certificate verified against the trusted CAs. */
  readonly authorized: boolean;
  /** Why it did not verify (Node's codes, e.g. 'DEPTH_ZERO_SELF_SIGNED_CERT'), or null. */
  readonly authorizationError: string | null;
  readonly serverSide: boolean;
  private readonly info: TLSSessionInfo;
  private leaf: PeerCertificate | null | undefined;

  constructor(info: TLSSessionInfo, serverSide: boolean) {
    this.info = info;
    this.serverSide = serverSide;
    this.alpnProtocol = info.alpnProtocol;
    this.servername = info.servername;
    this.authorized = info.peerCertificate !== null && info.verifyError === null;
    this.authorizationError = info.verifyError;
  }

  /** As Node's: the peer's certificate (null when it sent none); `detailed` links the chain. */
  getPeerCertificate(detailed = false): PeerCertificate | null {
    if (detailed) return peerCertificate(this.info, true);
    if (this.leaf === undefined) this.leaf = peerCertificate(this.info);
    return this.leaf;
  }

  /** 'TLSv1.3', 'TLSv1.2', ... */
  getProtocol(): string | null {
    return this.info.protocol;
  }

  /** `{name, standardName, version}`, as Node's getCipher(). */
  getCipher(): CipherInfo | null {
    return this.info.cipher === null ? null : { ...this.info.cipher };
  }

  /** The peer's chain as it sent it, DER each, the leaf first. */
  getPeerChain(): Uint8Array[] {
    return [...this.info.peerChain];
  }
}
