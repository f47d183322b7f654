// Node service: NodeStageVolume attaches the image as a loop device (and, for a Filesystem volume, mounts it on
// the staging path, making ext4 first only when the device is blank); NodePublishVolume bind-mounts the device
// (Block) or the staging mount (Filesystem) onto the pod's target path. The process runs in the kubelet's mount
// namespace, so its mounts are the kubelet's and the containers' to see.
package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc/codes"
)

func (d *driver) NodeGetInfo(context.Context, *csi.NodeGetInfoRequest) (*csi.NodeGetInfoResponse, error) {
	return &csi.NodeGetInfoResponse{NodeId: d.cfg.nodeID}, nil
}

func (d *driver) NodeGetCapabilities(
	context.Context, *csi.NodeGetCapabilitiesRequest,
) (*csi.NodeGetCapabilitiesResponse, error) {
	return &csi.NodeGetCapabilitiesResponse{Capabilities: []*csi.NodeServiceCapability{{
		Type: &csi.NodeServiceCapability_Rpc{Rpc: &csi.NodeServiceCapability_RPC{
			Type: csi.NodeServiceCapability_RPC_STAGE_UNSTAGE_VOLUME,
		}},
	}}}, nil
}

// nodeRequest checks what every staging and publishing request needs and returns the volume's record.
func (d *driver) nodeRequest(id, path, pathName string, c *csi.VolumeCapability) (*volumeRecord, error) {
	if id == "" {
		return nil, errf(codes.InvalidArgument, "volume_id is required")
	}
	if path == "" {
		return nil, errf(codes.InvalidArgument, "%s is required", pathName)
	}
	if c == nil {
		return nil, errf(codes.InvalidArgument, "volume_capability is required")
	}
	if msg := checkCapability(c); msg != "" {
		return nil, errf(codes.InvalidArgument, "%s", msg)
	}
	v := d.store.volume(id)
	if v == nil {
		return nil, errf(codes.NotFound, "volume %q not found", id)
	}
	return v, nil
}

func (d *driver) NodeStageVolume(
	ctx context.Context, req *csi.NodeStageVolumeRequest,
) (*csi.NodeStageVolumeResponse, error) {
	staging := req.GetStagingTargetPath()
	v, err := d.nodeRequest(req.GetVolumeId(), staging, "staging_target_path", req.GetVolumeCapability())
	if err != nil {
		return nil, err
	}
	unlock := d.store.lock("v/" + v.ID)
	defer unlock()
	if err := os.MkdirAll(staging, 0o750); err != nil {
		return nil, internal("making the staging path", err)
	}
	if d.cfg.noIO {
		return &csi.NodeStageVolumeResponse{}, nil
	}
	dev, err := attach(d.store.volumeImage(v.ID))
	if err != nil {
		return nil, internal("attaching the image", err)
	}
	mnt := req.GetVolumeCapability().GetMount()
	if mnt == nil {
		return &csi.NodeStageVolumeResponse{}, nil // Block: the device is published as it is
	}
	if mounted, err := isMountPoint(staging); err != nil || mounted {
		return &csi.NodeStageVolumeResponse{}, err
	}
	fs, err := fsType(dev)
	if err != nil {
		return nil, errf(codes.FailedPrecondition, "%v", err)
	}
	if fs == "" {
		// Blank: a new volume. A device that holds a filesystem (a populated one) is mounted as it is.
		if _, err := command("mkfs.ext4", "-F", "-q", "-m", "0", "-E", "nodiscard,lazy_itable_init=1,lazy_journal_init=1",
			dev); err != nil {
			return nil, internal("making ext4", err)
		}
		fs = "ext4"
	}
	args := []string{"-t", fs}
	if flags := mnt.GetMountFlags(); len(flags) > 0 {
		args = append(args, "-o", strings.Join(flags, ","))
	}
	if _, err := command("mount", append(args, dev, staging)...); err != nil {
		return nil, internal("mounting", err)
	}
	return &csi.NodeStageVolumeResponse{}, nil
}

func (d *driver) NodeUnstageVolume(
	ctx context.Context, req *csi.NodeUnstageVolumeRequest,
) (*csi.NodeUnstageVolumeResponse, error) {
	id, staging := req.GetVolumeId(), req.GetStagingTargetPath()
	if id == "" {
		return nil, errf(codes.InvalidArgument, "volume_id is required")
	}
	if staging == "" {
		return nil, errf(codes.InvalidArgument, "staging_target_path is required")
	}
	unlock := d.store.lock("v/" + id)
	defer unlock()
	if d.cfg.noIO {
		return &csi.NodeUnstageVolumeResponse{}, nil
	}
	if err := unmount(staging); err != nil {
		return nil, internal("unmounting the staging path", err)
	}
	if d.store.volume(id) != nil {
		if err := detachAll(d.store.volumeImage(id)); err != nil {
			return nil, internal("detaching the loop device", err)
		}
	}
	return &csi.NodeUnstageVolumeResponse{}, nil
}

func (d *driver) NodePublishVolume(
	ctx context.Context, req *csi.NodePublishVolumeRequest,
) (*csi.NodePublishVolumeResponse, error) {
	target := req.GetTargetPath()
	v, err := d.nodeRequest(req.GetVolumeId(), target, "target_path", req.GetVolumeCapability())
	if err != nil {
		return nil, err
	}
	staging := req.GetStagingTargetPath()
	if staging == "" {
		return nil, errf(codes.InvalidArgument, "staging_target_path is required (the driver stages volumes)")
	}
	unlock := d.store.lock("v/" + v.ID)
	defer unlock()
	block := req.GetVolumeCapability().GetBlock() != nil
	// Block: the CO makes the parent and the driver the file; Filesystem: the driver makes the directory.
	if block {
		if err := os.MkdirAll(filepath.Dir(target), 0o750); err != nil {
			return nil, internal("making the target's parent", err)
		}
		f, err := os.OpenFile(target, os.O_CREATE|os.O_RDONLY, 0o640)
		if err != nil {
			return nil, internal("making the target file", err)
		}
		_ = f.Close()
	} else if err := os.MkdirAll(target, 0o750); err != nil {
		return nil, internal("making the target directory", err)
	}
	if d.cfg.noIO {
		return &csi.NodePublishVolumeResponse{}, nil
	}
	if mounted, err := isMountPoint(target); err != nil || mounted {
		return &csi.NodePublishVolumeResponse{}, err
	}
	src := staging
	if block {
		devs, err := loopsOf(d.store.volumeImage(v.ID))
		if err != nil {
			return nil, internal("finding the loop device", err)
		}
		if len(devs) == 0 {
			return nil, errf(codes.FailedPrecondition, "volume %q is not staged (no loop device)", v.ID)
		}
		src = devs[0]
	} else if mounted, err := isMountPoint(staging); err != nil || !mounted {
		return nil, errf(codes.FailedPrecondition, "volume %q is not staged at %s", v.ID, staging)
	}
	if err := bindMount(src, target, req.GetReadonly()); err != nil {
		return nil, internal("bind-mounting", err)
	}
	return &csi.NodePublishVolumeResponse{}, nil
}

func (d *driver) NodeUnpublishVolume(
	ctx context.Context, req *csi.NodeUnpublishVolumeRequest,
) (*csi.NodeUnpublishVolumeResponse, error) {
	id, target := req.GetVolumeId(), req.GetTargetPath()
	if id == "" {
		return nil, errf(codes.InvalidArgument, "volume_id is required")
	}
	if target == "" {
		return nil, errf(codes.InvalidArgument, "target_path is required")
	}
	unlock := d.store.lock("v/" + id)
	defer unlock()
	if !d.cfg.noIO {
		if err := unmount(target); err != nil {
			return nil, internal("unmounting the target", err)
		}
	}
	if err := os.Remove(target); err != nil && !os.IsNotExist(err) {
		return nil, internal("removing the target", err)
	}
	return &csi.NodeUnpublishVolumeResponse{}, nil
}
