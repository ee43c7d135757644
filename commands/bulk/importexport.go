package bulk

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/medplumcli/medplum/commands/cmdutil"
)

// What an import reads of the exports it is given: a directory bulk export
// wrote holds manifest.json (the server's list of the export's files) and,
// while its job is remembered, .medplum-export.json.

// exportDir is what the import learnt of one directory of its input.
type exportDir struct {
	Name    string   // as the user named it (for messages)
	Listed  []string // the files its manifest.json lists
	Missing []string // of those, the ones that are not there
	Extra   []string // .ndjson files there that it does not list
	State   *exportState
}

// exportDirs reads the manifest.json of the directories of the input: the
// directories named and those of the files named. A directory without one
// (an official CLI's export, files of the user's own) is not listed.
func exportDirs(files []inputFile) []*exportDir {
	var dirs []*exportDir
	seen := map[string]bool{}
	for _, f := range files {
		if f.Name == "stdin" {
			continue
		}
		p := filepath.Dir(f.Path)
		if seen[p] {
			continue
		}
		seen[p] = true
		b, err := os.ReadFile(filepath.Join(p, "manifest.json"))
		if err != nil {
			continue
		}
		var m manifest
		if json.Unmarshal(b, &m) != nil {
			continue
		}
		d := &exportDir{Name: filepath.Dir(f.Name)}
		for _, out := range m.Output {
			n := FileName(out.Type, out.URL)
			if slices.Contains(d.Listed, n) {
				continue
			}
			d.Listed = append(d.Listed, n)
			if _, err := os.Stat(filepath.Join(p, n)); err != nil {
				d.Missing = append(d.Missing, n)
			}
		}
		if des, err := os.ReadDir(p); err == nil {
			for _, de := range des {
				if n := de.Name(); !de.IsDir() && strings.HasSuffix(n, ".ndjson") && !strings.HasPrefix(n, ".") && !slices.Contains(d.Listed, n) {
					d.Extra = append(d.Extra, n)
				}
			}
		}
		d.State, _ = readState(filepath.Join(p, stateFile))
		dirs = append(dirs, d)
	}
	return dirs
}

// unfinished refuses an input whose export is not finished: its
// manifest.json lists files that are not there (the export was stopped
// while it downloaded them). Imported as it is, the resources of the
// missing files would be missing in silence, and those of the files that
// are there would point at them.
func unfinished(dirs []*exportDir) error {
	for _, d := range dirs {
		if len(d.Missing) == 0 {
			continue
		}
		finish := fmt.Sprintf("Its export job is forgotten (no %s: cancelled?): export again with `medplum bulk export -d %s --restart`, with the flags it was made with", stateFile, cmdutil.ShellQuote(d.Name))
		if d.State != nil {
			finish = fmt.Sprintf("Finish the export first: run `%s` again, with the profile it was made with: it resumes the same job and downloads only the missing files", exportCommand(d.Name, d.State))
		}
		return cmdutil.InputErrorf("%s is an unfinished export: its manifest.json lists %s, %d not there (%s); nothing was sent. %s. "+
			"--allow-incomplete imports the files that are there",
			d.Name, cmdutil.Count(len(d.Listed), "file"), len(d.Missing), strings.Join(d.Missing, ", "), finish)
	}
	return nil
}

// twoExports is what to say about the directories of the input that hold
// .ndjson files their manifest.json does not list, next to an input
// refused by the check: another export's files (written into the same
// directory once its job was forgotten) repeat the resources of the first.
func twoExports(dirs []*exportDir) string {
	var says []string
	for _, d := range dirs {
		if len(d.Extra) == 0 || len(d.Listed) == 0 {
			continue
		}
		says = append(says, fmt.Sprintf("%s may hold two exports in one directory: its manifest.json lists %s, and %s there %s not one of them (%s); "+
			"import the files of one export (name them), or export again into an empty directory",
			d.Name, cmdutil.Count(len(d.Listed), "file"), cmdutil.Count(len(d.Extra), ".ndjson file"), cmdutil.Noun(len(d.Extra), "is", "are"), strings.Join(firstOf(d.Extra, 5), ", ")))
	}
	return strings.Join(says, "\n")
}

func firstOf(names []string, n int) []string {
	if len(names) <= n {
		return names
	}
	return append(slices.Clone(names[:n]), fmt.Sprintf("and %d more", len(names)-n))
}

// exportCommand is the bulk export command that made st in dir: its level,
// types and since, from the kick-off URL it remembers.
func exportCommand(dir string, st *exportState) string {
	args := []string{"medplum", "bulk", "export", "-d", cmdutil.ShellQuote(dir)}
	u, err := url.Parse(strings.TrimPrefix(st.Request, st.Server))
	if err != nil {
		return strings.Join(args, " ")
	}
	p := strings.TrimPrefix(strings.TrimPrefix(u.Path, "/"), "fhir/R4/")
	if lv := strings.TrimSuffix(strings.TrimSuffix(p, "$export"), "/"); lv != "" {
		args = append(args, "-e", cmdutil.ShellQuote(lv))
	}
	q := u.Query()
	if t := q.Get("_type"); t != "" {
		args = append(args, "-t", cmdutil.ShellQuote(t))
	}
	if s := q.Get("_since"); s != "" {
		args = append(args, "-s", cmdutil.ShellQuote(s))
	}
	return strings.Join(args, " ")
}

// binaryRefs counts into the Binary ids the line names as "Binary/<id>"
// (an attachment's url, as an export holds it, or a reference) and reports
// whether it names any. Medplum's $export never holds Binary: a backup's
// attachments point at resources it does not have.
func binaryRefs(data []byte, into map[string]int) bool {
	const pre = `"Binary/`
	found := false
	for {
		i := bytes.Index(data, []byte(pre))
		if i < 0 {
			return found
		}
		data = data[i+len(pre):]
		end := bytes.IndexByte(data, '"')
		if end <= 0 || end > 64 || !idRE().Match(data[:end]) {
			continue
		}
		into[string(data[:end])]++
		found = true
		data = data[end:]
	}
}

var idRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9\-.]+$`) })

// missingBinaries says how many references of the input name Binary
// resources the input does not hold, and how many such Binaries there are.
func (c *checked) missingBinaries() (refs, binaries int) {
	for id, n := range c.Binaries {
		if !c.IDs.has("Binary/" + id) {
			refs += n
			binaries++
		}
	}
	return refs, binaries
}

// warnMissingBinaries says, before anything is sent, that attachments the
// input points at are not in it.
func (o *ImportOptions) warnMissingBinaries(in *checked) {
	refs, binaries := in.missingBinaries()
	if refs == 0 || o.Restore {
		return
	}
	fmt.Fprintf(o.IO.ErrOut, "medplum: warning: %s of the input name %s it does not hold (attachments: Medplum's $export never holds Binary): "+
		"they will point at nothing here. To bring them, add each to the input from the project it came from (medplum get Binary/<id> -o ndjson >> DIR/Binary.ndjson): the import creates them and points the references at them\n",
		cmdutil.Count(refs, `"Binary/<id>" reference`), cmdutil.Count(binaries, "Binary resource"))
}

// projectLines are the lines of the input that carry one meta.project.
type projectLines struct {
	N     int
	First linePos
}

// noteProject counts the line's meta.project (bulk export's lines carry
// it: medplum kicks the export off with X-Medplum: extended, capture 555;
// the official CLI's do not).
func (c *checked) noteProject(meta any, l line) {
	m, _ := meta.(map[string]any)
	p, _ := m["project"].(string)
	if p == "" {
		return
	}
	if pl := c.Projects[p]; pl != nil {
		pl.N++
		return
	}
	c.Projects[p] = &projectLines{N: 1, First: linePos{File: int32(l.File), N: int32(l.N)}}
}

// checkLineProjects is checkSource for what the lines say, whatever the
// input is (a directory without its .medplum-export.json, copied files,
// stdin): lines exported from the project imported into are refused
// without --restore; with it, an input none of whose lines are from this
// project, and some from another, is.
func (o *ImportOptions) checkLineProjects(in *checked, files []inputFile, project string) error {
	at := func(pl *projectLines) string {
		return fmt.Sprintf("%s:%d", files[pl.First.File].Name, pl.First.N)
	}
	here := in.Projects[project]
	switch {
	case here != nil && !o.Restore:
		return cmdutil.InputErrorf("%s of the input (the first at %s) %s meta.project %s: exported from the project you are importing into; nothing was sent: "+
			"its resources are here already, and those without an identifier would be created again (a plain import finds a resource again by its identifiers only, never by its id). "+
			"To restore what was deleted since, run it again with --restore; to copy it, import it into another project (-p PROFILE, or sign in to it)",
			cmdutil.Count(here.N, "line"), at(here), cmdutil.Noun(here.N, "carries", "carry"), project)
	case here == nil && o.Restore && len(in.Projects) > 0:
		others := slices.Sorted(maps.Keys(in.Projects))
		pl := in.Projects[others[0]]
		return cmdutil.InputErrorf("%s of the input (the first at %s) %s meta.project %s, and none the project you are importing into (%s); nothing was sent: "+
			"--restore finds resources by the ids they have in the project they came from. Import it without --restore to copy it here",
			cmdutil.Count(pl.N, "line"), at(pl), cmdutil.Noun(pl.N, "carries", "carry"), others[0], project)
	}
	return nil
}
