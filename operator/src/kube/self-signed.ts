// Self-signed certificates for the servers the operator runs, made at start (the image has no openssl): the CIM
// indication listener when no certificate is configured, and the populator's data path always. An ECDSA P-256 key
// from node:crypto and an X.509 v3 certificate (RFC 5280) written in DER by the few encoders below, with the host
// names and addresses clients use as subjectAltName. Its readers check it with OpenSSL (node's X509Certificate and
// TLS), so the encoders only have to write; self-signed.test.ts proves what they write parses and verifies.
//
// Why not a library: @peculiar/x509 (the well-kept one in the npm registry) needs a global Reflect polyfill
// (reflect-metadata) and brings 21 packages; loading it costs about 130 ms and 6 MB of heap in an operator whose
// memory is measured (docs/benchmarks.md), for the one certificate shape these 80 lines make.
import { generateKeyPairSync, randomBytes, sign, X509Certificate } from "node:crypto";
import { isIP } from "node:net";

const tlv = (tag: number, body: Buffer): Buffer => {
  const n = body.length;
  const len = n < 0x80 ? Buffer.from([n]) : n < 0x100 ? Buffer.from([0x81, n]) : Buffer.from([0x82, n >> 8, n & 0xff]);
  return Buffer.concat([Buffer.from([tag]), len, body]);
};
const seq = (...items: Buffer[]): Buffer => tlv(0x30, Buffer.concat(items));

function oid(dotted: string): Buffer {
  const [a = 0, b = 0, ...rest] = dotted.split(".").map(Number);
  const bytes = [40 * a + b];
  for (const v of rest) {
    const group: number[] = [v & 0x7f];
    for (let x = v >> 7; x > 0; x >>= 7) group.unshift((x & 0x7f) | 0x80);
    bytes.push(...group);
  }
  return tlv(0x06, Buffer.from(bytes));
}

function time(d: Date): Buffer {
  const iso = d.toISOString().replace(/[-:T]/g, "").slice(0, 14) + "Z";
  // UTCTime until 2049, GeneralizedTime after (RFC 5280 §4.1.2.5).
  return d.getUTCFullYear() < 2050 ? tlv(0x17, Buffer.from(iso.slice(2))) : tlv(0x18, Buffer.from(iso));
}

function ipBytes(ip: string): Buffer {
  if (isIP(ip) === 4) return Buffer.from(ip.split(".").map(Number));
  const [head = "", tail = ""] = ip.split("::");
  const h = head === "" ? [] : head.split(":");
  const t = tail === "" ? [] : ip.includes("::") ? tail.split(":") : [];
  const groups = ip.includes("::") ? [...h, ...Array<string>(8 - h.length - t.length).fill("0"), ...t] : h;
  return Buffer.concat(groups.map((g) => Buffer.from(g.padStart(4, "0"), "hex")));
}

export interface SelfSigned {
  /** PEM */
  readonly cert: string;
  /** PEM, PKCS #8 */
  readonly key: string;
}

/** A certificate's SHA-256 fingerprint as `sha256:<64 hex digits>`; throws when `pem` holds no certificate. */
export function certFingerprint(pem: string): string {
  return `sha256:${new X509Certificate(pem).fingerprint256.replaceAll(":", "").toLowerCase()}`;
}

/**
 * A certificate serial from random bytes, as DER's INTEGER wants it (RFC 5280 §4.1.2.2: positive, at most 20
 * bytes): the top bit clear (not negative) and the next set, so the first byte is never a zero that DER would call
 * padding (OpenSSL refuses such a certificate: "illegal padding"; 1 random serial in 256 had it).
 */
export function serialFrom(random: Buffer): Buffer {
  const serial = Buffer.from(random.subarray(0, 20));
  serial[0] = ((serial[0] ?? 0) & 0x7f) | 0x40;
  return serial;
}

/**
 * A certificate for `names` (DNS names or IP addresses; the first is the subject's CN), valid for `days`;
 * `random` makes the serial (tests pass their own).
 */
export function selfSignedCert(
  names: readonly string[],
  days = 365,
  now = new Date(),
  random: Buffer = randomBytes(16),
): SelfSigned {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const cn = seq(tlv(0x31, seq(oid("2.5.4.3"), tlv(0x0c, Buffer.from(names[0] ?? "arraycopy")))));
  const ecdsaSha256 = seq(oid("1.2.840.10045.4.3.2"));
  const san = seq(...names.map((n) => (isIP(n) === 0 ? tlv(0x82, Buffer.from(n, "ascii")) : tlv(0x87, ipBytes(n)))));
  const serial = serialFrom(random);
  const tbs = seq(
    tlv(0xa0, tlv(0x02, Buffer.from([2]))),
    tlv(0x02, serial),
    ecdsaSha256,
    cn,
    seq(time(new Date(now.getTime() - 60_000)), time(new Date(now.getTime() + days * 86_400_000))),
    cn,
    publicKey.export({ type: "spki", format: "der" }),
    tlv(0xa3, seq(seq(oid("2.5.29.17"), tlv(0x04, san)))),
  );
  const signature = sign("sha256", tbs, { key: privateKey, dsaEncoding: "der" });
  const der = seq(tbs, ecdsaSha256, tlv(0x03, Buffer.concat([Buffer.from([0]), signature])));
  const body = der.toString("base64").replace(/(.{64})/g, "$1\n");
  return {
    cert: `-----BEGIN CERTIFICATE-----\n${body}\n-----END CERTIFICATE-----\n`.replace("\n\n", "\n"),
    key: privateKey.export({ type: "pkcs8", format: "pem" }) as string,
  };
}
