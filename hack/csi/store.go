// Records of volumes and snapshots: kept in memory, written through to one JSON file each (written to a temporary
// name and renamed, so a crash leaves the old record or the new one), read back at start.
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

type volumeRecord struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Size int64  `json:"size"`
	// SourceSnapshot or SourceVolume when it was made from one (CreateVolume's content source).
	SourceSnapshot string `json:"sourceSnapshot,omitempty"`
	SourceVolume   string `json:"sourceVolume,omitempty"`
}

type snapshotRecord struct {
	ID           string `json:"id"`
	Name         string `json:"name"`
	SourceVolume string `json:"sourceVolume"`
	Size         int64  `json:"size"`
	CreatedNanos int64  `json:"createdNanos"`
}

type store struct {
	dir string
	mu  sync.Mutex
	// The record maps, guarded by mu.
	volumes   map[string]*volumeRecord
	snapshots map[string]*snapshotRecord
	// Per-object locks, so that calls on one volume or snapshot run one at a time and others run meanwhile.
	locks map[string]*keyLock
}

type keyLock struct {
	sync.Mutex
	users int
}

func openStore(dir string) (*store, error) {
	s := &store{
		dir:       dir,
		volumes:   map[string]*volumeRecord{},
		snapshots: map[string]*snapshotRecord{},
		locks:     map[string]*keyLock{},
	}
	for _, kind := range []string{"volumes", "snapshots"} {
		if err := os.MkdirAll(filepath.Join(dir, kind), 0o750); err != nil {
			return nil, err
		}
		files, err := filepath.Glob(filepath.Join(dir, kind, "*.json"))
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				return nil, err
			}
			if kind == "volumes" {
				var v volumeRecord
				if err := json.Unmarshal(b, &v); err != nil {
					return nil, fmt.Errorf("%s: %w", f, err)
				}
				s.volumes[v.ID] = &v
			} else {
				var sn snapshotRecord
				if err := json.Unmarshal(b, &sn); err != nil {
					return nil, fmt.Errorf("%s: %w", f, err)
				}
				s.snapshots[sn.ID] = &sn
			}
		}
	}
	return s, nil
}

// lock serialises calls on one key ("v/<id>" or "s/<id>"); the returned function unlocks.
func (s *store) lock(key string) func() {
	s.mu.Lock()
	l := s.locks[key]
	if l == nil {
		l = &keyLock{}
		s.locks[key] = l
	}
	l.users++
	s.mu.Unlock()
	l.Lock()
	return func() {
		l.Unlock()
		s.mu.Lock()
		l.users--
		if l.users == 0 {
			delete(s.locks, key)
		}
		s.mu.Unlock()
	}
}

// idFor derives an object's ID from its name, so a repeated create finds the same record.
func idFor(prefix, name string) string {
	h := sha256.Sum256([]byte(name))
	return prefix + hex.EncodeToString(h[:10])
}

func validID(id string) bool {
	return id != "" && !strings.ContainsAny(id, "/\\.") && len(id) < 128
}

func (s *store) path(kind, id, ext string) string { return filepath.Join(s.dir, kind, id+ext) }

func (s *store) volumeImage(id string) string   { return s.path("volumes", id, ".img") }
func (s *store) snapshotImage(id string) string { return s.path("snapshots", id, ".img") }

func writeJSON(file string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	tmp := file + ".tmp"
	if err := os.WriteFile(tmp, b, 0o640); err != nil {
		return err
	}
	return os.Rename(tmp, file)
}

func (s *store) volume(id string) *volumeRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.volumes[id]
}

func (s *store) snapshot(id string) *snapshotRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.snapshots[id]
}

func (s *store) putVolume(v *volumeRecord) error {
	if err := writeJSON(s.path("volumes", v.ID, ".json"), v); err != nil {
		return err
	}
	s.mu.Lock()
	s.volumes[v.ID] = v
	s.mu.Unlock()
	return nil
}

func (s *store) putSnapshot(sn *snapshotRecord) error {
	if err := writeJSON(s.path("snapshots", sn.ID, ".json"), sn); err != nil {
		return err
	}
	s.mu.Lock()
	s.snapshots[sn.ID] = sn
	s.mu.Unlock()
	return nil
}

func (s *store) dropVolume(id string) error {
	if err := os.Remove(s.path("volumes", id, ".json")); err != nil && !os.IsNotExist(err) {
		return err
	}
	s.mu.Lock()
	delete(s.volumes, id)
	s.mu.Unlock()
	return nil
}

func (s *store) dropSnapshot(id string) error {
	if err := os.Remove(s.path("snapshots", id, ".json")); err != nil && !os.IsNotExist(err) {
		return err
	}
	s.mu.Lock()
	delete(s.snapshots, id)
	s.mu.Unlock()
	return nil
}

// allSnapshots is a copy of the snapshot records, for ListSnapshots.
func (s *store) allSnapshots() []snapshotRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]snapshotRecord, 0, len(s.snapshots))
	for _, sn := range s.snapshots {
		out = append(out, *sn)
	}
	return out
}
