// arraycopy's CSI driver for the one-node cluster: Block and Filesystem volumes as sparse image files under a
// state directory, attached as loop devices on the node, and snapshots as sparse copies of the images. Written
// against the CSI spec; a fixture for the node (docs/node.md), not a storage product.
//
//	csi --endpoint=/run/csi.sock --state-dir=/var/lib/csi [--node-id=NODE] [--registration-dir=DIR] [--no-io]
//	csi create-volume --endpoint=/run/csi.sock --name=NAME [--size=BYTES] [--block]   (a client: client.go)
//
// Invariants:
//   - every volume and snapshot is a record (<state-dir>/{volumes,snapshots}/<id>.json) written before its image
//     and removed after it, so a restart knows every image it made and nothing is found by name pattern;
//   - each call is idempotent: a repeated call finds the work done and answers as the first did;
//   - a loop device is attached at NodeStageVolume and detached at NodeUnstageVolume and DeleteVolume;
//   - with --no-io, volumes and snapshots are records only and the node service makes and removes empty target
//     paths: the benchmark's peer then measures the sidecars, not this driver.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

const version = "0.1.0"

type config struct {
	endpoint        string
	stateDir        string
	driverName      string
	nodeID          string
	registrationDir string
	noIO            bool
	defaultSize     int64
	logCalls        bool
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "create-volume" {
		if err := createVolumeCommand(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "csi create-volume:", err)
			os.Exit(1)
		}
		return
	}
	host, _ := os.Hostname()
	var c config
	flag.StringVar(&c.endpoint, "endpoint", "", "the CSI socket to serve (a path, or unix:///path)")
	flag.StringVar(&c.stateDir, "state-dir", "", "where records, volume images and snapshot images live")
	flag.StringVar(&c.driverName, "driver-name", "csi.arraycopy.io", "the driver's name (CSIDriver, StorageClass)")
	flag.StringVar(&c.nodeID, "node-id", host, "the node's name, as NodeGetInfo reports it")
	flag.StringVar(&c.registrationDir, "registration-dir", "",
		"the kubelet's plugin registration directory (/var/lib/kubelet/plugins_registry); empty: do not register")
	flag.BoolVar(&c.noIO, "no-io", false,
		"records only: no image files, no loop devices, no mounts (the benchmark's peer measures the sidecars)")
	flag.Int64Var(&c.defaultSize, "default-size", 1<<30, "capacity of a volume whose request names none, in bytes")
	flag.BoolVar(&c.logCalls, "log-calls", true, "log every CSI call and its outcome")
	flag.Parse()
	if c.endpoint == "" || c.stateDir == "" {
		fmt.Fprintln(os.Stderr, "csi: --endpoint and --state-dir are required")
		os.Exit(2)
	}
	if err := run(c); err != nil {
		log.Fatalf("csi: %v", err)
	}
}

func socketPath(endpoint string) string {
	return strings.TrimPrefix(endpoint, "unix://")
}

// listen removes a stale socket of an earlier run (only a socket: any other file there is an error).
func listen(path string) (net.Listener, error) {
	if st, err := os.Lstat(path); err == nil {
		if st.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("%s exists and is not a socket", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, err
	}
	return net.Listen("unix", path)
}

func run(c config) error {
	d, err := newDriver(c)
	if err != nil {
		return err
	}
	sock := socketPath(c.endpoint)
	lis, err := listen(sock)
	if err != nil {
		return err
	}
	var opts []grpc.ServerOption
	if c.logCalls {
		opts = append(opts, grpc.UnaryInterceptor(logCall))
	}
	srv := grpc.NewServer(opts...)
	csi.RegisterIdentityServer(srv, d)
	csi.RegisterControllerServer(srv, d)
	csi.RegisterNodeServer(srv, d)
	go func() {
		if err := srv.Serve(lis); err != nil {
			log.Fatalf("csi: serving %s: %v", sock, err)
		}
	}()
	log.Printf("csi %s: %s serving %s (state %s, node %s, no-io %v)", version, c.driverName, sock, c.stateDir,
		c.nodeID, c.noIO)

	var reg *grpc.Server
	var regSock string
	if c.registrationDir != "" {
		regSock = filepath.Join(c.registrationDir, c.driverName+"-reg.sock")
		if reg, err = serveRegistration(regSock, c.driverName, sock); err != nil {
			return err
		}
		log.Printf("csi: kubelet registration socket %s", regSock)
	}

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	s := <-sig
	log.Printf("csi: %v: stopping", s)
	// The registration socket first: the kubelet then deregisters the driver before its socket goes.
	if reg != nil {
		reg.Stop()
		_ = os.Remove(regSock)
	}
	stopped := make(chan struct{})
	go func() { srv.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		srv.Stop()
	}
	_ = os.Remove(sock)
	return nil
}

func logCall(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	start := time.Now()
	resp, err := h(ctx, req)
	method := info.FullMethod[strings.LastIndex(info.FullMethod, "/")+1:]
	if err != nil {
		log.Printf("%s %s: %v (%v)", method, brief(req), err, time.Since(start).Round(time.Microsecond))
	} else if !strings.HasPrefix(method, "Probe") && !strings.HasPrefix(method, "Get") {
		log.Printf("%s %s: ok (%v)", method, brief(req), time.Since(start).Round(time.Microsecond))
	}
	return resp, err
}

// brief names the request's object without its secrets.
func brief(req any) string {
	switch r := req.(type) {
	case interface{ GetName() string }:
		return r.GetName()
	case interface{ GetVolumeId() string }:
		return r.GetVolumeId()
	case interface{ GetSnapshotId() string }:
		return r.GetSnapshotId()
	}
	return ""
}

func errf(c codes.Code, format string, a ...any) error {
	return status.Errorf(c, format, a...)
}

// internal wraps an unexpected failure; a gRPC status error passes through.
func internal(what string, err error) error {
	if _, ok := status.FromError(err); ok {
		return err
	}
	return status.Errorf(codes.Internal, "%s: %v", what, err)
}
