import { describe, expect, it } from "vitest";
import { loadConfig, usage } from "./config.ts";

describe("configuration", () => {
  it("takes flags over environment over defaults", () => {
    const c = loadConfig(["--workers", "4"], { ARRAYCOPY_WORKERS: "8", ARRAYCOPY_KUBE_QPS: "50", POD_NAME: "op-0" });
    expect(loadConfig([], {}).qps).toBe(0);
    expect(c).toMatchObject({
      workers: 4,
      qps: 50,
      burst: 400,
      identity: "op-0",
      leaderElect: true,
      dataDir: "/var/lib/arraycopy",
    });
  });

  it.each([
    ["a worker count that is not a number names the flag", ["--workers", "many"], /--workers/],
    ["an unknown log level names the flag", ["--log-level", "loud"], /--log-level/],
    ["leader election takes true or false only", ["--leader-elect", "yes"], /--leader-elect/],
    ["a cim listener needs the URL the arrays reach", ["--cim-listener-port", "5990"], /--cim-listener-url: required/],
    [
      "the cim listener's URL is https",
      ["--cim-listener-port", "5990", "--cim-listener-url", "http://10.0.0.1:30990"],
      /--cim-listener-url/,
    ],
    [
      "the populator's data path is https only (its certificate is made at start)",
      ["--populator-address", "http://arraycopy.example:8081"],
      /--populator-address/,
    ],
    [
      "a listener certificate comes with its key",
      ["--cim-listener-port", "1", "--cim-listener-url", "https://a:1", "--cim-listener-cert-file", "/c"],
      /go together/,
    ],
  ])("%s", (_why, argv, message) => {
    expect(() => loadConfig(argv, {})).toThrow(message);
  });

  it("takes a cim listener: its port and the URL the arrays reach", () => {
    const c = loadConfig([], {
      ARRAYCOPY_CIM_LISTENER_PORT: "5990",
      ARRAYCOPY_CIM_LISTENER_URL: "https://10.0.0.1:30990",
    });
    expect(c).toMatchObject({ cimListenerPort: 5990, cimListenerUrl: "https://10.0.0.1:30990" });
    expect(loadConfig([], {}).cimListenerPort).toBeUndefined();
  });

  it("refuses an unknown flag instead of ignoring it", () => {
    expect(() => loadConfig(["--worker", "4"], {})).toThrow(/worker/);
  });

  it("documents every flag in --help", () => {
    for (const flag of [
      "--kubeconfig",
      "--data-dir",
      "--metrics-port",
      "--workers",
      "--qps",
      "--burst",
      "--leader-elect",
      "--lease-namespace",
      "--lease-name",
      "--identity",
      "--log-level",
    ]) {
      expect(usage()).toContain(flag);
    }
  });
});
