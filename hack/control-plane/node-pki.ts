// Certificates of the one-node cluster, made with openssl: a client CA the apiserver and the kubelet both trust,
// the kubelet's node client certificate (system:node:<name> in system:nodes, so the Node authorizer and
// NodeRestriction apply to it) and the apiserver's client certificate for calls to the kubelet (logs, exec,
// port-forward), which the kubelet authenticates against the same CA and authorizes by webhook.
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";

export interface NodePki {
  readonly clientCa: string;
  readonly kubeletCert: string;
  readonly kubeletKey: string;
  readonly apiserverKubeletCert: string;
  readonly apiserverKubeletKey: string;
}

/** The user the apiserver is to the kubelet; bound to system:kubelet-api-admin once the apiserver serves. */
export const apiserverKubeletUser = "kube-apiserver-kubelet-client";

function openssl(args: readonly string[]): void {
  const res = spawnSync("openssl", args, { encoding: "utf8" });
  if (res.status !== 0) throw new Error(`openssl ${args[0] ?? ""} failed: ${res.stderr}`);
}

const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

function clientCert(pki: string, name: string, subject: string): { cert: string; key: string } {
  const key = join(pki, `${name}.key`);
  const csr = join(pki, `${name}.csr`);
  const cert = join(pki, `${name}.crt`);
  const ext = join(pki, `${name}.ext`);
  writeFileSync(ext, "keyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n");
  openssl(["req", "-new", ...ec, "-subj", subject, "-keyout", key, "-out", csr]);
  openssl(
    ["x509", "-req", "-in", csr, "-CA", join(pki, "client-ca.crt"), "-CAkey", join(pki, "client-ca.key")].concat([
      "-CAcreateserial",
      "-days",
      "30",
      "-extfile",
      ext,
      "-out",
      cert,
    ]),
  );
  return { cert, key };
}

export function writeNodePki(pki: string, nodeName: string): NodePki {
  const clientCa = join(pki, "client-ca.crt");
  openssl(
    ["req", "-x509", ...ec, "-days", "30", "-subj", "/CN=arraycopy-client-ca"]
      .concat(["-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
      .concat(["-keyout", join(pki, "client-ca.key"), "-out", clientCa]),
  );
  const kubelet = clientCert(pki, "kubelet-client", `/O=system:nodes/CN=system:node:${nodeName}`);
  const api = clientCert(pki, "apiserver-kubelet-client", `/CN=${apiserverKubeletUser}`);
  return {
    clientCa,
    kubeletCert: kubelet.cert,
    kubeletKey: kubelet.key,
    apiserverKubeletCert: api.cert,
    apiserverKubeletKey: api.key,
  };
}
