package bulk

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// waitList is the list, per server and project, of the resources an import
// created whose references are still to update: they were created before
// what they point at had an id (its Bundle came later, or it failed, or it
// was a failed entry of their own Bundle, whose id Medplum had given out
// already). The journal keeps them for a re-run of the same input; this
// list outlives the journal, for the run that imports what failed once the
// user corrected it (another input, so another journal): a resource it
// finds (200) and this list names was created by the import, and is
// updated rather than left as the server has it. A line "+Type/id" adds
// one, "-Type/id" removes it; the file goes when none is left.
type waitList struct {
	path string
	mu   sync.Mutex
	refs map[string]bool
	err  error
}

// openWaitList reads the list of the project in dir (the cache
// directory's imports/).
func openWaitList(dir, server, project string) *waitList {
	sum := sha256.Sum256([]byte(server + "\x00" + project))
	w := &waitList{path: filepath.Join(dir, hex.EncodeToString(sum[:8])+".to-update"), refs: map[string]bool{}}
	f, err := os.Open(w.path)
	if err != nil {
		return w
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	lines := 0
	for sc.Scan() {
		lines++
		l := sc.Text()
		switch {
		case strings.HasPrefix(l, "+"):
			w.refs[l[1:]] = true
		case strings.HasPrefix(l, "-"):
			delete(w.refs, l[1:])
		}
	}
	if len(w.refs) == 0 && lines > 0 {
		_ = os.Remove(w.path)
	}
	return w
}

func (w *waitList) has(ref string) bool {
	if w == nil {
		return false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.refs[ref]
}

// add and done record refs as to update, and updated.
func (w *waitList) add(refs ...string) { w.write("+", refs) }
func (w *waitList) done(refs ...string) {
	if w == nil {
		return
	}
	w.mu.Lock()
	var known []string
	for _, r := range refs {
		if w.refs[r] {
			known = append(known, r)
		}
	}
	w.mu.Unlock()
	w.write("-", known)
}

func (w *waitList) write(op string, refs []string) {
	if w == nil || len(refs) == 0 {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	var b strings.Builder
	for _, r := range refs {
		if (op == "+") == w.refs[r] {
			continue
		}
		w.refs[r] = op == "+"
		if op == "-" {
			delete(w.refs, r)
		}
		b.WriteString(op + r + "\n")
	}
	if b.Len() == 0 {
		return
	}
	f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err == nil {
		_, err = f.WriteString(b.String())
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil && w.err == nil {
		w.err = err
	}
}
