# Pinned versions of the real components the tests start. Changing one rebuilds it into a new cache key.
K8S_VERSION=v1.36.3   # a supported release; its go.mod names etcd v3.6.8
ETCD_VERSION=v3.6.8
HELM_VERSION=v3.22.0
