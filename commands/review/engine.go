package review

import (
	"context"
	"crypto/sha256"
	"fmt"
	"maps"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/commands/cmdutil"
	"github.com/medplumcli/medplum/commands/membership"
)

// The review reads the project once: the Project, its access policies,
// client applications and bots (few, read whole first), then the
// memberships page by page (cursor paging, 1000 at a time), and for each
// page the Users, security requests and profiles it names (one search of
// each by id, POSTed). Each member is judged and handed on as soon as its
// page is read, so memory holds a page, not the project; what rules need
// across pages (duplicates) is kept as small hashes.

// pageSize is the server's largest _count.
const pageSize = 1000

// Config are the review's inputs.
type Config struct {
	Client       *client.Client
	Project      string
	SuperAdmin   bool   // the caller is a super admin
	Caller       string // the caller's profile reference, for the report
	Now          time.Time
	StaleInvite  time.Duration
	SecretMaxAge time.Duration
	Ignores      *Ignores
	// Progress, if set, is told how many members were read of how many
	// (total 0: unknown).
	Progress func(done, total int)
	// WantTotal asks the server for the number of members first (for the
	// progress line).
	WantTotal bool
}

// Project is what the review knows of the project.
type Project struct {
	ID                   string
	Name                 string
	MFARequired          cell // setting mfaRequired (bool)
	Policies             int  // access policies in the project
	DefaultPatientPolicy string
}

// engine is one run of the review.
type engine struct {
	cfg     Config
	project Project
	out     sink

	policies map[string]string      // id -> name
	missing  map[string]string      // policy reference -> why the project has none
	clients  map[string]*clientInfo // id -> client
	bots     map[string]string      // id -> name
	dups     map[[16]byte]dupFirst  // user or e-mail -> the first member with it
	profiles map[string]bool        // the profiles of the page being judged that exist
	notes    []string
}

// clientInfo is a client application of the project. Its secret is kept
// only as a hash, to compare versions.
type clientInfo struct {
	name      string
	hasSecret bool
	secret    [32]byte
	age       *cell // secretSetAt, read from the history when first needed
}

type dupFirst struct{ id, name string }

// sink receives what the review finds.
type sink interface {
	member(m *Member) error
	finding(f Finding) error
	notChecked(rule string, m *Member, reason string)
}

// run reads the project and hands every member and finding to out.
func (e *engine) run(ctx context.Context) error {
	if err := e.readProject(ctx); err != nil {
		return err
	}
	if err := e.cfg.Ignores.resolve(ctx, e.cfg.Client, e.cfg.Project); err != nil {
		return err
	}
	if err := e.readPolicies(ctx); err != nil {
		return err
	}
	if err := e.readClients(ctx); err != nil {
		return err
	}
	if err := e.readBots(ctx); err != nil {
		return err
	}
	if err := e.projectRules(); err != nil {
		return err
	}
	return e.readMembers(ctx)
}

func (e *engine) search(typ string, extra url.Values) string {
	q := url.Values{"_count": {strconv.Itoa(pageSize)}, "_sort": {"_lastUpdated"}}
	for k, v := range extra {
		q[k] = v
	}
	return typ + "?" + client.ProjectSearch(e.cfg.Project) + "&" + q.Encode()
}

// readProject reads the Project: its name, settings, default policy.
func (e *engine) readProject(ctx context.Context) error {
	e.project = Project{ID: e.cfg.Project}
	d, err := e.cfg.Client.ReadProject(ctx, e.cfg.Project)
	if err != nil {
		// A project that does not exist (404, also what 5.0.10 answers
		// for an id that is not a UUID) or was deleted (410) is an error
		// before any output: a review of nothing must not pass a gate.
		switch ce := client.AsError(err); {
		case ce != nil && ce.IsNotFound():
			return cmdutil.InputErrorf("no project %s on this server (it answered Not found)", e.cfg.Project)
		case ce != nil && ce.IsGone():
			return cmdutil.InputErrorf("project %s was deleted", e.cfg.Project)
		case ce != nil && ce.IsForbidden():
			e.project.MFARequired = unknownBecause("the Project is not readable with these credentials (Forbidden)")
			return nil
		}
		return err
	}
	e.project.Name = d.String("name")
	e.project.DefaultPatientPolicy = d.Ref("defaultPatientAccessPolicy")
	e.project.MFARequired = value(false)
	for _, s := range client.SettingsList(d.Resource, "setting") {
		if _, v, ok := client.SettingValue(s); ok && s.String("name") == "mfaRequired" {
			b, _ := v.(bool)
			e.project.MFARequired = value(b)
		}
	}
	return nil
}

func (e *engine) readPolicies(ctx context.Context) error {
	e.policies, e.missing = map[string]string{}, map[string]string{}
	for r, err := range e.cfg.Client.Search(ctx, e.search("AccessPolicy", url.Values{"_elements": {"name"}})) {
		if err != nil {
			return err
		}
		if r.ResourceType() == "AccessPolicy" {
			e.policies[r.ID()] = r.String("name")
		}
	}
	e.project.Policies = len(e.policies)
	return nil
}

func (e *engine) readClients(ctx context.Context) error {
	e.clients = map[string]*clientInfo{}
	for r, err := range e.cfg.Client.Search(ctx, e.search("ClientApplication", nil)) {
		if err != nil {
			return err
		}
		if r.ResourceType() != "ClientApplication" {
			continue
		}
		ci := &clientInfo{name: r.String("name")}
		if s := r.String("secret"); s != "" {
			ci.hasSecret, ci.secret = true, sha256.Sum256([]byte(s))
		}
		e.clients[r.ID()] = ci
	}
	return nil
}

func (e *engine) readBots(ctx context.Context) error {
	e.bots = map[string]string{}
	for r, err := range e.cfg.Client.Search(ctx, e.search("Bot", url.Values{"_elements": {"name"}})) {
		if err != nil {
			return err
		}
		if r.ResourceType() == "Bot" {
			e.bots[r.ID()] = r.String("name")
		}
	}
	return nil
}

// usesPolicies reports whether the project restricts access with
// policies: it has one, or a default patient policy.
func (e *engine) usesPolicies() bool {
	return e.project.Policies > 0 || e.project.DefaultPatientPolicy != ""
}

func (e *engine) projectRules() error {
	switch c := e.project.MFARequired; c.state {
	case unknown:
		e.out.notChecked(RuleProjectMFA, nil, c.why)
	case known:
		if on, _ := c.val.(bool); !on {
			return e.find(RuleProjectMFA, nil, "the project's setting mfaRequired is not true: each user decides whether to enrol")
		}
	}
	return nil
}

// readMembers pages through the memberships and judges each.
func (e *engine) readMembers(ctx context.Context) error {
	c := e.cfg.Client
	q := url.Values{"project": {"Project/" + e.cfg.Project}}
	total := 0
	if e.cfg.WantTotal {
		t := url.Values{"project": q["project"], "_count": {"0"}, "_total": {"accurate"}}
		if b, err := c.ReadResource(ctx, "ProjectMembership?"+t.Encode()); err == nil {
			if n, ok := b["total"].(interface{ String() string }); ok {
				total, _ = strconv.Atoi(n.String())
			}
		}
	}
	q.Set("_sort", "_lastUpdated")
	q.Set("_count", strconv.Itoa(pageSize))
	e.dups = map[[16]byte]dupFirst{}
	done := 0
	if e.cfg.Progress != nil {
		e.cfg.Progress(0, total)
	}
	// One goroutine reads the pages and what each names, a page ahead,
	// while this one judges and prints the page before: at most three
	// pages are in memory.
	ctx, cancel := context.WithCancel(ctx)
	pages := make(chan memberPage, 1)
	go e.fetchPages(ctx, "ProjectMembership?"+q.Encode(), pages)
	defer func() {
		cancel()
		for range pages { // let the reader finish
		}
	}()
	for p := range pages {
		if p.err != nil {
			return p.err
		}
		if err := e.judgePage(ctx, p); err != nil {
			return err
		}
		done += len(p.ms)
		if e.cfg.Progress != nil {
			e.cfg.Progress(done, max(total, done))
		}
	}
	return nil
}

// memberPage is a page of memberships with what they name.
type memberPage struct {
	ms  []client.Resource
	pd  pageData
	err error
}

// fetchPages reads the membership pages of a search and, for each, its
// users, security requests and profiles, and sends them on; the first
// error is the last thing sent.
func (e *engine) fetchPages(ctx context.Context, search string, out chan<- memberPage) {
	defer close(out)
	send := func(p memberPage) bool {
		select {
		case out <- p:
			return p.err == nil
		case <-ctx.Done():
			return false
		}
	}
	for page, err := range e.cfg.Client.Pages(ctx, search) {
		if err != nil {
			send(memberPage{err: err})
			return
		}
		var ms []client.Resource
		for _, en := range page.Bundle.Entry {
			if len(en.Resource) == 0 {
				continue
			}
			r, err := client.DecodeResource(en.Resource)
			if err != nil {
				send(memberPage{err: fmt.Errorf("GET %s: an entry is not a JSON object: %w", client.RedactURL(page.URL), err)})
				return
			}
			if r.ResourceType() == "ProjectMembership" {
				ms = append(ms, r)
			}
		}
		pd, err := e.fetchNamed(ctx, ms)
		if !send(memberPage{ms: ms, pd: pd, err: err}) {
			return
		}
	}
}

// pageData is what one page of memberships needs from other searches.
type pageData struct {
	users    map[string]client.Resource   // User/<id> -> User, those the caller can read
	requests map[string][]client.Resource // User/<id> -> security requests
	profiles map[string]bool              // Type/<id> -> exists in the project
}

// personTypes are the profile types of people.
var personTypes = []string{"Practitioner", "Patient", "RelatedPerson"}

// fetchNamed reads, at the same time, the Users of a page (those the
// caller can read), their security requests and which profiles exist.
func (e *engine) fetchNamed(ctx context.Context, ms []client.Resource) (pageData, error) {
	pd := pageData{profiles: map[string]bool{}}
	var users []string
	byType := map[string][]string{}
	for _, m := range ms {
		if u := m.Ref("user"); strings.HasPrefix(u, "User/") {
			users = append(users, u)
		}
		if t, id, ok := client.SplitReference(m.Ref("profile")); ok {
			byType[t] = append(byType[t], id)
		}
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	var first error
	do := func(f func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(); err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		}()
	}
	do(func() (err error) { pd.users, err = membership.ReadUsers(ctx, e.cfg.Client, users); return })
	// (A project admin's search for a server-scoped user's requests finds
	// nothing, as the User's read does: asking for every user's keeps the
	// two searches side by side.)
	do(func() (err error) { pd.requests, err = membership.SecurityRequests(ctx, e.cfg.Client, users); return })
	found := make([]map[string]bool, len(personTypes))
	for i, t := range personTypes {
		found[i] = map[string]bool{}
		if len(byType[t]) > 0 {
			do(func() error { return e.readProfiles(ctx, t, byType[t], found[i]) })
		}
	}
	wg.Wait()
	for _, f := range found {
		maps.Copy(pd.profiles, f)
	}
	return pd, first
}

func (e *engine) judgePage(ctx context.Context, p memberPage) error {
	e.profiles = p.pd.profiles
	for _, m := range p.ms {
		mem, err := e.member(ctx, m, p.pd)
		if err != nil {
			return err
		}
		if err := e.out.member(mem); err != nil {
			return err
		}
		if err := e.judge(mem, m); err != nil {
			return err
		}
	}
	return nil
}

// readProfiles marks which of the ids of a profile type exist in the
// project.
func (e *engine) readProfiles(ctx context.Context, typ string, ids []string, into map[string]bool) error {
	sort.Strings(ids)
	ids = compactStrings(ids)
	for start := 0; start < len(ids); start += pageSize {
		batch := ids[start:min(start+pageSize, len(ids))]
		form := url.Values{"_id": {strings.Join(batch, ",")}, "_elements": {"id"}, "_count": {strconv.Itoa(len(batch))},
			"_project": {"Project/" + e.cfg.Project}}
		for d, err := range e.cfg.Client.SearchPost(ctx, typ, form) {
			if err != nil {
				return err
			}
			if d.ResourceType() == typ {
				into[typ+"/"+d.ID()] = true
			}
		}
	}
	return nil
}

func compactStrings(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// kindOf is the kind of member a profile type makes.
func kindOf(profileType string) string {
	switch profileType {
	case "ClientApplication":
		return "client"
	case "Bot":
		return "bot"
	}
	return "person"
}

// member builds the row of one membership.
func (e *engine) member(ctx context.Context, r client.Resource, pd pageData) (*Member, error) {
	ptype, pid, _ := client.SplitReference(r.Ref("profile"))
	m := &Member{
		ID: r.ID(), Kind: kindOf(ptype), Name: membership.Name(r), Profile: r.Ref("profile"), User: r.Ref("user"),
		Admin: membership.IsAdmin(r), Active: membership.IsActive(r),
	}
	if m.Kind == "client" && r.Display("profile") == "" {
		if ci := e.clients[pid]; ci != nil && ci.name != "" {
			m.Name = ci.name
		}
	}
	if m.Kind == "bot" && r.Display("profile") == "" && e.bots[pid] != "" {
		m.Name = e.bots[pid]
	}
	var err error
	if m.Access, err = e.access(ctx, r); err != nil {
		return nil, err
	}
	if t := membership.LastUpdated(r); !t.IsZero() {
		m.LastUpdated = value(t)
	} else {
		m.LastUpdated = unknownBecause("the server sent no meta.lastUpdated")
	}
	m.UpdatedBy = author(r)

	switch m.Kind {
	case "person":
		e.person(m, r, pd)
	case "client":
		m.SecretSetAt, m.SecretAgeDays = e.secretAge(ctx, pid)
	}
	return m, nil
}

// author is who made the membership's last change (meta.author, which the
// server sends with X-Medplum: extended).
func author(r client.Resource) cell {
	meta, _ := r["meta"].(map[string]any)
	a, _ := meta["author"].(map[string]any)
	ref, _ := a["reference"].(string)
	disp, _ := a["display"].(string)
	switch {
	case ref == "":
		return unknownBecause("the server did not say (no meta.author)")
	case disp != "" && disp != ref:
		return value(disp + " (" + ref + ")")
	}
	return value(ref)
}

// person fills what a person's User and security requests say.
func (e *engine) person(m *Member, r client.Resource, pd pageData) {
	recorded := r.Display("user")
	u, visible := pd.users[m.User]
	switch {
	case !strings.HasPrefix(m.User, "User/"):
		m.userGone = value("the membership names no User")
		return
	case !visible && e.cfg.SuperAdmin:
		// A super admin reads every User: this one does not exist. Its
		// MFA and invites do not apply; missing-user says so.
		m.userGone = value(m.User + " does not exist (deleted)")
		if membership.ValidEmail(recorded) {
			m.Email = value(strings.ToLower(recorded))
		} else {
			m.Email = noValue()
		}
		return
	case !visible:
		why := membership.UserHidden
		m.userGone = unknownBecause(why)
		if membership.ValidEmail(recorded) {
			m.Email = value(strings.ToLower(recorded)) // as the membership recorded it
		} else {
			m.Email = unknownBecause(why)
		}
		m.MFA, m.InvitePending, m.InvitedAt = unknownBecause(why), unknownBecause(why), unknownBecause(why)
		return
	}
	m.userGone = value("")
	if email := u.String("email"); email != "" {
		m.Email = value(strings.ToLower(email))
	} else {
		m.Email = noValue()
	}
	enrolled, _ := u.Bool("mfaEnrolled")
	m.MFA = value(enrolled)
	inv := membership.InviteOf(pd.requests[m.User])
	m.InvitePending = value(inv.Pending)
	if inv.Pending {
		m.InvitedAt = value(inv.Since)
		if at, ok := inv.UserChanged(u); ok {
			m.userChanged = at
		}
	} else {
		m.InvitedAt = noValue()
	}
}

// secretAge reads when a client's current secret was set: its history,
// newest first, back to the oldest version with the same secret.
func (e *engine) secretAge(ctx context.Context, id string) (setAt, days cell) {
	ci := e.clients[id]
	switch {
	case ci == nil:
		why := "ClientApplication/" + id + " is not one of the project's clients"
		return unknownBecause(why), unknownBecause(why)
	case !ci.hasSecret:
		return noValue(), noValue()
	case ci.age == nil:
		c := e.readSecretAge(ctx, id, ci)
		ci.age = &c
	}
	if ci.age.state != known {
		return *ci.age, *ci.age
	}
	t := ci.age.val.(time.Time)
	return *ci.age, value(int(e.cfg.Now.Sub(t).Hours() / 24))
}

// historyPage is how many versions one history request reads.
const historyPage = 100

func (e *engine) readSecretAge(ctx context.Context, id string, ci *clientInfo) cell {
	var since time.Time
	for offset := 0; ; offset += historyPage {
		u := fmt.Sprintf("ClientApplication/%s/_history?_count=%d&_offset=%d", url.PathEscape(id), historyPage, offset)
		b, err := e.cfg.Client.ReadResource(ctx, u)
		if err != nil {
			return unknownBecause("its history is not readable: " + err.Error())
		}
		var h struct {
			Entry []struct {
				Resource client.Resource `json:"resource"`
			} `json:"entry"`
		}
		if err := b.Decode(&h); err != nil {
			return unknownBecause("its history is not a Bundle: " + err.Error())
		}
		for _, en := range h.Entry {
			if en.Resource == nil || sha256.Sum256([]byte(en.Resource.String("secret"))) != ci.secret {
				// The version before had another secret (or was a deletion).
				return secretSince(since)
			}
			since = membership.LastUpdated(en.Resource)
		}
		if len(h.Entry) < historyPage {
			return secretSince(since) // the secret is the client's first
		}
	}
}

func secretSince(t time.Time) cell {
	if t.IsZero() {
		return unknownBecause("its history has no version with the current secret (changed while the review read it?)")
	}
	return value(t)
}

// access lists the member's access policies with names and parameters.
func (e *engine) access(ctx context.Context, r client.Resource) ([]Access, error) {
	var out []Access
	add := func(ref string, params []client.AccessParameter) error {
		a := Access{Policy: ref}
		_, id, ok := client.SplitReference(ref)
		if name, found := e.policies[id]; ok && found {
			a.Name = name
		} else {
			why, err := e.missingPolicy(ctx, ref)
			if err != nil {
				return err
			}
			a.Missing = why
		}
		for _, p := range params {
			v := p.ValueString
			if p.ValueReference != nil {
				v = p.ValueReference.Reference
			}
			a.Parameters = append(a.Parameters, Param{Name: p.Name, Value: v})
		}
		out = append(out, a)
		return nil
	}
	if p := r.Ref("accessPolicy"); p != "" {
		if err := add(p, nil); err != nil {
			return nil, err
		}
	}
	for _, a := range membership.Access(r) {
		if a.Policy == nil {
			continue
		}
		if err := add(a.Policy.Reference, a.Parameter); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// missingPolicy says why a policy the project's search did not return is
// not the project's: read by id, once per reference.
func (e *engine) missingPolicy(ctx context.Context, ref string) (string, error) {
	if why, ok := e.missing[ref]; ok {
		return why, nil
	}
	why := "not a reference to an AccessPolicy"
	if t, id, ok := client.SplitReference(ref); ok && t == "AccessPolicy" {
		r, err := e.cfg.Client.ReadResource(ctx, client.ResourceURL(t, id))
		ce := client.AsError(err)
		switch {
		case err == nil:
			why = "another project's policy"
			meta, _ := r["meta"].(map[string]any)
			if p, _ := meta["project"].(string); p != "" {
				why = "a policy of project " + p
			}
		case ce != nil && ce.IsGone():
			why = "deleted"
		case ce != nil && ce.IsNotFound() && e.cfg.SuperAdmin:
			why = "does not exist"
		case ce != nil && ce.IsNotFound():
			why = "not in this project: deleted, or another project's"
		default:
			return "", err
		}
	}
	e.missing[ref] = why
	return why, nil
}
