package main

import (
	"bytes"
	"io"
	"math/rand"
	"testing"
)

// memFile is a file in memory.
type memFile struct{ b []byte }

func (m *memFile) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(len(m.b)) {
		return 0, io.EOF
	}
	n := copy(p, m.b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (m *memFile) WriteAt(p []byte, off int64) (int, error) {
	if end := off + int64(len(p)); end > int64(len(m.b)) {
		m.Truncate(end)
	}
	return copy(m.b[off:], p), nil
}

func (m *memFile) Truncate(size int64) error {
	if size <= int64(len(m.b)) {
		m.b = m.b[:size]
	} else {
		m.b = append(m.b, make([]byte, size-int64(len(m.b)))...)
	}
	return nil
}

// recorded does what the FUSE layer does: record, then change.
func write(t *testing.T, f *memFile, l *undoLog, off int64, data []byte) {
	t.Helper()
	old := int64(len(f.b))
	pre, err := preImage(f, old, off, off+int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	l.add(record{kind: kindWrite, off: off, n: int64(len(data)), oldSize: old, pre: pre})
	f.WriteAt(data, off)
}

func truncate(t *testing.T, f *memFile, l *undoLog, size int64) {
	t.Helper()
	old := int64(len(f.b))
	pre, err := preImage(f, old, size, old)
	if err != nil {
		t.Fatal(err)
	}
	l.add(record{kind: kindTruncate, off: size, n: old - size, oldSize: old, pre: pre})
	f.Truncate(size)
}

func filled(c byte, n int) []byte { return bytes.Repeat([]byte{c}, n) }

func TestAppendsRecordNoBytes(t *testing.T) {
	f, l := &memFile{}, &undoLog{}
	write(t, f, l, 0, []byte("hello"))
	write(t, f, l, 5, []byte(" world"))
	for _, r := range l.recs {
		if len(r.pre) != 0 {
			t.Fatalf("append kept a pre-image: %+v", r)
		}
	}
}

func TestCutAllRestoresEverything(t *testing.T) {
	f := &memFile{b: []byte("0123456789")}
	l := &undoLog{}
	write(t, f, l, 3, []byte("abc"))     // overwrite
	write(t, f, l, 8, []byte("XYZW"))    // overwrite and extend
	truncate(t, f, l, 4)                 // shrink
	write(t, f, l, 20, []byte("hole"))   // write past the end
	truncate(t, f, l, 30)                // grow
	write(t, f, l, 0, filled('z', 5000)) // a big overwrite
	res, err := l.cut(f, cutAll, nil)
	if err != nil {
		t.Fatal(err)
	}
	if string(f.b) != "0123456789" {
		t.Fatalf("got %q", f.b)
	}
	if res.writes != 6 || len(l.recs) != 0 {
		t.Fatalf("res %+v, left %d", res, len(l.recs))
	}
}

func TestForgetBeforeKeepsLaterRecords(t *testing.T) {
	f, l := &memFile{}, &undoLog{}
	write(t, f, l, 0, []byte("aa"))
	mark := l.mark()
	write(t, f, l, 2, []byte("bb"))
	l.forgetBefore(mark)
	if len(l.recs) != 1 || l.recs[0].off != 2 {
		t.Fatalf("left %+v", l.recs)
	}
	l.cut(f, cutAll, nil)
	if string(f.b) != "aa" {
		t.Fatalf("got %q", f.b)
	}
}

func TestPrefixKeepsAPrefixReproducibly(t *testing.T) {
	run := func(seed int64) string {
		f, l := &memFile{b: []byte("S")}, &undoLog{}
		for i := 0; i < 10; i++ {
			write(t, f, l, int64(len(f.b)), []byte{byte('a' + i)})
		}
		if _, err := l.cut(f, cutPrefix, rand.New(rand.NewSource(seed))); err != nil {
			t.Fatal(err)
		}
		return string(f.b)
	}
	seen := map[string]bool{}
	for seed := int64(0); seed < 40; seed++ {
		got := run(seed)
		if got != run(seed) {
			t.Fatalf("seed %d not reproducible", seed)
		}
		if want := "Sabcdefghij"[:len(got)]; got != want {
			t.Fatalf("seed %d: %q is not a prefix", seed, got)
		}
		seen[got] = true
	}
	if len(seen) < 4 {
		t.Fatalf("prefixes hardly vary: %v", seen)
	}
}

func TestTornCutsAtABoundaryInsideTheLastWrite(t *testing.T) {
	for seed := int64(0); seed < 20; seed++ {
		f, l := &memFile{b: filled('o', 6000)}, &undoLog{}
		write(t, f, l, 6000, filled('a', 100))
		write(t, f, l, 1000, filled('n', 12000)) // overwrites 5000 old bytes, extends to 13000
		res, err := l.cut(f, cutTorn, rand.New(rand.NewSource(seed)))
		if err != nil {
			t.Fatal(err)
		}
		if !res.torn {
			t.Fatal("not torn")
		}
		// the file is the old content with the new write applied up to some sector boundary b
		// inside it (1024 ... 12800); the old content past b is back
		old := append(filled('o', 6000), filled('a', 100)...)
		b := int64(-1)
		for c := int64(1024); c <= 12800; c += sectorSize {
			want := append(filled('o', 1000), filled('n', int(c-1000))...)
			if int64(len(old)) > c {
				want = append(want, old[c:]...)
			}
			if bytes.Equal(f.b, want) {
				b = c
			}
		}
		if b < 0 {
			t.Fatalf("seed %d: no boundary fits, len %d", seed, len(f.b))
		}
		if res.bytes != 13000-b {
			t.Fatalf("bytes %d", res.bytes)
		}
	}
}

func TestTornUndoesAWriteWithinOnePage(t *testing.T) {
	f, l := &memFile{}, &undoLog{}
	write(t, f, l, 0, []byte("kept"))
	write(t, f, l, 4, []byte("lost"))
	res, _ := l.cut(f, cutTorn, rand.New(rand.NewSource(1)))
	if string(f.b) != "kept" || res.torn || res.writes != 1 {
		t.Fatalf("got %q %+v", f.b, res)
	}
}

func TestBoundaries(t *testing.T) {
	cases := []struct{ off, n, first, count int64 }{
		{0, 512, 0, 0},
		{0, 513, 512, 1},
		{512, 512, 0, 0},
		{511, 2, 512, 1},
		{100, 10000, 512, 19},
	}
	for _, c := range cases {
		first, count := boundaries(record{kind: kindWrite, off: c.off, n: c.n})
		if count != c.count || (count > 0 && first != c.first) {
			t.Errorf("%+v: got %d %d", c, first, count)
		}
	}
}

// Random writes, truncates and fsyncs: cut all always brings back the content as of the last
// fsync, and cut prefix the content as of some change after it.
func TestRandomHistoriesRollBackToASyncedOrLaterState(t *testing.T) {
	r := rand.New(rand.NewSource(42))
	for round := 0; round < 300; round++ {
		f, l := &memFile{b: filled('0', r.Intn(9000))}, &undoLog{}
		states := [][]byte{append([]byte(nil), f.b...)} // since the last fsync, oldest first
		for op := 0; op < 30; op++ {
			switch k := r.Intn(10); {
			case k < 6:
				write(t, f, l, int64(r.Intn(12000)), filled(byte('a'+r.Intn(26)), 1+r.Intn(9000)))
			case k < 8:
				truncate(t, f, l, int64(r.Intn(12000)))
			default:
				l.forgetBefore(l.mark())
				states = states[:0]
			}
			states = append(states, append([]byte(nil), f.b...))
		}
		mode, synced := cutAll, states[0]
		if round%2 == 1 {
			mode = cutPrefix
		}
		if _, err := l.cut(f, mode, rand.New(rand.NewSource(int64(round)))); err != nil {
			t.Fatal(err)
		}
		if mode == cutAll && !bytes.Equal(f.b, synced) {
			t.Fatalf("round %d: cut all is not the synced content", round)
		}
		found := false
		for _, s := range states {
			found = found || bytes.Equal(f.b, s)
		}
		if !found {
			t.Fatalf("round %d: cut %d left a state that never was", round, mode)
		}
	}
}
