package bulk

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/medplumcli/medplum/commands/cmdutil"
)

// An import's input: NDJSON files, named one by one, as directories (their
// *.ndjson files, sorted by name), or "-" (stdin, spooled to a private
// temporary file so that it can be read twice: once to check it, once to
// send it).

// inputFile is one file of the input, as the user named it.
type inputFile struct {
	Name string // as shown in messages
	Path string // where to read it
}

// expandInputs turns the arguments into files. dir is -d (relative names
// are resolved against it, as the official CLI does).
func expandInputs(args []string, dir string, stdin io.Reader) (files []inputFile, cleanup func(), err error) {
	cleanup = func() {}
	for _, a := range args {
		if a == "-" {
			f, err := os.CreateTemp("", ".medplum-import-stdin-*")
			if err != nil {
				return nil, cleanup, err
			}
			prev := cleanup
			cleanup = func() { os.Remove(f.Name()); prev() }
			if _, err := io.Copy(f, stdin); err != nil {
				f.Close()
				return nil, cleanup, fmt.Errorf("reading stdin: %w", err)
			}
			if err := f.Close(); err != nil {
				return nil, cleanup, err
			}
			files = append(files, inputFile{Name: "stdin", Path: f.Name()})
			continue
		}
		p := a
		if dir != "" && !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		fi, err := os.Stat(p)
		if err != nil {
			return nil, cleanup, cmdutil.InputErrorf("%s: %v", a, errors.Unwrap(err))
		}
		if !fi.IsDir() {
			files = append(files, inputFile{Name: a, Path: p})
			continue
		}
		des, err := os.ReadDir(p)
		if err != nil {
			return nil, cleanup, cmdutil.InputErrorf("%s: %v", a, err)
		}
		var names []string
		for _, de := range des {
			if !de.IsDir() && strings.HasSuffix(de.Name(), ".ndjson") && !strings.HasPrefix(de.Name(), ".") {
				names = append(names, de.Name())
			}
		}
		if len(names) == 0 {
			return nil, cleanup, cmdutil.InputErrorf("%s: a directory without .ndjson files", a)
		}
		slices.Sort(names)
		for _, n := range names {
			files = append(files, inputFile{Name: filepath.Join(a, n), Path: filepath.Join(p, n)})
		}
	}
	return files, cleanup, nil
}

// line is one resource of the input.
type line struct {
	File int    // index in the files
	N    int    // line number in its file (1-based)
	Data []byte // the JSON object
}

// eachLine calls fn with every non-blank line of the files, in order.
func eachLine(files []inputFile, fn func(line) error) error {
	for i, f := range files {
		fh, err := os.Open(f.Path)
		if err != nil {
			return fmt.Errorf("%s: %w", f.Name, err)
		}
		br := bufio.NewReaderSize(fh, 256<<10)
		n := 0
		for {
			b, rerr := br.ReadBytes('\n')
			if len(b) > 0 {
				n++
				if t := bytes.TrimSpace(b); len(t) > 0 {
					if err := fn(line{File: i, N: n, Data: t}); err != nil {
						fh.Close()
						return err
					}
				}
			}
			if rerr == io.EOF {
				break
			}
			if rerr != nil {
				fh.Close()
				return fmt.Errorf("%s: %w", f.Name, rerr)
			}
		}
		fh.Close()
	}
	return nil
}

// maxProblems is how many bad lines are listed before the rest are counted.
const maxProblems = 20

// checked is what the validation pass learnt about the input.
type checked struct {
	Total    int                      // resources to send
	Skipped  map[string]int           // by type: resources left out (skip)
	Types    map[string]int           // by type: resources to send
	Digest   string                   // sha256 of the files, in order, with their names' lengths between them
	IDs      *idMap                   // every resource that has an id: where it is, its new id
	Holds    []map[string]bool        // by file: the resource types it holds
	Refers   []map[string]bool        // by file: the resource types its references name
	Binaries map[string]int           // "Binary/<id>" named (attachments): id -> how many times
	Projects map[string]*projectLines // by meta.project: the lines to send that carry it
}

// linePos is where a line is: its file (index in the files) and number,
// kept for every resource with an id (8 bytes, not a "file:line" string).
type linePos struct{ File, N int32 }

// head is the part of a resource the validation reads.
type head struct {
	ResourceType *string `json:"resourceType"`
	ID           *string `json:"id"`
	Identifier   any     `json:"identifier"` // what the key is made of
	Meta         any     `json:"meta"`
}

// key is the conditional create's search a line is sent with (see
// conditionKey), from the parts of it the check decoded.
func (hd *head) key(ko keyOptions) string {
	r := map[string]any{}
	if hd.Identifier != nil {
		r["identifier"] = hd.Identifier
	}
	if hd.Meta != nil {
		r["meta"] = hd.Meta
	}
	id := ""
	if hd.ID != nil {
		id = *hd.ID
	}
	return ko.key(r, *hd.ResourceType, id)
}

// keyText is a key as the user knows it: "identifier system|value".
func keyText(key string) string {
	q, err := url.ParseQuery(key)
	if err != nil {
		return key
	}
	for k, v := range q {
		return k + " " + strings.Join(v, ",")
	}
	return key
}

// sameKeyHint says what a key shared by two resources means and what to do.
const sameKeyHint = `the import keys each resource on its first identifier with a system and a value (else on its id, as ` + SourceIDSystem + `): two resources with one key would become one, the second found "already there". Give each its own identifier, or remove the duplicate, and run the import again.`

// checkInput reads every line before anything is sent: each must be a JSON
// object with a resourceType (a capitalised name) and, if it has an id, a
// string id not seen before in the input (an exported project's ids are
// what references point at), and a key (the search its conditional create
// is sent with) no other resource of its type has: two resources keyed
// alike would become one. Every problem names its file and line. The
// types skip names are checked too, then counted apart: not sent, and not
// targets whose references are rewritten. salt, when not empty, is part of
// the digest (a choice that changes what is sent). The ids and keys are
// kept on disk, in scratch files in dir (the journal's directory): the
// check's memory does not grow with the input. The caller closes the
// checked's IDs.
func checkInput(files []inputFile, skip func(typ string) bool, salt string, ko keyOptions, dir string) (_ *checked, err error) {
	ids, err := newIDMap(dir)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			ids.Close()
		}
	}()
	// keys: where each "Type?key" first is, by the id map's 128-bit hash
	// of it, on disk like the id map, and only for the check.
	keys, err := newDiskTable(dir, 8, initialSlots)
	if err != nil {
		return nil, err
	}
	defer keys.Close()
	c := &checked{IDs: ids, Skipped: map[string]int{}, Types: map[string]int{}, Binaries: map[string]int{}, Projects: map[string]*projectLines{}}
	for range files {
		c.Holds = append(c.Holds, map[string]bool{})
		c.Refers = append(c.Refers, map[string]bool{})
	}
	h := sha256.New()
	if salt != "" {
		fmt.Fprintf(h, "\x00%s\x00", salt)
	}
	var problems []string
	bad := 0
	sameKey := false
	prob := func(l line, format string, args ...any) {
		bad++
		if len(problems) < maxProblems {
			problems = append(problems, fmt.Sprintf("%s:%d: %s", files[l.File].Name, l.N, fmt.Sprintf(format, args...)))
		}
	}
	lastFile := -1
	var idxErr error // the index's: not the input's fault
	err = eachLine(files, func(l line) error {
		if idxErr = c.IDs.Err(); idxErr != nil {
			return idxErr
		}
		if l.File != lastFile {
			fmt.Fprintf(h, "\x00file %d\x00", l.File)
			lastFile = l.File
		}
		h.Write(l.Data)
		h.Write([]byte{'\n'})
		if l.Data[0] != '{' || !json.Valid(l.Data) {
			var v any
			err := json.Unmarshal(l.Data, &v)
			if err == nil {
				prob(l, "not a JSON object")
			} else {
				prob(l, "not valid JSON (%s)", jsonProblem(err))
			}
			return nil
		}
		var hd head
		if err := json.Unmarshal(l.Data, &hd); err != nil {
			prob(l, "resourceType and id must be strings")
			return nil
		}
		switch {
		case hd.ResourceType == nil:
			prob(l, "no resourceType")
			return nil
		case !typeRE().MatchString(*hd.ResourceType):
			prob(l, "resourceType %q is not a resource type", *hd.ResourceType)
			return nil
		case !knownTypes()[*hd.ResourceType]:
			// The server would refuse it (400), after the lines before it.
			if near := closestType(*hd.ResourceType); near != "" {
				prob(l, "resourceType %q is not a resource type; did you mean %s?", *hd.ResourceType, near)
			} else {
				prob(l, "resourceType %q is not a resource type of FHIR R4 or Medplum", *hd.ResourceType)
			}
			return nil
		}
		if skip(*hd.ResourceType) {
			c.Skipped[*hd.ResourceType]++
			return nil
		}
		c.Total++
		c.Types[*hd.ResourceType]++
		c.noteProject(hd.Meta, l)
		c.Holds[l.File][*hd.ResourceType] = true
		referencedTypes(l.Data, c.Refers[l.File])
		if binaryRefs(l.Data, c.Binaries) {
			c.Refers[l.File]["Binary"] = true
		}
		if hd.ID != nil {
			key := *hd.ResourceType + "/" + *hd.ID
			if at, dup := c.IDs.add(key, linePos{File: int32(l.File), N: int32(l.N)}); dup {
				prob(l, "%s appears again (first at %s:%d)", key, files[at.File].Name, at.N)
				return nil
			}
		}
		if k := hd.key(ko); k != "" {
			name := "this " + *hd.ResourceType
			if hd.ID != nil {
				name = *hd.ResourceType + "/" + *hd.ID
			}
			have, dup, err := keys.Add(c.IDs.key(*hd.ResourceType+"?"+k), linePos{File: int32(l.File), N: int32(l.N)}.bytes())
			if err != nil {
				idxErr = err
				return err
			}
			if dup {
				at := posOf(have)
				sameKey = true
				prob(l, "%s has the key of the %s at %s:%d: %s", name, *hd.ResourceType, files[at.File].Name, at.N, keyText(k))
				return nil
			}
		}
		return nil
	})
	if idxErr == nil {
		idxErr = c.IDs.Err()
	}
	if idxErr != nil {
		return nil, idxErr
	}
	if err != nil {
		return nil, cmdutil.InputErrorf("%v", err)
	}
	if bad > 0 {
		msg := strings.Join(problems, "\n")
		if bad > len(problems) {
			msg += fmt.Sprintf("\n... and %d more", bad-len(problems))
		}
		noun := "lines"
		if bad == 1 {
			noun = "line"
		}
		if sameKey {
			msg += "\nmedplum: " + sameKeyHint
		}
		return nil, cmdutil.InputErrorf("%d bad %s; nothing was sent:\n%s", bad, noun, msg)
	}
	if c.Total == 0 && len(c.Skipped) == 0 {
		return nil, cmdutil.InputErrorf("nothing to import: the input has no resources")
	}
	c.Digest = "sha256:" + hex.EncodeToString(h.Sum(nil))
	return c, nil
}

// referencedTypes adds to into the types named by the relative references
// ("reference": "Type/id") of a resource's JSON, found without decoding it.
func referencedTypes(data []byte, into map[string]bool) {
	const key = `"reference"`
	for {
		i := bytes.Index(data, []byte(key))
		if i < 0 {
			return
		}
		data = bytes.TrimLeft(data[i+len(key):], " \t")
		if len(data) == 0 || data[0] != ':' {
			continue
		}
		data = bytes.TrimLeft(data[1:], " \t")
		if len(data) == 0 || data[0] != '"' {
			continue
		}
		end := bytes.IndexAny(data[1:], `"/`)
		if end > 0 && data[1+end] == '/' && typeRE().Match(data[1:1+end]) {
			into[string(data[1:1+end])] = true
		}
	}
}

// dependencyOrder is the order the files are sent in: a file comes after
// the files holding the types its references name (so that a reference
// finds the new id of its target, instead of waiting for the fix-up), and
// otherwise in the order given. A cycle is broken in the order given.
func dependencyOrder(c *checked) []int {
	n := len(c.Holds)
	left := make([]bool, n)
	for i := range left {
		left[i] = true
	}
	var order []int
	for len(order) < n {
		pick := -1
		for i := 0; i < n && pick < 0; i++ {
			if !left[i] {
				continue
			}
			ready := true
			for j := 0; j < n && ready; j++ {
				if j == i || !left[j] {
					continue
				}
				for t := range c.Refers[i] {
					if c.Holds[j][t] && !c.Holds[i][t] {
						ready = false
						break
					}
				}
			}
			if ready {
				pick = i
			}
		}
		if pick < 0 {
			for i := range left {
				if left[i] {
					pick = i
					break
				}
			}
		}
		left[pick] = false
		order = append(order, pick)
	}
	return order
}

// jsonProblem is a JSON error without Go's "invalid character" jargon where
// it can say more simply what is wrong.
func jsonProblem(err error) string {
	if strings.Contains(err.Error(), "unexpected end of JSON input") {
		return "it ends too early"
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("%s at byte %d", se.Error(), se.Offset)
	}
	return err.Error()
}
