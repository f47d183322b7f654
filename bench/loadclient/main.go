// loadclient is the operator benchmark's load: it creates N VirtualCopies (or, for the peer, N VolumeSnapshots of
// one PVC) and, for the floor, writes one status on each VirtualCopy (a merge patch, or with -status-apply a
// server-side apply as the operator writes it) and, with -event, posts one events.k8s.io/v1 Event on each, as the
// operator's Ready Event (the floor of the operator's own writes), `-concurrency` requests in flight, over HTTP/2
// with a bearer token — the requests a client library makes, without a client library's weight (no caches, no informers, no rate limiter), so the floor is the
// API server's own and the operator's runs share the two cores with as little as possible. It reports its own CPU
// seconds (getrusage), so anyone can see that it is negligible.
//
//	loadclient -server https://127.0.0.1:PORT -token T -ca ca.crt -namespace NS -n 1000 -class bench \
//	  [-status [-status-apply] [-status-body FILE] [-event [-event-body FILE]]]
//	loadclient ... -kind volumesnapshot -class SNAPSHOT_CLASS -volume PVC
//
// Prints one JSON object: {"created","statusWrites","events","seconds","cpuSeconds","maxRssKiB"}. Exits 1 on the first
// request the API server refuses.
package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// The collections, by -kind.
var resources = map[string]string{
	"virtualcopy":    "/apis/arraycopy.io/v1alpha1/namespaces/%s/virtualcopies",
	"volumesnapshot": "/apis/snapshot.storage.k8s.io/v1/namespaces/%s/volumesnapshots",
}

type client struct {
	http   *http.Client
	server string
	token  string
}

func (c *client) send(method, path, contentType string, body []byte) error {
	req, err := http.NewRequest(method, c.server+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Accept", "application/json")
	res, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	text, _ := io.ReadAll(res.Body)
	if res.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %d %s", method, path, res.StatusCode, bytes.TrimSpace(text))
	}
	return nil
}

func virtualCopy(namespace, name, class, volume string) []byte {
	b, _ := json.Marshal(map[string]any{
		"apiVersion": "arraycopy.io/v1alpha1",
		"kind":       "VirtualCopy",
		"metadata":   map[string]any{"name": name, "namespace": namespace},
		"spec":       map[string]any{"copyClassName": class, "source": map[string]any{"volumeName": volume}},
	})
	return b
}

func volumeSnapshot(namespace, name, class, pvc string) []byte {
	b, _ := json.Marshal(map[string]any{
		"apiVersion": "snapshot.storage.k8s.io/v1",
		"kind":       "VolumeSnapshot",
		"metadata":   map[string]any{"name": name, "namespace": namespace},
		"spec": map[string]any{"volumeSnapshotClassName": class,
			"source": map[string]any{"persistentVolumeClaimName": pvc}},
	})
	return b
}

func readyStatus(now time.Time) map[string]any {
	return map[string]any{"status": map[string]any{"conditions": []any{map[string]any{
		"type": "Ready", "status": "True", "reason": "Idle", "message": "ready",
		"lastTransitionTime": now.UTC().Format(time.RFC3339), "observedGeneration": 1,
	}}}}
}

// statusWrite is the floor's status write: a merge patch, or a server-side apply of the same status (a JSON body,
// which is YAML, under the apply content type, forced, with a field manager of its own: what the operator sends).
// The status is `template` (a copy of what -status-body gave) or, without one, readyStatus.
func statusWrite(apply bool, template map[string]any, namespace, name string, now time.Time) (
	query, contentType string, body []byte,
) {
	patch := readyStatus(now)
	if template != nil {
		patch = map[string]any{"status": template["status"]}
	}
	if !apply {
		b, _ := json.Marshal(patch)
		return "", "application/merge-patch+json", b
	}
	patch["apiVersion"] = "arraycopy.io/v1alpha1"
	patch["kind"] = "VirtualCopy"
	patch["metadata"] = map[string]any{"name": name, "namespace": namespace}
	b, _ := json.Marshal(patch)
	return "?fieldManager=loadclient&force=true", "application/apply-patch+yaml", b
}

// readyEvent is an events.k8s.io/v1 Event like the operator's Ready Event on a VirtualCopy: named as client-go
// names Events ("<object>.<hex nanoseconds>"), with a reporting controller and instance, regarding the copy. With
// a template (-event-body: an Event the operator posted), the Event is the template's fields with this object's
// name, namespace and time.
func readyEvent(template map[string]any, namespace, name string, now time.Time) []byte {
	e := map[string]any{
		"reportingController": "arraycopy.io/loadclient",
		"reportingInstance":   "loadclient",
		"regarding":           map[string]any{"apiVersion": "arraycopy.io/v1alpha1", "kind": "VirtualCopy"},
		"type":                "Normal", "reason": "Ready", "action": "Reconcile", "note": "virtual copy is ready",
	}
	if template != nil {
		e = map[string]any{}
		for k, v := range template {
			e[k] = v
		}
		regarding := map[string]any{}
		if r, ok := template["regarding"].(map[string]any); ok {
			for k, v := range r {
				regarding[k] = v
			}
		}
		e["regarding"] = regarding
	}
	e["apiVersion"] = "events.k8s.io/v1"
	e["kind"] = "Event"
	e["metadata"] = map[string]any{"name": fmt.Sprintf("%s.%x", name, now.UnixNano()), "namespace": namespace}
	e["eventTime"] = now.UTC().Format("2006-01-02T15:04:05.000000Z07:00")
	regarding, _ := e["regarding"].(map[string]any)
	regarding["namespace"] = namespace
	regarding["name"] = name
	b, _ := json.Marshal(e)
	return b
}

// jsonFile is the JSON object in path ("" gives nil).
func jsonFile(path string) map[string]any {
	if path == "" {
		return nil
	}
	text, err := os.ReadFile(path)
	if err != nil {
		fail(err)
	}
	var m map[string]any
	if err := json.Unmarshal(text, &m); err != nil {
		fail(fmt.Errorf("%s: %w", path, err))
	}
	return m
}

func main() {
	server := flag.String("server", "", "API server URL")
	token := flag.String("token", "", "bearer token")
	caFile := flag.String("ca", "", "CA bundle of the API server's certificate")
	namespace := flag.String("namespace", "", "namespace of the objects")
	n := flag.Int("n", 0, "objects to create")
	kind := flag.String("kind", "virtualcopy", "what to create: virtualcopy or volumesnapshot")
	class := flag.String("class", "bench", "spec.copyClassName (a VolumeSnapshot's spec.volumeSnapshotClassName)")
	volume := flag.String("volume", "bench-src",
		"spec.source.volumeName (a VolumeSnapshot's spec.source.persistentVolumeClaimName)")
	prefix := flag.String("prefix", "c-", "object names are PREFIX0 … PREFIX(n-1)")
	status := flag.Bool("status", false, "write one status patch on each object after creating it (the floor)")
	statusApply := flag.Bool("status-apply", false, "with -status: write it by server-side apply, not a merge patch")
	event := flag.Bool("event", false, "with -status: then post one Event on each (as the operator's Ready Event)")
	statusBody := flag.String("status-body", "",
		`with -status: a JSON file {"status": …} to write instead of one Ready condition (the operator's own status)`)
	eventBody := flag.String("event-body", "",
		"with -event: a JSON file of an Event the operator posted, whose fields the Events copy")
	concurrency := flag.Int("concurrency", 32, "requests in flight")
	flag.Parse()
	if *server == "" || *token == "" || *caFile == "" || *namespace == "" || *n <= 0 {
		fmt.Fprintln(os.Stderr, "loadclient: -server, -token, -ca, -namespace and -n are required")
		os.Exit(2)
	}
	resource, known := resources[*kind]
	if !known || (*status && *kind != "virtualcopy") || (*event && !*status) || (*statusBody != "" && !*status) ||
		(*eventBody != "" && !*event) {
		fmt.Fprintln(os.Stderr, "loadclient: -kind is virtualcopy or volumesnapshot; -status is for virtualcopy only; "+
			"-event and -status-body need -status; -event-body needs -event")
		os.Exit(2)
	}
	statusTemplate, eventTemplate := jsonFile(*statusBody), jsonFile(*eventBody)
	if statusTemplate != nil {
		if _, ok := statusTemplate["status"].(map[string]any); !ok {
			fail(fmt.Errorf(`%s: want {"status": {…}}`, *statusBody))
		}
	}
	body := virtualCopy
	if *kind == "volumesnapshot" {
		body = volumeSnapshot
	}
	ca, err := os.ReadFile(*caFile)
	if err != nil {
		fail(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		fail(fmt.Errorf("no certificate in %s", *caFile))
	}
	c := &client{server: *server, token: *token, http: &http.Client{
		Timeout: 60 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig:     &tls.Config{RootCAs: pool},
			ForceAttemptHTTP2:   true,
			MaxIdleConnsPerHost: *concurrency,
		},
	}}
	collection := fmt.Sprintf(resource, *namespace)
	events := fmt.Sprintf("/apis/events.k8s.io/v1/namespaces/%s/events", *namespace)
	var next, created, written, posted atomic.Int64
	var failed atomic.Bool
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < *concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= *n || failed.Load() {
					return
				}
				name := fmt.Sprintf("%s%d", *prefix, i)
				err := c.send("POST", collection, "application/json", body(*namespace, name, *class, *volume))
				if err == nil {
					created.Add(1)
					if *status {
						query, contentType, patch := statusWrite(*statusApply, statusTemplate, *namespace, name, time.Now())
						err = c.send("PATCH", collection+"/"+name+"/status"+query, contentType, patch)
						if err == nil {
							written.Add(1)
						}
						if err == nil && *event {
							err = c.send("POST", events, "application/json", readyEvent(eventTemplate, *namespace, name, time.Now()))
							if err == nil {
								posted.Add(1)
							}
						}
					}
				}
				if err != nil {
					once.Do(func() { firstErr = err; failed.Store(true) })
					return
				}
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		fail(firstErr)
	}
	elapsed := time.Since(start)
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	out, _ := json.Marshal(map[string]any{
		"created": created.Load(), "statusWrites": written.Load(), "events": posted.Load(), "seconds": elapsed.Seconds(),
		"cpuSeconds": cpu.Seconds(), "maxRssKiB": peakRSSKiB(),
	})
	fmt.Println(string(out))
}

// peakRSSKiB is this process's peak RSS, VmHWM of /proc/self/status. Not getrusage's ru_maxrss: Linux keeps that
// across execve, so it reported the RSS of the process that forked us (the benchmark's Node process, 80–380 MiB).
func peakRSSKiB() int64 {
	text, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(text), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kib int64
			_, _ = fmt.Sscan(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), &kib)
			return kib
		}
	}
	return 0
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "loadclient:", err)
	os.Exit(1)
}
