// Images, loop devices and mounts, with util-linux's losetup, blkid and mount and e2fsprogs' mkfs.ext4.
package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// makeImage writes a sparse image of size bytes at path, holding src's bytes when src is not "": blocks of zeros
// are left as holes, so a copy costs what the source holds.
func makeImage(path, src string, size int64) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o640)
	if err != nil {
		return err
	}
	defer func() { _ = os.Remove(tmp) }()
	if src != "" {
		if err := sparseCopy(f, src); err != nil {
			_ = f.Close()
			return err
		}
	}
	if err := f.Truncate(size); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func sparseCopy(dst *os.File, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer func() { _ = in.Close() }()
	buf := make([]byte, mib)
	zero := make([]byte, mib)
	var off int64
	for {
		n, err := io.ReadFull(in, buf)
		if n > 0 && !bytes.Equal(buf[:n], zero[:n]) {
			if _, werr := dst.WriteAt(buf[:n], off); werr != nil {
				return werr
			}
		}
		off += int64(n)
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func command(name string, args ...string) (string, error) {
	var out, stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err,
			strings.TrimSpace(stderr.String()))
	}
	return out.String(), nil
}

// loopsOf lists the loop devices attached to an image (by its inode, as losetup -j matches).
func loopsOf(image string) ([]string, error) {
	out, err := command("losetup", "--noheadings", "--output", "NAME", "--associated", image)
	if err != nil {
		return nil, err
	}
	return strings.Fields(out), nil
}

// attach returns the image's loop device, attaching one when none is.
func attach(image string) (string, error) {
	devs, err := loopsOf(image)
	if err != nil {
		return "", err
	}
	if len(devs) > 0 {
		return devs[0], nil
	}
	out, err := command("losetup", "--find", "--show", image)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(out), nil
}

// detachAll detaches every loop device of the image; one still open (mounted) is freed by the kernel on its last
// close (losetup -d sets autoclear on a busy device).
func detachAll(image string) error {
	if _, err := os.Stat(image); os.IsNotExist(err) {
		return nil
	}
	devs, err := loopsOf(image)
	if err != nil {
		return err
	}
	for _, dev := range devs {
		if _, err := command("losetup", "--detach", dev); err != nil {
			return err
		}
	}
	return nil
}

// fsType is the filesystem a device holds: "" when it is blank (no signature at all); an error when it holds
// something that is not a filesystem (a partition table, say).
func fsType(dev string) (string, error) {
	cmd := exec.Command("blkid", "--probe", "--output", "export", dev)
	out, err := cmd.Output()
	var exit *exec.ExitError
	if errors.As(err, &exit) && exit.ExitCode() == 2 {
		return "", nil // blkid: nothing found
	}
	if err != nil {
		return "", fmt.Errorf("blkid %s: %w", dev, err)
	}
	fields := map[string]string{}
	for _, l := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			fields[k] = v
		}
	}
	if fields["TYPE"] != "" && fields["USAGE"] == "filesystem" {
		return fields["TYPE"], nil
	}
	return "", fmt.Errorf("%s holds data that is not a filesystem (%s)", dev, strings.Join(strings.Fields(string(out)),
		" "))
}

// mountPoints is the set of this mount namespace's mount points.
func mountPoints() (map[string]bool, error) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) > 4 {
			out[unescapeMount(f[4])] = true
		}
	}
	return out, nil
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space, ...).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var c int
			if _, err := fmt.Sscanf(s[i+1:i+4], "%03o", &c); err == nil {
				b.WriteByte(byte(c))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isMountPoint(path string) (bool, error) {
	m, err := mountPoints()
	if err != nil {
		return false, err
	}
	return m[filepath.Clean(path)], nil
}

// unmount removes every mount stacked on path (a repeated publish may have stacked more than one).
func unmount(path string) error {
	for i := 0; i < 8; i++ {
		mounted, err := isMountPoint(path)
		if err != nil || !mounted {
			return err
		}
		if _, err := command("umount", path); err != nil {
			return err
		}
	}
	return fmt.Errorf("%s is still mounted after 8 unmounts", path)
}

// bindMount binds src onto target, read-only when asked (a bind mount takes its flags from a remount).
func bindMount(src, target string, readOnly bool) error {
	if _, err := command("mount", "--bind", src, target); err != nil {
		return err
	}
	if readOnly {
		if _, err := command("mount", "-o", "remount,bind,ro", target); err != nil {
			_, _ = command("umount", target)
			return err
		}
	}
	return nil
}
