// A self-signed certificate for the test array on 127.0.0.1, made with openssl once per process (as the
// control plane does): the driver verifies it through its CA bundle option, so TLS is tested, not skipped.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface ServingCert {
  readonly cert: string;
  readonly key: string;
}

let cached: ServingCert | undefined;

export function servingCert(): ServingCert {
  if (cached !== undefined) return cached;
  const dir = mkdtempSync(join(tmpdir(), "wsapi-cert-"));
  const key = join(dir, "tls.key");
  const crt = join(dir, "tls.crt");
  const res = spawnSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-days",
      "2",
      "-subj",
      "/CN=localhost",
      "-addext",
      "subjectAltName=IP:127.0.0.1,DNS:localhost",
      "-keyout",
      key,
      "-out",
      crt,
    ],
    { encoding: "utf8" },
  );
  if (res.status !== 0) throw new Error(`cannot create the test array's certificate: ${res.stderr}`);
  cached = { cert: readFileSync(crt, "utf8"), key: readFileSync(key, "utf8") };
  return cached;
}
