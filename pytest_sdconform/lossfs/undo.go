package main

// The undo log of one file: pure bookkeeping over a small file interface, no FUSE, so it is
// unit-tested on an in-memory file (undo_test.go).

import (
	"errors"
	"io"
	"math/rand"
)

// file is what the undo log needs of a backing file: positioned reads and writes and a size
// change. fdFile implements it over a descriptor, memFile (tests) over a byte slice.
type file interface {
	ReadAt(p []byte, off int64) (int, error)
	WriteAt(p []byte, off int64) (int, error)
	Truncate(size int64) error
}

type recordKind uint8

const (
	kindWrite recordKind = iota
	kindTruncate
	kindAllocate
)

// record says how to undo one change: set the size back to oldSize, then put pre back at off.
// pre holds only bytes that existed before the change (inside oldSize), so an append keeps
// none. n is the length the change covered (bytes written, bytes cut off or added by a
// truncate, the fallocate range): what the counters report.
type record struct {
	seq     uint64
	kind    recordKind
	off     int64
	n       int64
	oldSize int64
	pre     []byte
}

// undoLog is the ordered list of a file's changes since its last fsync, oldest first.
type undoLog struct {
	recs    []record
	nextSeq uint64
}

func (l *undoLog) add(r record) {
	r.seq = l.nextSeq
	l.nextSeq++
	l.recs = append(l.recs, r)
}

// mark is the sequence number the next record will get: forgetBefore(mark()) after an fsync
// forgets exactly the records that existed when the fsync began.
func (l *undoLog) mark() uint64 { return l.nextSeq }

func (l *undoLog) forgetBefore(seq uint64) {
	i := 0
	for i < len(l.recs) && l.recs[i].seq < seq {
		i++
	}
	if i == len(l.recs) {
		l.recs = nil
		return
	}
	l.recs = append(l.recs[:0:0], l.recs[i:]...)
}

func (l *undoLog) forget() { l.recs = nil }

// totals counts the records and their bytes.
func (l *undoLog) totals() (writes int, bytes int64) {
	for _, r := range l.recs {
		bytes += r.n
	}
	return len(l.recs), bytes
}

// preImage reads the bytes of [off, end) that lie inside the old size: what a change of that
// range destroys. Nothing for a range at or beyond the old end (an append).
func preImage(f file, oldSize, off, end int64) ([]byte, error) {
	if end > oldSize {
		end = oldSize
	}
	if off >= end {
		return nil, nil
	}
	buf := make([]byte, end-off)
	n, err := f.ReadAt(buf, off)
	if err != nil && !(errors.Is(err, io.EOF) && n == len(buf)) {
		return nil, err
	}
	return buf, nil
}

func undoRecord(f file, r record) error {
	if err := f.Truncate(r.oldSize); err != nil {
		return err
	}
	if len(r.pre) > 0 {
		if _, err := f.WriteAt(r.pre, r.off); err != nil {
			return err
		}
	}
	return nil
}

// tearRecord undoes the part of write r at and after boundary b (off < b < off+n), keeping the
// bytes before it, as a write cut short by a power loss at a page boundary leaves the file.
func tearRecord(f file, r record, b int64) error {
	size := r.oldSize
	if b > size {
		size = b
	}
	if err := f.Truncate(size); err != nil {
		return err
	}
	if k := b - r.off; int64(len(r.pre)) > k {
		if _, err := f.WriteAt(r.pre[k:], b); err != nil {
			return err
		}
	}
	return nil
}

// boundaries gives the first sector-aligned offset strictly inside write r and how many such
// offsets there are (0: the write lies within one sector and cannot be torn).
func boundaries(r record) (first int64, count int64) {
	if r.kind != kindWrite || r.n <= 0 {
		return 0, 0
	}
	first = (r.off/sectorSize + 1) * sectorSize
	last := ((r.off + r.n - 1) / sectorSize) * sectorSize
	if last < first {
		return 0, 0
	}
	return first, (last-first)/sectorSize + 1
}

// A disk writes a sector (512 bytes) or not at all; a page of the cache is several sectors,
// and a power cut while it is being written leaves some of them old: a torn page.
const sectorSize = 512

type cutMode int

const (
	cutAll cutMode = iota
	cutPrefix
	cutTorn
)

type cutResult struct {
	writes int
	bytes  int64
	torn   bool
}

// undoFrom undoes records k.. of the log, newest first.
func (l *undoLog) undoFrom(f file, k int) (cutResult, error) {
	var res cutResult
	for i := len(l.recs) - 1; i >= k; i-- {
		if err := undoRecord(f, l.recs[i]); err != nil {
			return res, err
		}
		res.writes++
		res.bytes += l.recs[i].n
	}
	return res, nil
}

// cut applies a power cut to the file: all (undo every record), prefix (keep the first k for
// a k drawn from rng in 0..n) or torn (a sector boundary inside one of the unsynced writes is
// drawn: the writes before that one are kept, it is kept up to the boundary, the later ones
// are undone; with no such boundary, all but the last record are kept). The log is empty
// afterwards: what survived is on "disk".
func (l *undoLog) cut(f file, mode cutMode, rng *rand.Rand) (cutResult, error) {
	n := len(l.recs)
	defer l.forget()
	if n == 0 {
		return cutResult{}, nil
	}
	switch mode {
	case cutPrefix:
		return l.undoFrom(f, rng.Intn(n+1))
	case cutTorn:
		// Every sector boundary strictly inside an unsynced write is a place the writeback
		// may have stopped at; one is drawn. The writes before the one it lies in are kept,
		// that one is torn there, the later ones are undone.
		var total int64
		for _, r := range l.recs {
			_, count := boundaries(r)
			total += count
		}
		if total == 0 {
			return l.undoFrom(f, n-1)
		}
		pick := rng.Int63n(total)
		for j, r := range l.recs {
			first, count := boundaries(r)
			if pick >= count {
				pick -= count
				continue
			}
			b := first + pick*sectorSize
			res, err := l.undoFrom(f, j+1)
			if err != nil {
				return res, err
			}
			if err := tearRecord(f, r, b); err != nil {
				return res, err
			}
			res.writes++
			res.bytes += r.off + r.n - b
			res.torn = true
			return res, nil
		}
		return cutResult{}, nil
	default:
		return l.undoFrom(f, 0)
	}
}
