package main

// The FUSE side: go-fuse's loopback node and file, wrapped so that every change of a regular
// file's data is recorded in that file's undo log before it reaches the backing file.

import (
	"context"
	"fmt"
	"math/rand"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

// fdFile is a backing file reached through a descriptor of our own.
type fdFile int

func (f fdFile) ReadAt(p []byte, off int64) (int, error) {
	done := 0
	for done < len(p) {
		n, err := unix.Pread(int(f), p[done:], off+int64(done))
		if err != nil {
			return done, err
		}
		if n == 0 {
			break // past the end: the caller asked within the old size, the rest reads as zeros
		}
		done += n
	}
	return len(p), nil
}

func (f fdFile) WriteAt(p []byte, off int64) (int, error) {
	done := 0
	for done < len(p) {
		n, err := unix.Pwrite(int(f), p[done:], off+int64(done))
		if err != nil {
			return done, err
		}
		done += n
	}
	return done, nil
}

func (f fdFile) Truncate(size int64) error { return unix.Ftruncate(int(f), size) }

func (f fdFile) size() (int64, error) {
	var st unix.Stat_t
	if err := unix.Fstat(int(f), &st); err != nil {
		return 0, err
	}
	return st.Size, nil
}

// fileLog is the undo log of one inode (keyed by its FUSE inode number, so renames and hard
// links share it) with a read-write descriptor of our own to read pre-images and undo with.
type fileLog struct {
	key   uint64
	inode atomic.Pointer[fs.Inode] // the kernel's current inode, told of rolled-back content
	pins  int                      // open writable handles and operations in flight (lossFS.mu)

	mu  sync.Mutex // guards fd and the log; taken after lossFS.mu when both are
	fd  int        // -1 until the first record
	log undoLog
}

func (l *fileLog) file() fdFile { return fdFile(l.fd) }

// openFrom gives the log its own descriptor, reopened read-write from a handle's (which may
// be write-only or O_DIRECT), or failing that a duplicate of it.
func (l *fileLog) openFrom(handleFd int) error {
	if l.fd >= 0 {
		return nil
	}
	fd, err := unix.Open(fmt.Sprintf("/proc/self/fd/%d", handleFd), unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		fd, err = unix.FcntlInt(uintptr(handleFd), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			return err
		}
	}
	l.fd = fd
	return nil
}

func (l *fileLog) openPath(path string) error {
	if l.fd >= 0 {
		return nil
	}
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	if err != nil {
		return err
	}
	l.fd = fd
	return nil
}

func (l *fileLog) closeFd() {
	if l.fd >= 0 {
		unix.Close(l.fd)
		l.fd = -1
	}
}

// lossFS holds every file's undo log. cutMu is shared by each recorded change and fsync and
// taken alone by a cut or sync, so nothing changes a file while it is rolled back.
type lossFS struct {
	backing string
	cutMu   sync.RWMutex

	mu    sync.Mutex
	logs  map[uint64]*fileLog
	count atomic.Int64 // len(logs), read without mu on lookups
}

func newLossFS(backing string) *lossFS {
	return &lossFS{backing: backing, logs: map[uint64]*fileLog{}}
}

// pin finds or makes the inode's log and keeps it (and its descriptor) until unpin.
func (s *lossFS) pin(in *fs.Inode) *fileLog {
	key := in.StableAttr().Ino
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.logs[key]
	if l == nil {
		l = &fileLog{key: key, fd: -1}
		s.logs[key] = l
		s.count.Store(int64(len(s.logs)))
	}
	l.inode.Store(in)
	l.pins++
	return l
}

// unpin lets go of a log; unpinned, it is removed once empty. gone: the file has no name left,
// its content can never be seen again, so its log is dropped.
func (s *lossFS) unpin(l *fileLog, gone bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l.pins--
	l.mu.Lock()
	defer l.mu.Unlock()
	if gone {
		l.log.forget()
	}
	s.removeIfIdle(l)
}

// removeIfIdle: callers hold s.mu and l.mu.
func (s *lossFS) removeIfIdle(l *fileLog) {
	if l.pins == 0 && len(l.log.recs) == 0 {
		l.closeFd()
		if s.logs[l.key] == l {
			delete(s.logs, l.key)
			s.count.Store(int64(len(s.logs)))
		}
	}
}

func (s *lossFS) find(key uint64) *fileLog {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logs[key]
}

// drop forgets a file's log: its last name is gone (unlink, rename over it).
func (s *lossFS) drop(key uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if l := s.logs[key]; l != nil {
		l.mu.Lock()
		l.log.forget()
		s.removeIfIdle(l)
		l.mu.Unlock()
	}
}

// refresh points a log at the kernel's current inode for its file (after a forget and a new
// lookup the kernel caches under a new inode).
func (s *lossFS) refresh(in *fs.Inode) {
	if s.count.Load() == 0 {
		return
	}
	if l := s.find(in.StableAttr().Ino); l != nil {
		l.inode.Store(in)
	}
}

type totals struct {
	files  int
	writes int
	bytes  int64
	torn   int
	errs   []string
}

// snapshot lists the logs that have records, in path order (then inode number) so a seeded
// cut draws the same numbers for the same files. Callers hold cutMu exclusively.
func (s *lossFS) snapshot() []*fileLog {
	s.mu.Lock()
	all := make([]*fileLog, 0, len(s.logs))
	for _, l := range s.logs {
		all = append(all, l)
	}
	s.mu.Unlock()
	type entry struct {
		path string
		l    *fileLog
	}
	var out []entry
	for _, l := range all {
		l.mu.Lock()
		n := len(l.log.recs)
		l.mu.Unlock()
		if n == 0 {
			continue
		}
		path := ""
		if in := l.inode.Load(); in != nil {
			path = in.Path(nil)
		}
		out = append(out, entry{path, l})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].path != out[j].path {
			return out[i].path < out[j].path
		}
		return out[i].l.key < out[j].l.key
	})
	logs := make([]*fileLog, len(out))
	for i, e := range out {
		logs[i] = e.l
	}
	return logs
}

// sweep removes the logs that are now empty and unpinned. Callers hold cutMu exclusively.
func (s *lossFS) sweep() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range s.logs {
		l.mu.Lock()
		s.removeIfIdle(l)
		l.mu.Unlock()
	}
}

// cut rolls back unsynced changes (see cutMode), then has the kernel drop its cached pages and
// attributes of every file rolled back (after letting go of cutMu: dropping a dirty page may
// make the kernel write it to us).
func (s *lossFS) cut(mode cutMode, rng *rand.Rand) totals {
	var t totals
	var touched []*fs.Inode
	s.cutMu.Lock()
	for _, l := range s.snapshot() {
		l.mu.Lock()
		res, err := l.log.cut(l.file(), mode, rng)
		l.mu.Unlock()
		if err != nil {
			t.errs = append(t.errs, fmt.Sprintf("inode %d: %v", l.key, err))
		}
		if res.writes > 0 {
			t.files++
			t.writes += res.writes
			t.bytes += res.bytes
			if res.torn {
				t.torn++
			}
			if in := l.inode.Load(); in != nil {
				touched = append(touched, in)
			}
		}
	}
	s.sweep()
	s.cutMu.Unlock()
	for _, in := range touched {
		in.NotifyContent(0, 0) // ENOENT when the kernel has forgotten it: nothing cached then
	}
	return t
}

// syncAll forgets every log (all writes so far count as durable), reporting what it forgot.
func (s *lossFS) syncAll() totals { return s.tally(true) }

// stats reports what is written but not durable now.
func (s *lossFS) stats() totals { return s.tally(false) }

// tally counts the unsynced writes of every file, and forgets them too when asked.
func (s *lossFS) tally(forget bool) totals {
	var t totals
	s.cutMu.Lock()
	defer s.cutMu.Unlock()
	for _, l := range s.snapshot() {
		l.mu.Lock()
		w, b := l.log.totals()
		if forget {
			l.log.forget()
		}
		l.mu.Unlock()
		t.files++
		t.writes += w
		t.bytes += b
	}
	if forget {
		s.sweep()
	}
	return t
}

// node is a loopback node whose regular files keep undo logs.
type node struct {
	*fs.LoopbackNode
	s *lossFS
}

var (
	_ fs.NodeWrapChilder     = (*node)(nil)
	_ fs.NodeLookuper        = (*node)(nil)
	_ fs.NodeOpener          = (*node)(nil)
	_ fs.NodeCreater         = (*node)(nil)
	_ fs.NodeTmpfiler        = (*node)(nil)
	_ fs.NodeSetattrer       = (*node)(nil)
	_ fs.NodeUnlinker        = (*node)(nil)
	_ fs.NodeRenamer         = (*node)(nil)
	_ fs.NodeCopyFileRanger  = (*node)(nil)
	_ fs.FileWriter          = (*handle)(nil)
	_ fs.FileWritever        = (*handle)(nil)
	_ fs.FileFsyncer         = (*handle)(nil)
	_ fs.FileAllocater       = (*handle)(nil)
	_ fs.FileReleaser        = (*handle)(nil)
	_ fs.FilePassthroughFder = (*handle)(nil)
	_ fs.FileIoctler         = (*handle)(nil)
)

func (n *node) WrapChild(ctx context.Context, ops fs.InodeEmbedder) fs.InodeEmbedder {
	return &node{LoopbackNode: ops.(*fs.LoopbackNode), s: n.s}
}

func (n *node) backingPath(name string) string {
	return filepath.Join(n.RootData.Path, n.Path(nil), name)
}

func isRegular(in *fs.Inode) bool { return in.StableAttr().Mode&syscall.S_IFMT == syscall.S_IFREG }

func (n *node) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	ch, errno := n.LoopbackNode.Lookup(ctx, name, out)
	if errno == 0 {
		n.s.refresh(ch)
	}
	return ch, errno
}

// wrap puts our handle around a loopback file; writable handles pin the inode's log.
func (n *node) wrap(in *fs.Inode, fh fs.FileHandle, flags uint32) (*handle, syscall.Errno) {
	lf, ok := fh.(*fs.LoopbackFile)
	if !ok {
		fh.(fs.FileReleaser).Release(context.Background())
		return nil, syscall.EIO
	}
	fd, _ := lf.PassthroughFd() // only its number: the kernel never gets it (see handle)
	h := &handle{LoopbackFile: lf, s: n.s, inode: in, fd: fd, sync: flags&unix.O_DSYNC != 0}
	if flags&unix.O_ACCMODE != unix.O_RDONLY && isRegular(in) {
		h.log = n.s.pin(in)
	}
	return h, 0
}

// Open passes O_TRUNC on as a recorded truncate. No FOPEN_KEEP_CACHE: the kernel drops its
// cached pages of the file on each open.
func (n *node) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	fh, fuseFlags, errno := n.LoopbackNode.Open(ctx, flags&^unix.O_TRUNC)
	if errno != 0 {
		return nil, 0, errno
	}
	h, errno := n.wrap(n.EmbeddedInode(), fh, flags)
	if errno != 0 {
		return nil, 0, errno
	}
	if flags&unix.O_TRUNC != 0 && h.log != nil {
		if errno := h.truncate(0); errno != 0 {
			h.Release(ctx)
			return nil, 0, errno
		}
	}
	return h, fuseFlags &^ fuse.FOPEN_KEEP_CACHE, 0
}

func (n *node) Create(ctx context.Context, name string, flags uint32, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	ch, fh, fuseFlags, errno := n.LoopbackNode.Create(ctx, name, flags&^unix.O_TRUNC, mode, out)
	if errno != 0 {
		return nil, nil, 0, errno
	}
	h, errno := n.wrap(ch, fh, flags)
	if errno != 0 {
		return nil, nil, 0, errno
	}
	if flags&unix.O_TRUNC != 0 && h.log != nil && out.Size > 0 { // an existing file, raced in
		if errno := h.truncate(0); errno != 0 {
			h.Release(ctx)
			return nil, nil, 0, errno
		}
		out.Size = 0
	}
	return ch, h, fuseFlags &^ fuse.FOPEN_KEEP_CACHE, 0
}

func (n *node) Tmpfile(ctx context.Context, flags uint32, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	ch, fh, fuseFlags, errno := n.LoopbackNode.Tmpfile(ctx, flags, mode, out)
	if errno != 0 {
		return nil, nil, 0, errno
	}
	h, errno := n.wrap(ch, fh, flags)
	if errno != 0 {
		return nil, nil, 0, errno
	}
	return ch, h, fuseFlags &^ fuse.FOPEN_KEEP_CACHE, 0
}

// Setattr records a size change (truncate, ftruncate, open with O_TRUNC) before making it.
func (n *node) Setattr(ctx context.Context, f fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	size, ok := in.GetSize()
	if !ok || !isRegular(n.EmbeddedInode()) {
		return n.LoopbackNode.Setattr(ctx, f, in, out)
	}
	n.s.cutMu.RLock()
	defer n.s.cutMu.RUnlock()
	h, _ := f.(*handle)
	var l *fileLog
	if h != nil && h.log != nil {
		l = h.log
	} else {
		l = n.s.pin(n.EmbeddedInode())
		defer n.s.unpin(l, false)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	var err error
	if h != nil {
		err = l.openFrom(h.fd)
	} else {
		err = l.openPath(n.backingPath(""))
	}
	if err != nil {
		return fs.ToErrno(err)
	}
	rec, errno := l.truncateRecord(int64(size))
	if errno != 0 {
		return errno
	}
	errno = n.LoopbackNode.Setattr(ctx, f, in, out)
	if now, err := l.file().size(); err == nil && now != rec.oldSize {
		l.log.add(rec) // recorded whenever the size changed, even if a later attribute failed
	}
	return errno
}

// truncateRecord: how to undo setting the size to size (the bytes cut off, if shrinking).
// Callers hold l.mu and l.fd is open.
func (l *fileLog) truncateRecord(size int64) (record, syscall.Errno) {
	old, err := l.file().size()
	if err != nil {
		return record{}, fs.ToErrno(err)
	}
	rec := record{kind: kindTruncate, off: size, n: old - size, oldSize: old}
	if size < old {
		if rec.pre, err = preImage(l.file(), old, size, old); err != nil {
			return record{}, fs.ToErrno(err)
		}
	} else {
		rec.n = size - old
	}
	return rec, 0
}

func (n *node) Unlink(ctx context.Context, name string) syscall.Errno {
	ch := n.GetChild(name)
	last := false
	var st unix.Stat_t
	if ch != nil && unix.Lstat(n.backingPath(name), &st) == nil {
		last = st.Mode&unix.S_IFMT == unix.S_IFREG && st.Nlink <= 1
	}
	errno := n.LoopbackNode.Unlink(ctx, name)
	if errno == 0 && last {
		n.s.drop(ch.StableAttr().Ino)
	}
	return errno
}

// Rename: a rename over the last name of another file drops that file's log.
func (n *node) Rename(ctx context.Context, name string, newParent fs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	var victim *fs.Inode
	if flags&unix.RENAME_EXCHANGE == 0 {
		if p, ok := newParent.(*node); ok {
			victim = p.GetChild(newName)
			var st unix.Stat_t
			if victim == nil || victim == n.GetChild(name) ||
				unix.Lstat(p.backingPath(newName), &st) != nil ||
				st.Mode&unix.S_IFMT != unix.S_IFREG || st.Nlink > 1 {
				victim = nil
			}
		}
	}
	errno := n.LoopbackNode.Rename(ctx, name, newParent, newName, flags)
	if errno == 0 && victim != nil {
		n.s.drop(victim.StableAttr().Ino)
	}
	return errno
}

// CopyFileRange is refused so that the kernel copies through read and write, which we record.
func (n *node) CopyFileRange(ctx context.Context, fhIn fs.FileHandle, offIn uint64, out *fs.Inode,
	fhOut fs.FileHandle, offOut uint64, length uint64, flags uint64) (uint32, syscall.Errno) {
	return 0, syscall.ENOSYS
}

// handle is a loopback file whose writes, fallocates and fsyncs go through the inode's log.
type handle struct {
	*fs.LoopbackFile
	s     *lossFS
	inode *fs.Inode
	fd    int
	sync  bool     // opened O_SYNC or O_DSYNC: each write is durable at once
	log   *fileLog // nil for read-only handles
}

// PassthroughFd: never let the kernel write to the backing file behind our back.
func (h *handle) PassthroughFd() (int, bool) { return -1, false }

// Ioctl is refused: FICLONE and friends would change content unrecorded.
func (h *handle) Ioctl(ctx context.Context, cmd uint32, arg uint64, input []byte, output []byte) (int32, syscall.Errno) {
	return 0, syscall.ENOTTY
}

func (h *handle) Write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	l := h.log
	if l == nil { // not a regular file (a fifo, a device): nothing to undo
		return h.LoopbackFile.Write(ctx, data, off)
	}
	h.s.cutMu.RLock()
	defer h.s.cutMu.RUnlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.openFrom(h.fd); err != nil {
		return 0, fs.ToErrno(err)
	}
	old, err := l.file().size()
	if err != nil {
		return 0, fs.ToErrno(err)
	}
	pre, err := preImage(l.file(), old, off, off+int64(len(data)))
	if err != nil {
		return 0, fs.ToErrno(err)
	}
	n, err := unix.Pwrite(h.fd, data, off)
	if n > 0 {
		if int64(len(pre)) > int64(n) {
			pre = pre[:n]
		}
		l.log.add(record{kind: kindWrite, off: off, n: int64(n), oldSize: old, pre: pre})
	}
	if err != nil {
		return uint32(max(n, 0)), fs.ToErrno(err)
	}
	if h.sync {
		l.log.forget()
	}
	return uint32(n), 0
}

func (h *handle) Writev(ctx context.Context, data [][]byte, off int64) (uint32, syscall.Errno) {
	var buf []byte
	for _, d := range data {
		buf = append(buf, d...)
	}
	return h.Write(ctx, buf, off)
}

// fsyncDatasync is bit 0 of FUSE_FSYNC's flags: fdatasync rather than fsync.
const fsyncDatasync = 1

// Fsync (fsync, fdatasync, msync) forgets the records that existed when it began.
func (h *handle) Fsync(ctx context.Context, flags uint32) syscall.Errno {
	h.s.cutMu.RLock()
	defer h.s.cutMu.RUnlock()
	l := h.log
	if l == nil && isRegular(h.inode) {
		l = h.s.find(h.inode.StableAttr().Ino) // fsync through a read-only descriptor
	}
	var mark uint64
	if l != nil {
		l.mu.Lock()
		mark = l.log.mark()
		l.mu.Unlock()
	}
	var err error
	if flags&fsyncDatasync != 0 {
		err = unix.Fdatasync(h.fd)
	} else {
		err = unix.Fsync(h.fd)
	}
	if err != nil {
		return fs.ToErrno(err)
	}
	if l != nil {
		l.mu.Lock()
		l.log.forgetBefore(mark)
		l.mu.Unlock()
	}
	return 0
}

// truncate sets the size through this handle, recorded (open with O_TRUNC).
func (h *handle) truncate(size int64) syscall.Errno {
	l := h.log
	h.s.cutMu.RLock()
	defer h.s.cutMu.RUnlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.openFrom(h.fd); err != nil {
		return fs.ToErrno(err)
	}
	rec, errno := l.truncateRecord(size)
	if errno != 0 || rec.oldSize == size {
		return errno
	}
	if err := unix.Ftruncate(h.fd, size); err != nil {
		return fs.ToErrno(err)
	}
	l.log.add(rec)
	return 0
}

// Allocate records the old size, and for modes that change content (punch hole, zero,
// collapse, insert range) the bytes they change within it.
func (h *handle) Allocate(ctx context.Context, off uint64, size uint64, mode uint32) syscall.Errno {
	l := h.log
	if l == nil {
		return h.LoopbackFile.Allocate(ctx, off, size, mode)
	}
	h.s.cutMu.RLock()
	defer h.s.cutMu.RUnlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.openFrom(h.fd); err != nil {
		return fs.ToErrno(err)
	}
	old, err := l.file().size()
	if err != nil {
		return fs.ToErrno(err)
	}
	rec := record{kind: kindAllocate, off: int64(off), n: int64(size), oldSize: old}
	switch {
	case mode&(unix.FALLOC_FL_COLLAPSE_RANGE|unix.FALLOC_FL_INSERT_RANGE) != 0:
		rec.pre, err = preImage(l.file(), old, int64(off), old) // shifts everything after off
	case mode&(unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_ZERO_RANGE) != 0:
		rec.pre, err = preImage(l.file(), old, int64(off), int64(off+size))
	}
	if err != nil {
		return fs.ToErrno(err)
	}
	errno := h.LoopbackFile.Allocate(ctx, off, size, mode)
	if errno == 0 {
		l.log.add(rec)
	}
	return errno
}

// Release lets go of the log; a file released with no name left has its log dropped.
func (h *handle) Release(ctx context.Context) syscall.Errno {
	gone := false
	if h.log != nil {
		var st unix.Stat_t
		gone = unix.Fstat(h.fd, &st) == nil && st.Nlink == 0
	}
	errno := h.LoopbackFile.Release(ctx)
	if h.log != nil {
		h.s.unpin(h.log, gone)
		h.log = nil
	}
	return errno
}
