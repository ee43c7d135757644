package apply

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/commands/cmdutil"
	"github.com/medplumcli/medplum/commands/config"
	"github.com/medplumcli/medplum/commands/membership"
	"github.com/medplumcli/medplum/commands/output"
)

// The members section of an export is written as the memberships are read,
// a page (up to 1000) at a time, so that a project of any size streams:
// what is held is one page, its profiles, and the keys written so far (the
// file must not list a person twice).

// exportMember is one person as the file lists them.
type exportMember struct {
	role, first, last, email, externalID, patient string
	admin, active                                 bool
	// access, as the file names policies; manage: the file manages it
	manage       bool
	accessPolicy string
	access       []exportAccess
	nameGuessed  bool
}

type exportAccess struct {
	policy string
	params [][2]string // name, value
}

// profileLookup is how many profiles one search asks for by _id (the URL
// stays a few kilobytes) and how many such searches run at once.
const (
	profileLookup      = 100
	profileConcurrency = 4
)

// members writes the members section: inline, or the CSV the YAML names.
// It returns how many members the file lists.
func (x *exporter) members(csvw *membersCSV, csvPath string) (int, error) {
	q := "ProjectMembership?project=Project/" + url.QueryEscape(x.who.ProjectID) +
		"&profile-type=" + strings.Join(membership.Roles, ",") + "&_count=1000&_sort=_lastUpdated"
	var (
		n, guessed, unmanaged int
		started               bool
		seen                  = map[string]bool{} // email:, externalId: keys written
	)
	start := func() error {
		if started {
			return nil
		}
		started = true
		if csvw != nil {
			return encodeYAML(x.w, docOf("members", strNode(csvPath)), "")
		}
		_, err := io.WriteString(x.w, "members:\n")
		return err
	}
	skip := func(m client.Resource, why string) error {
		if err := start(); err != nil {
			return err
		}
		_, err := fmt.Fprintf(x.w, "  # %s\n", x.warn("member %s (ProjectMembership/%s) is not listed: %s",
			membership.Describe(m), m.ID(), why))
		return err
	}
	for page, err := range x.c.Pages(x.ctx, q) {
		if err != nil {
			return n, err
		}
		var list []client.Resource
		for _, e := range page.Bundle.Entry {
			r, err := client.DecodeResource(e.Resource)
			if err != nil || r.ResourceType() != "ProjectMembership" {
				continue
			}
			list = append(list, r)
		}
		profiles, err := x.profiles(list)
		if err != nil {
			return n, err
		}
		for _, m := range list {
			em, why := x.member(m, profiles[m.Ref("profile")])
			if why == "" {
				switch {
				case em.email != "" && seen["email:"+em.email]:
					why = "another membership has the e-mail " + em.email
				case em.email == "" && seen["externalId:"+em.externalID]:
					why = "another membership has the external id " + em.externalID
				}
			}
			if why != "" {
				if err := skip(m, why); err != nil {
					return n, err
				}
				continue
			}
			if em.email != "" && em.externalID != "" && seen["externalId:"+em.externalID] {
				em.externalID = "" // matched by e-mail; a file may hold an external id once
			}
			seen["email:"+em.email], seen["externalId:"+em.externalID] = true, true
			if em.nameGuessed {
				guessed++
			}
			if err := start(); err != nil {
				return n, err
			}
			if csvw != nil {
				if !csvw.fits(em) {
					em.manage = false
					unmanaged++
				}
				err = csvw.add(em)
			} else {
				err = encodeYAML(x.w, &yaml.Node{Kind: yaml.SequenceNode, Content: []*yaml.Node{em.node()}}, "  ")
			}
			if err != nil {
				return n, err
			}
			n++
		}
		if err := x.w.Flush(); err != nil {
			return n, err
		}
	}
	if !started {
		if csvw != nil {
			return 0, start()
		}
		_, err := io.WriteString(x.w, "members: []\n")
		return 0, err
	}
	if guessed > 0 {
		x.warn("%s: the first and last name come from the membership's display (the profile could not be read); apply uses them only to invite", cmdutil.Count(guessed, "member"))
	}
	if unmanaged > 0 {
		x.warn("%s: the access policies are left blank in %s (not managed): a CSV row holds one policy with its parameters; export without --members-csv to manage them", cmdutil.Count(unmanaged, "member"), csvPath)
	}
	return n, nil
}

// member is what the file says of one membership, or why it cannot list it.
func (x *exporter) member(m client.Resource, profile client.Resource) (exportMember, string) {
	em := exportMember{role: membership.ProfileType(m), admin: membership.IsAdmin(m), active: membership.IsActive(m),
		externalID: m.String("externalId")}
	if u := strings.ToLower(m.Display("user")); strings.Contains(u, "@") {
		if membership.ValidEmail(u) {
			em.email = u
		} else if em.externalID == "" {
			return em, fmt.Sprintf("its e-mail %q is not one apply accepts", u)
		}
	}
	if em.email == "" && em.externalID == "" {
		return em, "it has no e-mail or external id to match it by"
	}
	em.first, em.last = profileName(profile)
	if em.first == "" || em.last == "" {
		em.first, em.last, em.nameGuessed = splitName(m.Display("profile"), em.email+em.externalID)
	}
	if em.role == "RelatedPerson" {
		if em.patient = profile.Ref("patient"); em.patient == "" {
			return em, "a related person whose patient could not be read"
		}
	}
	req := client.InviteRequest{ResourceType: em.role, FirstName: em.first, LastName: em.last, Email: em.email,
		ExternalID: em.externalID}
	if em.patient != "" {
		req.Patient = client.Ref(em.patient)
	}
	if probs := membership.CheckInvite(&req); len(probs) > 0 {
		return em, "apply would refuse it: " + probs[0].String()
	}
	em.manage = true
	if p := m.Ref("accessPolicy"); p != "" {
		name, ok := x.policyRef(p)
		em.manage = em.manage && ok
		em.accessPolicy = name
	}
	for _, a := range membership.Access(m) {
		ea := exportAccess{}
		if a.Policy != nil {
			name, ok := x.policyRef(a.Policy.Reference)
			em.manage = em.manage && ok
			ea.policy = name
		} else {
			em.manage = false
		}
		for _, p := range a.Parameter {
			v := p.ValueString
			if p.ValueReference != nil {
				v = p.ValueReference.Reference
			}
			if !membership.ValidParameterName(p.Name) || strings.TrimSpace(v) == "" {
				em.manage = false
			}
			ea.params = append(ea.params, [2]string{p.Name, v})
		}
		em.access = append(em.access, ea)
	}
	if !em.manage && (em.accessPolicy != "" || len(em.access) > 0 || m.Ref("accessPolicy") != "") {
		x.warn("member %s: its access names a policy that is not one of the project's, or a parameter apply cannot write: not managed", membership.Describe(m))
	}
	return em, ""
}

// node is the member as an item of the members list.
func (em exportMember) node() *yaml.Node {
	item := &yaml.Node{Kind: yaml.MappingNode}
	if em.email != "" {
		add(item, "email", strNode(em.email))
	}
	if em.externalID != "" {
		add(item, "externalId", strNode(em.externalID))
	}
	add(item, "firstName", strNode(em.first))
	add(item, "lastName", strNode(em.last))
	if em.role != "Practitioner" {
		add(item, "role", strNode(em.role))
	}
	if em.patient != "" {
		add(item, "patient", strNode(em.patient))
	}
	if em.admin {
		add(item, "admin", boolNode(true))
	}
	if em.manage {
		if em.accessPolicy != "" {
			add(item, "accessPolicy", strNode(em.accessPolicy))
		}
		if len(em.access) > 0 {
			list := &yaml.Node{Kind: yaml.SequenceNode}
			for _, a := range em.access {
				e := &yaml.Node{Kind: yaml.MappingNode}
				add(e, "policy", strNode(a.policy))
				if len(a.params) > 0 {
					ps := &yaml.Node{Kind: yaml.MappingNode}
					for _, p := range a.params {
						add(ps, p[0], strNode(p[1]))
					}
					add(e, "parameters", ps)
				}
				list.Content = append(list.Content, e)
			}
			add(item, "access", list)
		}
	}
	if !em.active {
		add(item, "active", boolNode(false))
	}
	return item
}

// profileName is a profile's first name: given names and family name.
func profileName(p client.Resource) (first, last string) {
	names, _ := p["name"].([]any)
	if len(names) == 0 {
		return "", ""
	}
	n, _ := names[0].(map[string]any)
	given, _ := n["given"].([]any)
	var gs []string
	for _, g := range given {
		if s, ok := g.(string); ok && strings.TrimSpace(s) != "" {
			gs = append(gs, s)
		}
	}
	family, _ := n["family"].(string)
	return strings.Join(gs, " "), family
}

// splitName guesses a first and last name from a display name ("Mary Ann
// Smith": "Mary Ann", "Smith"); one word is both, none is fallback.
func splitName(display, fallback string) (first, last string, guessed bool) {
	f := strings.Fields(display)
	switch len(f) {
	case 0:
		local, _, _ := strings.Cut(fallback, "@")
		return local, local, true
	case 1:
		return f[0], f[0], true
	}
	return strings.Join(f[:len(f)-1], " "), f[len(f)-1], true
}

// profiles reads the profiles of a page of memberships by _id, a few
// searches at once: their names, and a related person's patient. A profile
// the caller cannot read is missing from the map.
func (x *exporter) profiles(list []client.Resource) (map[string]client.Resource, error) {
	byType := map[string][]string{}
	for _, m := range list {
		if t, id, ok := client.SplitReference(m.Ref("profile")); ok && !contains(byType[t], id) {
			byType[t] = append(byType[t], id)
		}
	}
	var urls []string
	for _, t := range sortedKeys(byType) {
		ids := byType[t]
		elements := "name"
		if t == "RelatedPerson" {
			elements = "name,patient"
		}
		for i := 0; i < len(ids); i += profileLookup {
			chunk := ids[i:min(i+profileLookup, len(ids))]
			urls = append(urls, fmt.Sprintf("%s?_id=%s&_count=%d&_elements=%s", t, url.QueryEscape(strings.Join(chunk, ",")), len(chunk), elements))
		}
	}
	out := map[string]client.Resource{}
	var (
		mu    sync.Mutex
		wg    sync.WaitGroup
		first error
		sem   = make(chan struct{}, profileConcurrency)
	)
	for _, u := range urls {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			found, err := x.c.SearchAll(x.ctx, u)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if first == nil {
					first = err
				}
				return
			}
			for _, r := range found {
				out[r.ResourceType()+"/"+r.ID()] = r
			}
		}()
	}
	wg.Wait()
	return out, first
}

// docOf is a one-key mapping.
func docOf(key string, v *yaml.Node) *yaml.Node {
	m := &yaml.Node{Kind: yaml.MappingNode}
	add(m, key, v)
	return m
}

// ---- members CSV

// membersCSV writes the members as a CSV in the format of invite --csv.
// Its param:<name> columns are known only at the end, so rows are spooled
// to a temporary file next to it first; the CSV appears whole (renamed into
// place) or not at all.
type membersCSV struct {
	path   string
	spool  *os.File
	enc    *json.Encoder
	params map[string]bool
	done   bool
}

type csvRow struct {
	Cells  []string          `json:"c"`
	Params map[string]string `json:"p,omitempty"`
}

var csvColumns = []string{"email", "externalId", "firstName", "lastName", "role", "patient", "admin", "active", "accessPolicy"}

func newMembersCSV(path string) (*membersCSV, error) {
	spool, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.spool")
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, cmdutil.InputErrorf("--members-csv %s: cannot write in %s: %v", path, filepath.Dir(path), err)
	}
	return &membersCSV{path: path, spool: spool, enc: json.NewEncoder(spool), params: map[string]bool{}}, nil
}

// fits reports whether a CSV row can hold the member's access: one policy,
// or one access entry with parameters (a row has one accessPolicy cell and
// its param: cells).
func (w *membersCSV) fits(em exportMember) bool {
	if !em.manage {
		return true
	}
	switch {
	case len(em.access) == 0:
		return true
	case len(em.access) == 1 && em.accessPolicy == "" && len(em.access[0].params) > 0:
		seen := map[string]bool{}
		for _, p := range em.access[0].params {
			if seen[p[0]] {
				return false
			}
			seen[p[0]] = true
		}
		return true
	}
	return false
}

func (w *membersCSV) add(em exportMember) error {
	row := csvRow{Cells: []string{em.email, em.externalID, em.first, em.last, em.role, em.patient, fmt.Sprint(em.admin), fmt.Sprint(em.active), ""}}
	if em.manage {
		switch {
		case em.accessPolicy != "":
			row.Cells[8] = em.accessPolicy
		case len(em.access) == 1:
			row.Cells[8] = em.access[0].policy
			row.Params = map[string]string{}
			for _, p := range em.access[0].params {
				row.Params[p[0]] = p[1]
				w.params[p[0]] = true
			}
		}
	}
	return w.enc.Encode(row)
}

// finish writes the CSV: the header, with a param: column for every
// parameter a row has, then the spooled rows.
func (w *membersCSV) finish() error {
	params := sortedKeys(w.params)
	if _, err := w.spool.Seek(0, io.SeekStart); err != nil {
		return err
	}
	// As a file the shell's > makes (0644), complete or not at all.
	err := config.WriteFileAtomicFunc(w.path, 0o644, func(out io.Writer) error {
		cw := output.NewCSVWriter(out)
		header := append([]string{}, csvColumns...)
		for _, p := range params {
			header = append(header, "param:"+p)
		}
		if err := cw.Write(header); err != nil {
			return err
		}
		dec := json.NewDecoder(w.spool)
		for {
			var row csvRow
			if err := dec.Decode(&row); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				return fmt.Errorf("reading back %s: %w", w.spool.Name(), err)
			}
			for _, p := range params {
				row.Cells = append(row.Cells, row.Params[p])
			}
			if err := cw.Write(row.Cells); err != nil {
				return err
			}
		}
		cw.Flush()
		return cw.Error()
	})
	if err != nil {
		return err
	}
	w.done = true
	return w.abort()
}

// abort removes the spool (and, unless finish renamed it, nothing else
// exists).
func (w *membersCSV) abort() error {
	if w.spool == nil {
		return nil
	}
	name := w.spool.Name()
	w.spool.Close()
	w.spool = nil
	return os.Remove(name)
}
