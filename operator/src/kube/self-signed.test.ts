// The self-signed certificates, read back by OpenSSL (node's X509Certificate and a real TLS handshake): what the
// hand-written DER encoders make must parse, verify with its own key, name every address given, and be trusted by a
// client that pins it — for the names it holds, and for no other.
import { createPrivateKey, X509Certificate } from "node:crypto";
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { connect, createServer } from "node:tls";
import { describe, expect, it } from "vitest";
import { certFingerprint, selfSignedCert, serialFrom } from "./self-signed.ts";

describe("selfSignedCert", () => {
  it("makes a certificate OpenSSL parses, signed by its own key, naming every address and name given", () => {
    const now = new Date("2026-12-03T05:00:00Z");
    const { cert, key } = selfSignedCert(["10.244.0.7", "fd00:10:244::7", "operator.example"], 3650, now);
    const x = new X509Certificate(cert);
    expect(x.subject).toBe("CN=10.244.0.7");
    expect(x.issuer).toBe(x.subject);
    expect(x.subjectAltName).toBe("IP Address:10.244.0.7, IP Address:FD00:10:244:0:0:0:0:7, DNS:operator.example");
    expect(x.verify(x.publicKey)).toBe(true);
    expect(x.checkPrivateKey(createPrivateKey(key))).toBe(true);
    expect(x.publicKey.asymmetricKeyDetails).toMatchObject({ namedCurve: "prime256v1" });
    // Valid from a minute before it was made (clocks a little behind) for the days asked.
    expect(new Date(x.validFrom).getTime()).toBe(now.getTime() - 60_000);
    expect(new Date(x.validTo).getTime()).toBe(now.getTime() + 3650 * 86_400_000);
    expect(x.checkIP("10.244.0.7")).toBe("10.244.0.7");
    expect(x.checkIP("10.244.0.8")).toBeUndefined();
  });

  it("writes dates past 2049 as GeneralizedTime", () => {
    const x = new X509Certificate(selfSignedCert(["127.0.0.1"], 365, new Date("2049-06-01T00:00:00Z")).cert);
    expect(new Date(x.validTo).toISOString()).toBe("2050-06-01T00:00:00.000Z");
  });

  it("writes a serial OpenSSL reads whatever the random bytes: no leading zero, never negative", () => {
    // All zeros once came out as a padded INTEGER (00 00 …) that X509Certificate refuses ("illegal padding").
    for (const first of [0x00, 0x01, 0x7f, 0x80, 0xff]) {
      const random = Buffer.alloc(16, first === 0xff ? 0xff : 0);
      random[0] = first;
      const x = new X509Certificate(selfSignedCert(["127.0.0.1"], 365, new Date(), random).cert);
      expect(x.serialNumber).toMatch(/^[4-7][0-9A-F]{31}$/);
    }
    expect(serialFrom(Buffer.alloc(16))[0]).toBe(0x40);
  });

  it("makes a new key and serial every time: two certificates for the same address differ", () => {
    const a = selfSignedCert(["127.0.0.1"]);
    const b = selfSignedCert(["127.0.0.1"]);
    expect(certFingerprint(a.cert)).not.toBe(certFingerprint(b.cert));
    expect(new X509Certificate(a.cert).serialNumber).not.toBe(new X509Certificate(b.cert).serialNumber);
  });
});

describe("certFingerprint", () => {
  it("is the SHA-256 of the certificate's DER, as sha256:<hex>", () => {
    const { cert } = selfSignedCert(["127.0.0.1"]);
    const x = new X509Certificate(cert);
    expect(certFingerprint(cert)).toBe(`sha256:${x.fingerprint256.replaceAll(":", "").toLowerCase()}`);
    expect(certFingerprint(cert)).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it("refuses what is not a certificate", () => {
    expect(() => certFingerprint("not a certificate")).toThrow();
  });
});

describe("a TLS server with it", () => {
  /** Connects to a server holding `served`, trusting only `pinned`, at `host`: the handshake's outcome. */
  async function handshake(served: { cert: string; key: string }, pinned: string, host: string): Promise<string> {
    const server = createServer(served, (s) => s.end());
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const { port } = server.address() as AddressInfo;
    try {
      return await new Promise<string>((resolve) => {
        const socket = connect({ port, host: "127.0.0.1", servername: host, ca: pinned });
        socket.once("secureConnect", () => {
          socket.end();
          resolve("trusted");
        });
        socket.once("error", (e: NodeJS.ErrnoException) => {
          resolve(e.code ?? e.message);
        });
      });
    } finally {
      server.close();
    }
  }

  it("is trusted by a client that pins it, not by one that pins another certificate for the name", async () => {
    const mine = selfSignedCert(["127.0.0.1", "localhost"]);
    const other = selfSignedCert(["127.0.0.1", "localhost"]);
    expect(await handshake(mine, mine.cert, "localhost")).toBe("trusted");
    expect(await handshake(mine, other.cert, "localhost")).toBe("DEPTH_ZERO_SELF_SIGNED_CERT");
  });

  it("is refused for a name it does not hold", async () => {
    const mine = selfSignedCert(["127.0.0.1", "localhost"]);
    expect(await handshake(mine, mine.cert, "elsewhere.example")).toBe("ERR_TLS_CERT_ALTNAME_INVALID");
  });
});
