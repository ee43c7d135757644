package bulk

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/maphash"
	"strings"
	"sync"
)

// idMap is what an import keeps for every resource of its input that has
// an id: where it is (for the line check's "appears again (first at ...)")
// and, once the server answered, its new id (to rewrite the references
// that name it). It is the one part of an import that grows with the
// input, so it is kept on disk, in a diskTable in the journal's directory
// (48 bytes a resource there; in memory, a cache of a fixed size): a
// 128-bit hash of "Type/<old id>" (two maphash sums; two ids of one input
// share one with a probability of about n²/2¹²⁹, 10⁻²⁷ for a million
// resources), 8 bytes of position and 16 of new id (Medplum's ids are
// UUIDs; another new id is appended to a second scratch file, and its
// place kept instead). Every run builds it again: the line check adds
// every id, the journal's done records give the new ids an earlier run
// learnt.
//
// A failure to read or write the index is kept (the methods answer as if
// the id were not there) and returned by Err: the importer checks it
// before a Bundle leaves, so that nothing is sent from a wrong answer.
// Safe for concurrent use.
type idMap struct {
	seed0, seed1 maphash.Seed
	t            *diskTable
	dir          string

	mu     sync.Mutex
	err    error
	others *scratch // new ids that are not UUIDs, one after the other
	end    int64    // of others
}

type (
	idKey  = tableKey
	uuid16 [16]byte
)

// A value of the id map: where the resource is, what its new id is.
const (
	idPos   = 0  // linePos: File, N (int32 each)
	idKind  = 8  // newNone, newUUID, newOther
	idNew   = 16 // newUUID: the UUID; newOther: its offset (8 bytes) and length (4) in others
	idBytes = 32

	newNone  = 0
	newUUID  = 1
	newOther = 2
)

func newIDMap(dir string) (*idMap, error) { return newIDMapOf(dir, initialSlots) }

func newIDMapOf(dir string, slots uint64) (*idMap, error) {
	t, err := newDiskTable(dir, idBytes, slots)
	if err != nil {
		return nil, err
	}
	return &idMap{seed0: maphash.MakeSeed(), seed1: maphash.MakeSeed(), t: t, dir: dir}, nil
}

// Close removes the map's files.
func (m *idMap) Close() error {
	err := m.t.Close()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.others != nil {
		if cerr := m.others.close(); err == nil {
			err = cerr
		}
		m.others = nil
	}
	return err
}

// Err is the first failure to read or write the map's files.
func (m *idMap) Err() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.err
}

func (m *idMap) fail(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err == nil {
		m.err = err
	}
}

func (m *idMap) key(ref string) idKey {
	var k idKey
	binary.LittleEndian.PutUint64(k[:8], maphash.String(m.seed0, ref))
	binary.LittleEndian.PutUint64(k[8:], maphash.String(m.seed1, ref))
	if k == (idKey{}) {
		k[0] = 1 // zeros mark an empty slot
	}
	return k
}

func (p linePos) bytes() []byte {
	var b [8]byte
	binary.LittleEndian.PutUint32(b[:4], uint32(p.File))
	binary.LittleEndian.PutUint32(b[4:], uint32(p.N))
	return b[:]
}

func posOf(b []byte) linePos {
	return linePos{File: int32(binary.LittleEndian.Uint32(b[:4])), N: int32(binary.LittleEndian.Uint32(b[4:8]))}
}

// add records ref ("Type/id") at pos; if it is there already, it reports
// where it was first instead.
func (m *idMap) add(ref string, pos linePos) (first linePos, dup bool) {
	have, dup, err := m.t.Add(m.key(ref), pos.bytes())
	if err != nil {
		m.fail(err)
		return linePos{}, false
	}
	if dup {
		return posOf(have[idPos:]), true
	}
	return linePos{}, false
}

func (m *idMap) get(ref string) ([]byte, bool) {
	v, ok, err := m.t.Get(m.key(ref))
	if err != nil {
		m.fail(err)
		return nil, false
	}
	return v, ok
}

// has reports whether ref is a resource of the input.
func (m *idMap) has(ref string) bool { _, ok := m.get(ref); return ok }

// known reports whether ref's new id is known.
func (m *idMap) known(ref string) bool {
	v, ok := m.get(ref)
	return ok && v[idKind] != newNone
}

// setNew records the new "Type/id" of ref (a resource of the input).
func (m *idMap) setNew(ref, newRef string) {
	k := m.key(ref)
	var v [idBytes - idKind]byte // from idKind on
	typ, _, _ := strings.Cut(ref, "/")
	u, ok := uuid16{}, false
	if id, isType := strings.CutPrefix(newRef, typ+"/"); isType {
		u, ok = parseUUID(id)
	}
	if ok {
		v[0] = newUUID
		copy(v[idNew-idKind:], u[:])
	} else {
		if _, ok, err := m.t.Get(k); err != nil || !ok {
			m.fail(err)
			return // not in the input: nothing to keep
		}
		off, err := m.other(newRef)
		if err != nil {
			m.fail(err)
			return
		}
		v[0] = newOther
		binary.LittleEndian.PutUint64(v[idNew-idKind:], uint64(off))
		binary.LittleEndian.PutUint32(v[idNew-idKind+8:], uint32(len(newRef)))
	}
	if _, err := m.t.Set(k, idKind, v[:]); err != nil {
		m.fail(err)
	}
}

// other appends s to the file of new ids that are not UUIDs.
func (m *idMap) other(s string) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.others == nil {
		f, err := newScratch(m.dir, 0)
		if err != nil {
			return 0, err
		}
		m.others = f
	}
	off := m.end
	if _, err := m.others.WriteAt([]byte(s), off); err != nil {
		return 0, fmt.Errorf("the import's index in %s: %w", m.dir, err)
	}
	m.end += int64(len(s))
	return off, nil
}

// newRef is ref's new "Type/id", or "" while it is not known.
func (m *idMap) newRef(ref string) string {
	v, ok := m.get(ref)
	if !ok {
		return ""
	}
	switch v[idKind] {
	case newUUID:
		typ, _, _ := strings.Cut(ref, "/")
		return typ + "/" + formatUUID(uuid16(v[idNew:]))
	case newOther:
		off := int64(binary.LittleEndian.Uint64(v[idNew:]))
		b := make([]byte, binary.LittleEndian.Uint32(v[idNew+8:]))
		m.mu.Lock()
		_, err := m.others.ReadAt(b, off)
		m.mu.Unlock()
		if err != nil {
			m.fail(fmt.Errorf("the import's index in %s: %w", m.dir, err))
			return ""
		}
		return string(b)
	}
	return ""
}

// parseUUID reads a lowercase canonical UUID (8-4-4-4-12 hex digits) that
// is not all zeros: one that formatUUID gives back exactly.
func parseUUID(s string) (uuid16, bool) {
	var u uuid16
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return u, false
	}
	hexDigits := s[:8] + s[9:13] + s[14:18] + s[19:23] + s[24:]
	if strings.ToLower(hexDigits) != hexDigits {
		return u, false
	}
	if _, err := hex.Decode(u[:], []byte(hexDigits)); err != nil || u == (uuid16{}) {
		return uuid16{}, false
	}
	return u, true
}

func formatUUID(u uuid16) string {
	h := hex.EncodeToString(u[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
