package bulk

import (
	"encoding/binary"
	"encoding/hex"
	"hash/maphash"
	"strings"
)

// idMap is what an import keeps for every resource of its input that has
// an id: where it is (for the line check's "appears again (first at ...)")
// and, once the server answered, its new id (to rewrite the references
// that name it). It is the one part of an import's memory that grows with
// the input, so it is kept small and free of pointers (the garbage
// collector does not scan it): a 128-bit hash of "Type/<old id>" (two
// maphash sums; two ids of one input share one with a probability of about
// n²/2¹²⁹, 10⁻²⁷ for a million resources), 8 bytes of position and 16 of
// new id (Medplum's ids are UUIDs; another new id is kept as a string).
// About 60 bytes a resource instead of 230 with maps of strings. Callers
// serialize access.
type idMap struct {
	seed0, seed1 maphash.Seed
	index        map[idKey]uint32 // -> k
	where        []linePos        // by k
	newID        []uuid16         // by k; zero: not known (yet)
	other        map[uint32]string
}

type (
	idKey  [16]byte
	uuid16 [16]byte
)

func newIDMap() *idMap {
	return &idMap{seed0: maphash.MakeSeed(), seed1: maphash.MakeSeed(), index: map[idKey]uint32{}, other: map[uint32]string{}}
}

func (m *idMap) key(ref string) idKey {
	var k idKey
	binary.LittleEndian.PutUint64(k[:8], maphash.String(m.seed0, ref))
	binary.LittleEndian.PutUint64(k[8:], maphash.String(m.seed1, ref))
	return k
}

// add records ref ("Type/id") at pos; if it is there already, it reports
// where it was first instead.
func (m *idMap) add(ref string, pos linePos) (first linePos, dup bool) {
	k := m.key(ref)
	if i, ok := m.index[k]; ok {
		return m.where[i], true
	}
	m.index[k] = uint32(len(m.where))
	m.where = append(m.where, pos)
	m.newID = append(m.newID, uuid16{})
	return linePos{}, false
}

// has reports whether ref is a resource of the input.
func (m *idMap) has(ref string) bool { _, ok := m.index[m.key(ref)]; return ok }

// known reports whether ref's new id is known.
func (m *idMap) known(ref string) bool {
	i, ok := m.index[m.key(ref)]
	if !ok {
		return false
	}
	if _, ok := m.other[i]; ok {
		return true
	}
	return m.newID[i] != uuid16{}
}

// setNew records the new "Type/id" of ref (a resource of the input).
func (m *idMap) setNew(ref, newRef string) {
	i, ok := m.index[m.key(ref)]
	if !ok {
		return
	}
	typ, _, _ := strings.Cut(ref, "/")
	if id, ok := strings.CutPrefix(newRef, typ+"/"); ok {
		if u, ok := parseUUID(id); ok {
			m.newID[i] = u
			delete(m.other, i)
			return
		}
	}
	m.other[i] = newRef
}

// newRef is ref's new "Type/id", or "" while it is not known.
func (m *idMap) newRef(ref string) string {
	i, ok := m.index[m.key(ref)]
	if !ok {
		return ""
	}
	if s, ok := m.other[i]; ok {
		return s
	}
	u := m.newID[i]
	if u == (uuid16{}) {
		return ""
	}
	typ, _, _ := strings.Cut(ref, "/")
	return typ + "/" + formatUUID(u)
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
