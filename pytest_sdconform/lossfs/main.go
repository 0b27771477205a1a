// Command sdconform-lossfs mounts a passthrough view of a folder that can forget what was never
// fsynced, as a machine losing power does.
//
// Usage: sdconform-lossfs BACKING MOUNTPOINT
//
// It prints "ready" once the mount serves, then reads commands on stdin, one a line, and answers
// each with one line of JSON on stdout:
//
//	cut all          roll back every unsynced change of every file
//	cut prefix SEED  per file, keep the first k of its n unsynced changes, k drawn in 0..n
//	cut torn SEED    per file, draw a 512-byte sector boundary inside one of its unsynced
//	                 writes: the writes before that one are kept, it is kept up to the
//	                 boundary, the later ones are undone (no boundary: undo the last change)
//	sync             forget every undo log: all written so far is durable
//	stats            what is unsynced now
//
// Replies: {"ok":true,"files":F,"writes":W,"bytes":B} (cut torn adds "torn": files torn), or
// {"ok":false,"error":"..."}. For a cut: F files rolled back, W changes undone (wholly or torn),
// B bytes they covered (bytes written, cut off or added by a truncate, the fallocate range).
// For sync: what was forgotten; for stats: what is pending. Seeds draw from math/rand, files in
// the sorted order of their paths in the mount, so a seed reproduces a cut of the same state.
// EOF on stdin, SIGTERM, SIGINT or SIGHUP unmount and exit 0; a busy mount is retried, then
// detached lazily (said on stderr).
//
// Semantics:
//   - Data changes reach the backing file at once; reads are pure passthrough. Before each, the
//     file's undo log (one per inode: renames and hard links keep it) records how to undo it:
//     the size before, and the bytes it overwrites within that size (an append records none).
//   - Writes are the FUSE writes the kernel sends: it may split one write(2), ending a request
//     at a partly written page it has not cached, and prefix and torn cuts count those pieces.
//     Writes record their range. Truncates (truncate, ftruncate, O_TRUNC) record the bytes cut
//     off. Fallocate records the size, and the bytes changed within it for punch hole, zero,
//     collapse and insert range. copy_file_range is refused (ENOSYS) and ioctls (FICLONE...)
//     too, so copies go through read and write.
//   - Undo applies a file's records newest first: set the old size, put the old bytes back.
//   - fsync, fdatasync and msync (FUSE fsync of any handle of the file) forget the records
//     that existed when they began. A write through a handle opened O_SYNC or O_DSYNC forgets
//     the file's log after it.
//   - Metadata (create, mkdir, rename, unlink, link, symlink, chmod, chown) is durable at once,
//     as on a journaling filesystem committing metadata in order: a file created and written
//     but never fsynced survives a cut empty; a renamed unsynced file keeps its new name.
//     Unlinking a file's last name (or renaming over it) drops its log.
//   - Shared writable mmaps reach us as writes when the kernel writes the pages back (at msync,
//     close or under memory pressure), msync as fsync. Pages still dirty in the kernel when a
//     cut happens are not ours to undo: stop the writers (kill the node) before cutting.
//   - A cut leaves every log empty (what survived is on "disk") and has the kernel drop its
//     cached pages and attributes of each file rolled back. A cut excludes every recorded
//     change while it runs.
//   - The mount: allow_other when root, default_permissions, no writeback cache, no
//     FOPEN_KEEP_CACHE (each open drops the kernel's cached pages), no FUSE passthrough, no
//     extended attributes (else the kernel asks for security.capability before every write).
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: sdconform-lossfs BACKING MOUNTPOINT")
		os.Exit(2)
	}
	backing, err := filepath.Abs(os.Args[1])
	if err == nil {
		var mnt string
		if mnt, err = filepath.Abs(os.Args[2]); err == nil {
			err = run(backing, mnt)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "sdconform-lossfs:", err)
		os.Exit(1)
	}
}

func run(backing, mnt string) error {
	s := newLossFS(backing)
	ops, err := fs.NewLoopbackRoot(backing)
	if err != nil {
		return err
	}
	lb := ops.(*fs.LoopbackNode)
	root := &node{LoopbackNode: lb, s: s}
	lb.RootData.RootNode = root
	root1 := os.Geteuid() == 0
	second := time.Second
	opts := &fs.Options{
		EntryTimeout: &second,
		AttrTimeout:  &second,
		MountOptions: fuse.MountOptions{
			FsName:               "sdconform-lossfs",
			Name:                 "lossfs",
			AllowOther:           root1,
			Options:              []string{"default_permissions"},
			DirectMount:          root1, // else fusermount
			MaxWrite:             1 << 20,
			DisabledCapabilities: fuse.CAP_PASSTHROUGH,
			DisableXAttrs:        true,
		},
	}
	// A harness that dies closes our stdout: writing to it must fail, not kill us unmounted.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)

	server, err := fs.Mount(mnt, root, opts)
	if err != nil {
		return err
	}
	os.Stdout.WriteString("ready\n")

	lines := make(chan string)
	go func() {
		in := bufio.NewScanner(os.Stdin)
		in.Buffer(make([]byte, 64*1024), 1<<20)
		for in.Scan() {
			lines <- in.Text()
		}
		close(lines)
	}()
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				unmount(server, mnt)
				return nil
			}
			out, _ := json.Marshal(command(s, line))
			os.Stdout.Write(append(out, '\n'))
		case <-stop:
			unmount(server, mnt)
			return nil
		}
	}
}

type reply struct {
	OK     bool   `json:"ok"`
	Files  *int   `json:"files,omitempty"`
	Writes *int   `json:"writes,omitempty"`
	Bytes  *int64 `json:"bytes,omitempty"`
	Torn   *int   `json:"torn,omitempty"`
	Error  string `json:"error,omitempty"`
}

func failed(format string, args ...any) reply {
	return reply{Error: fmt.Sprintf(format, args...)}
}

func counted(t totals) reply {
	r := reply{OK: len(t.errs) == 0, Files: &t.files, Writes: &t.writes, Bytes: &t.bytes}
	if len(t.errs) > 0 {
		r.Error = "undo failed: " + strings.Join(t.errs, "; ")
	}
	return r
}

func command(s *lossFS, line string) reply {
	words := strings.Fields(line)
	switch {
	case len(words) == 1 && words[0] == "sync":
		return counted(s.syncAll())
	case len(words) == 1 && words[0] == "stats":
		return counted(s.stats())
	case len(words) == 2 && words[0] == "cut" && words[1] == "all":
		return counted(s.cut(cutAll, nil))
	case len(words) == 3 && words[0] == "cut" && (words[1] == "prefix" || words[1] == "torn"):
		seed, err := strconv.ParseInt(words[2], 10, 64)
		if err != nil {
			return failed("bad seed %q: want an integer", words[2])
		}
		mode := cutPrefix
		if words[1] == "torn" {
			mode = cutTorn
		}
		t := s.cut(mode, rand.New(rand.NewSource(seed)))
		r := counted(t)
		if mode == cutTorn {
			r.Torn = &t.torn
		}
		return r
	}
	return failed("unknown command %q: want cut all | cut prefix SEED | cut torn SEED | sync | stats", line)
}

// unmount retries a busy mount a few times, then detaches it lazily: it goes away once its
// last user does, and every request then fails, as we are gone.
func unmount(server *fuse.Server, mnt string) {
	var err error
	for try := 0; try < 4; try++ {
		if err = server.Unmount(); err == nil {
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
	if os.Geteuid() == 0 {
		err = unix.Unmount(mnt, unix.MNT_DETACH)
	} else {
		err = exec.Command("fusermount3", "-u", "-z", mnt).Run()
		if err != nil {
			err = exec.Command("fusermount", "-u", "-z", mnt).Run()
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "sdconform-lossfs: cannot unmount %s: %v\n", mnt, err)
		return
	}
	fmt.Fprintf(os.Stderr, "sdconform-lossfs: %s was busy, detached it lazily\n", mnt)
}
