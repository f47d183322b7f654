// Identity and Controller services: volumes are sparse images sized as asked, snapshots sparse copies of them.
package main

import (
	"context"
	"os"
	"sort"
	"strconv"
	"time"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

type driver struct {
	csi.UnimplementedIdentityServer
	csi.UnimplementedControllerServer
	csi.UnimplementedNodeServer
	cfg   config
	store *store
}

func newDriver(c config) (*driver, error) {
	s, err := openStore(c.stateDir)
	if err != nil {
		return nil, err
	}
	return &driver{cfg: c, store: s}, nil
}

// --- Identity

func (d *driver) GetPluginInfo(context.Context, *csi.GetPluginInfoRequest) (*csi.GetPluginInfoResponse, error) {
	return &csi.GetPluginInfoResponse{Name: d.cfg.driverName, VendorVersion: version}, nil
}

func (d *driver) GetPluginCapabilities(
	context.Context, *csi.GetPluginCapabilitiesRequest,
) (*csi.GetPluginCapabilitiesResponse, error) {
	return &csi.GetPluginCapabilitiesResponse{Capabilities: []*csi.PluginCapability{{
		Type: &csi.PluginCapability_Service_{Service: &csi.PluginCapability_Service{
			Type: csi.PluginCapability_Service_CONTROLLER_SERVICE,
		}},
	}}}, nil
}

func (d *driver) Probe(context.Context, *csi.ProbeRequest) (*csi.ProbeResponse, error) {
	return &csi.ProbeResponse{Ready: wrapperspb.Bool(true)}, nil
}

// --- Controller

var controllerCaps = []csi.ControllerServiceCapability_RPC_Type{
	csi.ControllerServiceCapability_RPC_CREATE_DELETE_VOLUME,
	csi.ControllerServiceCapability_RPC_CREATE_DELETE_SNAPSHOT,
	csi.ControllerServiceCapability_RPC_LIST_SNAPSHOTS,
	csi.ControllerServiceCapability_RPC_CLONE_VOLUME,
}

func (d *driver) ControllerGetCapabilities(
	context.Context, *csi.ControllerGetCapabilitiesRequest,
) (*csi.ControllerGetCapabilitiesResponse, error) {
	caps := make([]*csi.ControllerServiceCapability, 0, len(controllerCaps))
	for _, c := range controllerCaps {
		caps = append(caps, &csi.ControllerServiceCapability{Type: &csi.ControllerServiceCapability_Rpc{
			Rpc: &csi.ControllerServiceCapability_RPC{Type: c},
		}})
	}
	return &csi.ControllerGetCapabilitiesResponse{Capabilities: caps}, nil
}

// Access modes of one node (this driver serves one): several pods on the node may share a volume.
var accessModes = map[csi.VolumeCapability_AccessMode_Mode]bool{
	csi.VolumeCapability_AccessMode_SINGLE_NODE_WRITER:      true,
	csi.VolumeCapability_AccessMode_SINGLE_NODE_READER_ONLY: true,
}

// checkCapability says what is wrong with a capability, or "".
func checkCapability(c *csi.VolumeCapability) string {
	if c == nil {
		return "a volume capability is missing"
	}
	if c.GetAccessMode() == nil || !accessModes[c.GetAccessMode().GetMode()] {
		return "access mode " + c.GetAccessMode().GetMode().String() + " is not supported (single node only)"
	}
	switch t := c.GetAccessType().(type) {
	case *csi.VolumeCapability_Block:
	case *csi.VolumeCapability_Mount:
		if fs := t.Mount.GetFsType(); fs != "" && fs != "ext4" {
			return "fs_type " + fs + " is not supported (ext4 only)"
		}
	default:
		return "an access type (block or mount) is required"
	}
	return ""
}

const mib = 1 << 20

// volumeSize picks the size from a capacity range: the required bytes rounded up to a MiB (or less when the limit
// says so, down to a multiple of 512), else the default, else the limit when that is smaller.
func (d *driver) volumeSize(r *csi.CapacityRange) (int64, error) {
	req, lim := r.GetRequiredBytes(), r.GetLimitBytes()
	if req < 0 || lim < 0 {
		return 0, errf(codes.InvalidArgument, "capacity range has a negative bound")
	}
	if lim > 0 && req > lim {
		return 0, errf(codes.OutOfRange, "required %d bytes exceed the limit of %d", req, lim)
	}
	size := req
	if size == 0 {
		size = d.cfg.defaultSize
	}
	if lim > 0 && size > lim {
		size = lim
	}
	for _, align := range []int64{mib, 512} {
		if up := (size + align - 1) / align * align; lim == 0 || up <= lim {
			return up, nil
		}
	}
	if size < req || size < 512 {
		return 0, errf(codes.OutOfRange, "no size of 512-byte sectors fits between %d and %d bytes", req, lim)
	}
	return size / 512 * 512, nil
}

func (d *driver) CreateVolume(ctx context.Context, req *csi.CreateVolumeRequest) (*csi.CreateVolumeResponse, error) {
	if req.GetName() == "" {
		return nil, errf(codes.InvalidArgument, "name is required")
	}
	if len(req.GetVolumeCapabilities()) == 0 {
		return nil, errf(codes.InvalidArgument, "volume capabilities are required")
	}
	for _, c := range req.GetVolumeCapabilities() {
		if msg := checkCapability(c); msg != "" {
			return nil, errf(codes.InvalidArgument, "%s", msg)
		}
	}
	size, err := d.volumeSize(req.GetCapacityRange())
	if err != nil {
		return nil, err
	}
	srcSnap := req.GetVolumeContentSource().GetSnapshot().GetSnapshotId()
	srcVol := req.GetVolumeContentSource().GetVolume().GetVolumeId()
	id := idFor("vol-", req.GetName())
	unlock := d.store.lock("v/" + id)
	defer unlock()

	if v := d.store.volume(id); v != nil {
		fits := v.Size >= req.GetCapacityRange().GetRequiredBytes() &&
			(req.GetCapacityRange().GetLimitBytes() == 0 || v.Size <= req.GetCapacityRange().GetLimitBytes())
		if !fits || v.SourceSnapshot != srcSnap || v.SourceVolume != srcVol {
			return nil, errf(codes.AlreadyExists, "volume %q exists with another size or source", req.GetName())
		}
		return &csi.CreateVolumeResponse{Volume: d.volumeOf(v)}, nil
	}

	// The source's image, when the volume is made from a snapshot or a volume.
	srcImage := ""
	switch {
	case srcSnap != "":
		unlockSrc := d.store.lock("s/" + srcSnap)
		defer unlockSrc()
		sn := d.store.snapshot(srcSnap)
		if sn == nil {
			return nil, errf(codes.NotFound, "snapshot %q not found", srcSnap)
		}
		if sn.Size > size {
			return nil, errf(codes.OutOfRange, "snapshot %q holds %d bytes, more than %d", srcSnap, sn.Size, size)
		}
		srcImage = d.store.snapshotImage(srcSnap)
	case srcVol != "":
		unlockSrc := d.store.lock("v/" + srcVol)
		defer unlockSrc()
		sv := d.store.volume(srcVol)
		if sv == nil {
			return nil, errf(codes.NotFound, "volume %q not found", srcVol)
		}
		if sv.Size > size {
			return nil, errf(codes.OutOfRange, "volume %q holds %d bytes, more than %d", srcVol, sv.Size, size)
		}
		srcImage = d.store.volumeImage(srcVol)
	case req.GetVolumeContentSource() != nil:
		return nil, errf(codes.InvalidArgument, "content source names neither a snapshot nor a volume")
	}

	v := &volumeRecord{ID: id, Name: req.GetName(), Size: size, SourceSnapshot: srcSnap, SourceVolume: srcVol}
	// The record first: a crash after it leaves an image that a DeleteVolume of the record removes.
	if err := d.store.putVolume(v); err != nil {
		return nil, internal("writing the record", err)
	}
	if !d.cfg.noIO {
		if err := makeImage(d.store.volumeImage(id), srcImage, size); err != nil {
			_ = os.Remove(d.store.volumeImage(id))
			_ = d.store.dropVolume(id)
			return nil, internal("making the image", err)
		}
	}
	return &csi.CreateVolumeResponse{Volume: d.volumeOf(v)}, nil
}

func (d *driver) volumeOf(v *volumeRecord) *csi.Volume {
	out := &csi.Volume{VolumeId: v.ID, CapacityBytes: v.Size}
	if v.SourceSnapshot != "" {
		out.ContentSource = &csi.VolumeContentSource{Type: &csi.VolumeContentSource_Snapshot{
			Snapshot: &csi.VolumeContentSource_SnapshotSource{SnapshotId: v.SourceSnapshot},
		}}
	} else if v.SourceVolume != "" {
		out.ContentSource = &csi.VolumeContentSource{Type: &csi.VolumeContentSource_Volume{
			Volume: &csi.VolumeContentSource_VolumeSource{VolumeId: v.SourceVolume},
		}}
	}
	return out
}

func (d *driver) DeleteVolume(ctx context.Context, req *csi.DeleteVolumeRequest) (*csi.DeleteVolumeResponse, error) {
	id := req.GetVolumeId()
	if id == "" {
		return nil, errf(codes.InvalidArgument, "volume_id is required")
	}
	unlock := d.store.lock("v/" + id)
	defer unlock()
	// Only a volume this driver recorded is removed; any other ID is already gone as far as the CO is concerned.
	if d.store.volume(id) == nil {
		return &csi.DeleteVolumeResponse{}, nil
	}
	if !d.cfg.noIO {
		img := d.store.volumeImage(id)
		if err := detachAll(img); err != nil {
			return nil, internal("detaching its loop devices", err)
		}
		if err := os.Remove(img); err != nil && !os.IsNotExist(err) {
			return nil, internal("removing the image", err)
		}
	}
	if err := d.store.dropVolume(id); err != nil {
		return nil, internal("removing the record", err)
	}
	return &csi.DeleteVolumeResponse{}, nil
}

func (d *driver) ValidateVolumeCapabilities(
	ctx context.Context, req *csi.ValidateVolumeCapabilitiesRequest,
) (*csi.ValidateVolumeCapabilitiesResponse, error) {
	if req.GetVolumeId() == "" {
		return nil, errf(codes.InvalidArgument, "volume_id is required")
	}
	if len(req.GetVolumeCapabilities()) == 0 {
		return nil, errf(codes.InvalidArgument, "volume capabilities are required")
	}
	if d.store.volume(req.GetVolumeId()) == nil {
		return nil, errf(codes.NotFound, "volume %q not found", req.GetVolumeId())
	}
	for _, c := range req.GetVolumeCapabilities() {
		if msg := checkCapability(c); msg != "" {
			return &csi.ValidateVolumeCapabilitiesResponse{Message: msg}, nil
		}
	}
	return &csi.ValidateVolumeCapabilitiesResponse{Confirmed: &csi.ValidateVolumeCapabilitiesResponse_Confirmed{
		VolumeContext:      req.GetVolumeContext(),
		VolumeCapabilities: req.GetVolumeCapabilities(),
		Parameters:         req.GetParameters(),
	}}, nil
}

// --- Snapshots

func (d *driver) snapshotOf(sn *snapshotRecord) *csi.Snapshot {
	return &csi.Snapshot{
		SnapshotId:     sn.ID,
		SourceVolumeId: sn.SourceVolume,
		SizeBytes:      sn.Size,
		CreationTime:   timestamppb.New(time.Unix(0, sn.CreatedNanos)),
		ReadyToUse:     true,
	}
}

func (d *driver) CreateSnapshot(
	ctx context.Context, req *csi.CreateSnapshotRequest,
) (*csi.CreateSnapshotResponse, error) {
	if req.GetName() == "" {
		return nil, errf(codes.InvalidArgument, "name is required")
	}
	src := req.GetSourceVolumeId()
	if src == "" {
		return nil, errf(codes.InvalidArgument, "source_volume_id is required")
	}
	id := idFor("snap-", req.GetName())
	unlock := d.store.lock("s/" + id)
	defer unlock()
	if sn := d.store.snapshot(id); sn != nil {
		if sn.SourceVolume != src {
			return nil, errf(codes.AlreadyExists, "snapshot %q exists for volume %q", req.GetName(), sn.SourceVolume)
		}
		return &csi.CreateSnapshotResponse{Snapshot: d.snapshotOf(sn)}, nil
	}
	unlockSrc := d.store.lock("v/" + src)
	defer unlockSrc()
	v := d.store.volume(src)
	if v == nil {
		return nil, errf(codes.NotFound, "volume %q not found", src)
	}
	sn := &snapshotRecord{ID: id, Name: req.GetName(), SourceVolume: src, Size: v.Size,
		CreatedNanos: time.Now().UnixNano()}
	if err := d.store.putSnapshot(sn); err != nil {
		return nil, internal("writing the record", err)
	}
	if !d.cfg.noIO {
		if err := makeImage(d.store.snapshotImage(id), d.store.volumeImage(src), v.Size); err != nil {
			_ = os.Remove(d.store.snapshotImage(id))
			_ = d.store.dropSnapshot(id)
			return nil, internal("copying the image", err)
		}
	}
	return &csi.CreateSnapshotResponse{Snapshot: d.snapshotOf(sn)}, nil
}

func (d *driver) DeleteSnapshot(
	ctx context.Context, req *csi.DeleteSnapshotRequest,
) (*csi.DeleteSnapshotResponse, error) {
	id := req.GetSnapshotId()
	if id == "" {
		return nil, errf(codes.InvalidArgument, "snapshot_id is required")
	}
	unlock := d.store.lock("s/" + id)
	defer unlock()
	if d.store.snapshot(id) == nil {
		return &csi.DeleteSnapshotResponse{}, nil
	}
	if !d.cfg.noIO {
		if err := os.Remove(d.store.snapshotImage(id)); err != nil && !os.IsNotExist(err) {
			return nil, internal("removing the image", err)
		}
	}
	if err := d.store.dropSnapshot(id); err != nil {
		return nil, internal("removing the record", err)
	}
	return &csi.DeleteSnapshotResponse{}, nil
}

// ListSnapshots pages through the snapshots in creation order; the token is the index of the next entry.
func (d *driver) ListSnapshots(
	ctx context.Context, req *csi.ListSnapshotsRequest,
) (*csi.ListSnapshotsResponse, error) {
	if req.GetMaxEntries() < 0 {
		return nil, errf(codes.InvalidArgument, "max_entries is negative")
	}
	all := d.store.allSnapshots()
	sort.Slice(all, func(i, j int) bool {
		if all[i].CreatedNanos != all[j].CreatedNanos {
			return all[i].CreatedNanos < all[j].CreatedNanos
		}
		return all[i].ID < all[j].ID
	})
	var match []snapshotRecord
	for _, sn := range all {
		if (req.GetSnapshotId() == "" || sn.ID == req.GetSnapshotId()) &&
			(req.GetSourceVolumeId() == "" || sn.SourceVolume == req.GetSourceVolumeId()) {
			match = append(match, sn)
		}
	}
	start := 0
	if t := req.GetStartingToken(); t != "" {
		n, err := strconv.Atoi(t)
		if err != nil || n < 0 || n > len(match) {
			return nil, errf(codes.Aborted, "starting_token %q is not one this driver gave", t)
		}
		start = n
	}
	end := len(match)
	if m := int(req.GetMaxEntries()); m > 0 && start+m < end {
		end = start + m
	}
	resp := &csi.ListSnapshotsResponse{}
	for i := start; i < end; i++ {
		resp.Entries = append(resp.Entries, &csi.ListSnapshotsResponse_Entry{Snapshot: d.snapshotOf(&match[i])})
	}
	if end < len(match) {
		resp.NextToken = strconv.Itoa(end)
	}
	return resp, nil
}
