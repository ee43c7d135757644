package bulk

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"
)

// diskTable is a hash table kept in a file, so that what an import keeps
// for every resource of its input (its id, its key, its new id) is on disk
// and the import's memory does not grow with the input: open addressing
// with linear probing over fixed-size slots, read and written with
// ReadAt/WriteAt (portable: no mmap). A slot is a 16-byte key (a 128-bit
// hash, never all zeros: zeros mark an empty slot) and a value of a fixed
// size. The table grows (into a new file four times as large) once half
// its slots are used.
//
// In memory it keeps a direct-mapped cache of cacheLines slots (found or
// known to be absent, about 200 KB for the id map), so that the references
// of a run of resources to one target are answered without a read.
//
// The file lives in the directory it is given (the journal's), as a
// scratch file: on Linux and macOS it is unlinked as soon as it is created
// (it has no name, and goes away when it is closed or the process dies,
// even by kill -9); on Windows, where an open file cannot be unlinked, it
// is named .medplum-import-*.index until Close removes it.
//
// Safe for concurrent use.
type diskTable struct {
	dir   string
	val   int   // value bytes
	slot  int64 // 16 + val
	mu    sync.Mutex
	f     *scratch
	n     uint64   // slots: a power of two
	count uint64   // slots used
	lines []byte   // cacheLines slots (key and value)
	at    []uint64 // by cache line: its slot + 1; 0 empty, absent: known not to be in the table
	pbuf  []byte   // probe's reads
	wbuf  []byte   // insert's slot
}

type tableKey = [16]byte

const (
	cacheLines   = 1 << 12
	initialSlots = 1 << 18 // 12 MB of id map, sparse: a small import writes little of it; 131,072 ids before it grows
	probeWindow  = 8       // slots read at a time while probing
	absent       = ^uint64(0)
)

// errTableKey is a key of all zeros: they mark an empty slot.
var errTableKey = errors.New("index: a key of zeros")

// newDiskTable makes a table of slots slots (a power of two: initialSlots
// but in tests) in dir.
func newDiskTable(dir string, valueBytes int, slots uint64) (*diskTable, error) {
	t := &diskTable{dir: dir, val: valueBytes, slot: int64(16 + valueBytes)}
	f, err := newScratch(dir, t.slot*int64(slots))
	if err != nil {
		return nil, err
	}
	t.f, t.n = f, slots
	t.lines = make([]byte, cacheLines*int(t.slot))
	t.at = make([]uint64, cacheLines)
	t.pbuf, t.wbuf = make([]byte, probeWindow*t.slot), make([]byte, t.slot)
	return t, nil
}

// Close removes the table's file.
func (t *diskTable) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.f == nil {
		return nil
	}
	err := t.f.close()
	t.f = nil
	return err
}

// Len is how many keys the table holds.
func (t *diskTable) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return int(t.count)
}

// Get returns a copy of k's value, and whether k is in the table.
func (t *diskTable) Get(k tableKey) ([]byte, bool, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	_, v, ok, err := t.find(k)
	if err != nil || !ok {
		return nil, false, err
	}
	return bytes.Clone(v), true, nil
}

// Add puts k with value v in the table if it is not there; if it is, it
// leaves it and returns the value it has (a copy) and true.
func (t *diskTable) Add(k tableKey, v []byte) (have []byte, dup bool, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if k == (tableKey{}) {
		return nil, false, errTableKey
	}
	if (t.count+1)*2 > t.n {
		if err := t.grow(); err != nil {
			return nil, false, err
		}
	}
	i, s, err := t.probe(k)
	if err != nil {
		return nil, false, err
	}
	if s != nil {
		return bytes.Clone(s[16:]), true, nil
	}
	if err := t.put(i, k, v); err != nil {
		return nil, false, err
	}
	t.remember(k, i, v)
	return nil, false, nil
}

// Set writes data into k's value at offset off; it reports whether k is in
// the table (if not, nothing is written).
func (t *diskTable) Set(k tableKey, off int, data []byte) (bool, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	i, v, ok, err := t.find(k)
	if err != nil || !ok {
		return false, err
	}
	if _, err := t.f.WriteAt(data, int64(i)*t.slot+16+int64(off)); err != nil {
		return false, t.ioError(err)
	}
	nv := bytes.Clone(v)
	copy(nv[off:], data)
	t.remember(k, i, nv)
	return true, nil
}

func (t *diskTable) line(k tableKey) int {
	return int(binary.LittleEndian.Uint16(k[8:10]) % cacheLines)
}

// remember puts k (at slot i, or absent) and its value in the cache.
func (t *diskTable) remember(k tableKey, i uint64, v []byte) {
	c := t.line(k)
	s := t.lines[c*int(t.slot) : (c+1)*int(t.slot)]
	copy(s, k[:])
	clear(s[16:])
	copy(s[16:], v)
	if i == absent {
		t.at[c] = absent
	} else {
		t.at[c] = i + 1
	}
}

// find looks k up: its slot and value (t.mu held; the value is only valid
// until the next call).
func (t *diskTable) find(k tableKey) (uint64, []byte, bool, error) {
	if k == (tableKey{}) {
		return 0, nil, false, errTableKey
	}
	c := t.line(k)
	s := t.lines[c*int(t.slot) : (c+1)*int(t.slot)]
	if t.at[c] != 0 && tableKey(s[:16]) == k {
		if t.at[c] == absent {
			return 0, nil, false, nil
		}
		return t.at[c] - 1, s[16:], true, nil
	}
	i, slot, err := t.probe(k)
	if err != nil {
		return 0, nil, false, err
	}
	if slot == nil {
		t.remember(k, absent, nil)
		return 0, nil, false, nil
	}
	t.remember(k, i, slot[16:])
	return i, slot[16:], true, nil
}

// probe reads slots from k's home until it finds k (its slot and the slot's
// bytes, valid until the next probe) or an empty slot (its index, and nil).
func (t *diskTable) probe(k tableKey) (uint64, []byte, error) {
	mask := t.n - 1
	i := binary.LittleEndian.Uint64(k[:8]) & mask
	buf := t.pbuf
	for seen := uint64(0); seen < t.n; {
		w := min(probeWindow, t.n-i, t.n-seen)
		b := buf[:int64(w)*t.slot]
		if err := t.readAt(b, int64(i)*t.slot); err != nil {
			return 0, nil, err
		}
		for j := uint64(0); j < w; j++ {
			s := b[int64(j)*t.slot : int64(j+1)*t.slot]
			switch tableKey(s[:16]) {
			case k:
				return i + j, s, nil
			case tableKey{}:
				return i + j, nil, nil
			}
		}
		seen += w
		i = (i + w) & mask
	}
	return 0, nil, fmt.Errorf("index: full") // not reached: it grows at half full
}

// insert writes k and v into the empty slot k probes to (k is not in the
// table).
func (t *diskTable) insert(k tableKey, v []byte) (uint64, error) {
	i, s, err := t.probe(k)
	if err != nil {
		return 0, err
	}
	if s != nil {
		return 0, fmt.Errorf("index: inserting a key it holds")
	}
	return i, t.put(i, k, v)
}

// put writes k and v into slot i (empty).
func (t *diskTable) put(i uint64, k tableKey, v []byte) error {
	b := t.wbuf
	copy(b, k[:])
	clear(b[16:])
	copy(b[16:], v)
	if _, err := t.f.WriteAt(b, int64(i)*t.slot); err != nil {
		return t.ioError(err)
	}
	t.count++
	return nil
}

// grow moves the table into a new file of four times as many slots (each
// key is written again: by four, about a third of a write more a key than
// by two), reading the old one a block at a time.
func (t *diskTable) grow() error {
	nf, err := newScratch(t.dir, t.slot*int64(t.n*4))
	if err != nil {
		return err
	}
	old, oldN := t.f, t.n
	t.f, t.n, t.count = nf, t.n*4, 0
	clear(t.at)
	buf := make([]byte, 4096*t.slot)
	for off := int64(0); off < int64(oldN)*t.slot; off += int64(len(buf)) {
		b := buf[:min(int64(len(buf)), int64(oldN)*t.slot-off)]
		if _, err := old.ReadAt(b, off); err != nil && !errors.Is(err, io.EOF) {
			old.close()
			return t.ioError(err)
		}
		for s := int64(0); s < int64(len(b)); s += t.slot {
			k := tableKey(b[s : s+16])
			if k == (tableKey{}) {
				continue
			}
			if _, err := t.insert(k, b[s+16:s+t.slot]); err != nil {
				old.close()
				return err
			}
		}
	}
	return old.close()
}

// readAt reads b at off; what lies past the end of the file reads as
// zeros (empty slots).
func (t *diskTable) readAt(b []byte, off int64) error {
	n, err := t.f.ReadAt(b, off)
	if err != nil && !errors.Is(err, io.EOF) {
		return t.ioError(err)
	}
	clear(b[n:])
	return nil
}

func (t *diskTable) ioError(err error) error {
	return fmt.Errorf("the import's index in %s: %w", t.dir, err)
}

// scratch is a file of the index: nameless where the system allows it.
type scratch struct {
	*os.File
	name string // removed at close ("" once unlinked)
}

func newScratch(dir string, size int64) (*scratch, error) {
	f, err := os.CreateTemp(dir, ".medplum-import-*.index")
	if err != nil {
		return nil, fmt.Errorf("the import's index: %w", err)
	}
	s := &scratch{File: f, name: f.Name()}
	if runtime.GOOS != "windows" && os.Remove(f.Name()) == nil {
		s.name = ""
	}
	// Sparse where the file system allows it: the slots read as zeros
	// (empty) until written.
	if err := f.Truncate(size); err != nil {
		s.close()
		return nil, fmt.Errorf("the import's index in %s: %w", dir, err)
	}
	return s, nil
}

func (s *scratch) close() error {
	err := s.File.Close()
	if s.name != "" {
		if rerr := os.Remove(s.name); err == nil {
			err = rerr
		}
	}
	return err
}
