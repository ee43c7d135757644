package bulk

import (
	"encoding/json"
	"fmt"

	"github.com/medplumcli/medplum/commands/internal/bulkengine"
)

// The import journal (bulkengine's): a "started" record for a chunk is on
// disk before its Bundle leaves; "done" after the answer, with the new id
// of every resource the chunk created or found, the entries that failed,
// and the entries whose references to resources of later chunks are still
// to be fixed; "fixed" once those were updated (with "left": the entries
// still to update, whose update failed or waits for resources that failed).

var importFormat = bulkengine.Format{Magic: "medplum-import-journal", Version: 1, Kind: "import", Flag: "--state"}

type importRecord struct {
	Chunk   int         `json:"chunk"`
	State   string      `json:"state"`             // started, done, fixed
	Per     int         `json:"per,omitempty"`     // started: --num-resources-per-request, which numbers the chunks
	IDs     [][2]string `json:"ids,omitempty"`     // done: [old "Type/id", new "Type/id"]
	Counts  *counts     `json:"counts,omitempty"`  // done
	Fix     []int       `json:"fix,omitempty"`     // done: entries (index in the chunk) to fix up
	Relink  []int       `json:"relink,omitempty"`  // done: entries found by their id (--restore) whose references to re-point
	Failed  int         `json:"failed,omitempty"`  // fixed: updates that failed
	Left    bool        `json:"left,omitempty"`    // fixed: Fix and Relink are the entries still to update (failed, or waiting for resources that failed)
	Doubled []int       `json:"doubled,omitempty"` // done: unkeyed entries resent after a lost answer
}

// counts are the outcomes of a chunk's entries.
type counts struct {
	Created  int `json:"created"`
	Restored int `json:"restored,omitempty"` // put back with their own id (--restore)
	Matched  int `json:"matched"`            // already there (the conditional create found it)
	Failed   int `json:"failed"`
	Stale    int `json:"stale,omitempty"`   // of Matched: pointing at old ids of the input, left as they are
	Outside  int `json:"outside,omitempty"` // references of the created ones to resources not in the input
}

func (c *counts) add(o counts) {
	c.Created += o.Created
	c.Restored += o.Restored
	c.Matched += o.Matched
	c.Failed += o.Failed
	c.Stale += o.Stale
	c.Outside += o.Outside
}

// resumeState is what an earlier run's journal says, kept small: a bit
// per chunk done, the counts summed, and only the chunks with entries to
// fix. The new ids of its done records go to the id map (on disk).
type resumeState struct {
	Done    chunkSet         // chunks done by an earlier run
	Before  counts           // their outcomes
	Started map[int]bool     // chunks sent whose answer was not recorded
	Fix     map[int]fixLists // chunks done with entries to fix, not fixed yet (grows during the run)
	Per     int              // the --num-resources-per-request of its runs (0: not recorded)
}

// fixLists are a done chunk's entries to update in the fix-up pass.
type fixLists struct {
	Fix    []int // created with references to resources of later chunks
	Relink []int // found by their id (--restore), pointing at re-created ones
}

// fixOf is what of rec the fix-up pass needs, and whether there is any.
func fixOf(rec importRecord) (fixLists, bool) {
	return fixLists{Fix: rec.Fix, Relink: rec.Relink}, len(rec.Fix)+len(rec.Relink) > 0
}

// chunkSet is a set of chunk numbers, a bit each.
type chunkSet []uint64

func (s *chunkSet) add(n int) {
	for len(*s) <= n/64 {
		*s = append(*s, 0)
	}
	(*s)[n/64] |= 1 << (n % 64)
}

func (s chunkSet) has(n int) bool { return n/64 < len(s) && s[n/64]&(1<<(n%64)) != 0 }

func replayImport(path string, ids *idMap) (*resumeState, bulkengine.Replay) {
	rs := &resumeState{Started: map[int]bool{}, Fix: map[int]fixLists{}}
	return rs, func(n int, b []byte, _ int) error {
		var rec importRecord
		if err := json.Unmarshal(b, &rec); err != nil {
			return &bulkengine.DamagedError{Path: path, N: n}
		}
		switch rec.State {
		case "started":
			rs.Started[rec.Chunk] = true
			if rec.Per > 0 {
				rs.Per = rec.Per
			}
		case "done":
			if rec.Counts == nil {
				return &bulkengine.DamagedError{Path: path, N: n, Reason: "a done chunk without counts"}
			}
			delete(rs.Started, rec.Chunk)
			for _, p := range rec.IDs {
				ids.setNew(p[0], p[1])
			}
			if !rs.Done.has(rec.Chunk) {
				rs.Before.add(*rec.Counts)
			}
			rs.Done.add(rec.Chunk)
			if f, ok := fixOf(rec); ok {
				rs.Fix[rec.Chunk] = f
			}
		case "fixed":
			switch f, ok := fixOf(rec); {
			case rec.Left && ok:
				rs.Fix[rec.Chunk] = f
			case rec.Failed > 0 && !rec.Left:
				// (a journal of a version that did not say which failed:
				// every one is updated again)
			default:
				delete(rs.Fix, rec.Chunk)
			}
		default:
			return &bulkengine.DamagedError{Path: path, N: n, Reason: fmt.Sprintf("unknown state %q", rec.State)}
		}
		return nil
	}
}
