// The operator benchmark's pure helpers: reading apiserver_request_total, counting writes between two readings,
// the peer's writes and modes, and which of the operator's runs a peer run is compared with.
import { describe, expect, it } from "vitest";
import { parseRequestCounts, reconcileCount, sum, writesSince } from "../../bench/measure.ts";
import { operatorThroughputFor, peerModes, peerWrites } from "../../bench/peer.ts";

// A piece of a real kube-apiserver's /metrics (v1.36), with the other series and comments around it.
const metrics = `# HELP apiserver_request_total [STABLE] Counter of apiserver requests broken out for each verb, ...
# TYPE apiserver_request_total counter
apiserver_request_total{code="201",component="apiserver",dry_run="",group="snapshot.storage.k8s.io",\
resource="volumesnapshots",scope="resource",subresource="",verb="POST",version="v1"} 1000
apiserver_request_total{code="200",component="apiserver",dry_run="",group="snapshot.storage.k8s.io",\
resource="volumesnapshots",scope="resource",subresource="status",verb="PUT",version="v1"} 2400
apiserver_request_total{code="409",component="apiserver",dry_run="",group="snapshot.storage.k8s.io",\
resource="volumesnapshots",scope="resource",subresource="status",verb="PUT",version="v1"} 37
apiserver_request_total{code="200",component="apiserver",dry_run="",group="coordination.k8s.io",\
resource="leases",scope="resource",subresource="",verb="PUT",version="v1"} 12
apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="pods",scope="namespace",\
subresource="",verb="LIST",version="v1"} 5
apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="events",scope="resource",\
subresource="",verb="POST",version="v1"} 1.5e+03
apiserver_request_duration_seconds_bucket{verb="POST",resource="volumesnapshots",le="0.005"} 900
`.replaceAll("\\\n", "");

describe("parseRequestCounts", () => {
  it("sums apiserver_request_total by verb and resource/subresource, over codes and other labels", () => {
    const counts = parseRequestCounts(metrics);
    expect(Object.fromEntries(counts)).toEqual({
      "POST volumesnapshots": 1000,
      "PUT volumesnapshots/status": 2437,
      "PUT leases": 12,
      "LIST pods": 5,
      "POST events": 1500,
    });
  });

  it("reads nothing from a text without the series", () => {
    expect(parseRequestCounts("# nothing here\nprocess_cpu_seconds_total 3\n").size).toBe(0);
  });
});

describe("reconcileCount", () => {
  it("sums one controller's arraycopy_reconcile_total over its outcomes", () => {
    const text = [
      "# TYPE arraycopy_reconcile_total counter",
      'arraycopy_reconcile_total{controller="virtualcopy",outcome="done"} 1000',
      'arraycopy_reconcile_total{controller="virtualcopy",outcome="error"} 3',
      'arraycopy_reconcile_total{controller="virtualcopygroup",outcome="done"} 7',
      'arraycopy_reconcile_duration_seconds_count{controller="virtualcopy"} 1003',
    ].join("\n");
    expect(reconcileCount(text, "virtualcopy")).toBe(1003);
    expect(reconcileCount(text, "copyjob")).toBe(0);
  });
});

describe("writesSince", () => {
  it("keeps the writes that grew, by how much, and drops reads and unchanged series", () => {
    const before = new Map([
      ["POST volumesnapshots", 10],
      ["PUT volumesnapshots/status", 4],
      ["LIST pods", 1],
      ["PUT leases", 7],
    ]);
    const after = new Map([
      ["POST volumesnapshots", 110],
      ["PUT volumesnapshots/status", 250],
      ["LIST pods", 9],
      ["PUT leases", 7],
      ["APPLY virtualcopies/status", 3],
      ["DELETE volumesnapshotcontents", 2],
    ]);
    const w = writesSince(before, after);
    expect(Object.fromEntries(w)).toEqual({
      "POST volumesnapshots": 100,
      "PUT volumesnapshots/status": 246,
      "APPLY virtualcopies/status": 3,
      "DELETE volumesnapshotcontents": 2,
    });
    expect(sum(w)).toBe(351);
    expect(sum(w, (k) => k.includes("status"))).toBe(249);
  });
});

describe("peerWrites", () => {
  it("counts what the snapshot stack wrote: not the client's creates, nor the apiserver's Lease and endpoints", () => {
    const w = new Map([
      ["POST volumesnapshots", 100],
      ["POST volumesnapshotcontents", 100],
      ["PUT volumesnapshots/status", 240],
      ["PATCH volumesnapshotcontents", 300],
      ["PUT persistentvolumeclaims", 70],
      ["POST events", 310],
      ["PUT leases", 3],
      ["POST endpoints", 2],
    ]);
    expect(peerWrites(w)).toBe(100 + 240 + 300 + 70 + 310);
  });
});

describe("peerModes", () => {
  it("runs the defaults on at most defaultN snapshots, tuned and lifted on N, with flags both binaries take", () => {
    const modes = peerModes(1000, 100);
    expect(modes.map((m) => [m.name, m.n])).toEqual([
      ["default", 100],
      ["tuned", 1000],
      ["lifted", 1000],
    ]);
    expect(modes[0]?.flags).toEqual([]);
    expect(modes[1]?.flags).toEqual(["--kube-api-qps=100", "--kube-api-burst=200", "--worker-threads=32"]);
    expect(modes[2]?.flags).toContain("--kube-api-qps=1000000");
    expect(peerModes(10, 100)[0]?.n).toBe(10);
  });
});

describe("operatorThroughputFor", () => {
  const throughput = new Map([
    [100, 31.9],
    [1000, 57.0],
  ]);
  it("compares with the operator's run of the same N", () => {
    expect(operatorThroughputFor(throughput, 100)).toEqual([100, 31.9]);
  });
  it("else with its largest N", () => {
    expect(operatorThroughputFor(throughput, 50)).toEqual([1000, 57.0]);
  });
  it("has nothing to compare with when the operator ran nothing", () => {
    expect(operatorThroughputFor(new Map(), 100)).toBeUndefined();
  });
});
