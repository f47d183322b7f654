// The client subcommand: one CreateVolume call on a running driver, over its socket, for a caller that has no gRPC
// client of its own (the benchmark's peer makes its snapshots' source volume so, then binds a PV to it by hand).
//
//	csi create-volume --endpoint=/run/csi.sock --name=NAME [--size=BYTES] [--block]
//
// Prints the volume's ID. A repeated call with the same name finds the volume made by the first.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

func createVolumeCommand(args []string) error {
	fs := flag.NewFlagSet("create-volume", flag.ContinueOnError)
	endpoint := fs.String("endpoint", "", "the driver's CSI socket (a path, or unix:///path)")
	name := fs.String("name", "", "the volume's name (the CO's name, from which the driver derives its ID)")
	size := fs.Int64("size", 1<<20, "required bytes")
	block := fs.Bool("block", false, "a Block volume (else a Filesystem one)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *endpoint == "" || *name == "" {
		return fmt.Errorf("--endpoint and --name are required")
	}
	conn, err := grpc.NewClient("unix://"+socketPath(*endpoint),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	capability := &csi.VolumeCapability{
		AccessMode: &csi.VolumeCapability_AccessMode{Mode: csi.VolumeCapability_AccessMode_SINGLE_NODE_WRITER},
		AccessType: &csi.VolumeCapability_Mount{Mount: &csi.VolumeCapability_MountVolume{}},
	}
	if *block {
		capability.AccessType = &csi.VolumeCapability_Block{Block: &csi.VolumeCapability_BlockVolume{}}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := csi.NewControllerClient(conn).CreateVolume(ctx, &csi.CreateVolumeRequest{
		Name:               *name,
		CapacityRange:      &csi.CapacityRange{RequiredBytes: *size},
		VolumeCapabilities: []*csi.VolumeCapability{capability},
	})
	if err != nil {
		return err
	}
	fmt.Fprintln(os.Stdout, res.GetVolume().GetVolumeId())
	return nil
}
