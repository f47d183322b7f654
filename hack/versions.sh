# Pinned versions of the real components the tests start. Changing one rebuilds it into a new cache key.
K8S_VERSION=v1.36.3   # a supported release; its go.mod names etcd v3.6.8
ETCD_VERSION=v3.6.8
HELM_VERSION=v3.22.0
# The one-node cluster (npm run cluster -- up --node): kubelet, kube-controller-manager and kube-scheduler are
# K8S_VERSION from the same throw-away module; containerd 2.x because kubelet 1.36 dropped containerd 1.x.
CONTAINERD_VERSION=v2.4.2
# The pod sandbox image, made locally by build-node.sh from hack/node/pause.go (no registry is reachable).
PAUSE_IMAGE=localhost/arraycopy/pause:1
# Dynamic provisioning for the node (Filesystem volumes as directories under the cluster's directory), and the
# image of its helper pods (Debian's static busybox).
LOCAL_PATH_PROVISIONER_VERSION=v0.0.30
HELPER_IMAGE=localhost/arraycopy/busybox:1
# Block (and Filesystem) volumes on the node: our CSI driver (hack/csi, its CSI spec version pinned by its go.mod)
# under kubernetes-csi's external-provisioner, checked with csi-test's csi-sanity. All from the Go module proxy.
EXTERNAL_PROVISIONER_VERSION=v6.4.0
CSI_TEST_VERSION=v5.6.0
# The benchmark's peer (npm run bench:operator -- --peer): the upstream snapshot-controller and csi-snapshotter,
# built from the Go module proxy, over our CSI driver in its --no-io mode; the VolumeSnapshot CRDs come from the
# same release's client module (client/v8 at the same version).
EXTERNAL_SNAPSHOTTER_VERSION=v8.7.0
