package invite

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/spf13/cobra"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/commands/cmdutil"
	"github.com/medplumcli/medplum/commands/membership"
	"github.com/medplumcli/medplum/commands/output"
)

// singleRun sends one invite. Everything is checked before anything is
// written: the payload locally, then against the server the access
// policies it names and, with --upsert, the user's membership.
func singleRun(cmd *cobra.Command, opts *Options) error {
	ctx := cmd.Context()
	if err := opts.checkSources(); err != nil {
		return err
	}
	var file []byte
	if opts.File != "" {
		b, err := readFile(opts)
		if err != nil {
			return err
		}
		file = b
	}
	var password string
	if opts.PasswordStdin {
		pw, err := readPassword(opts.IO.In)
		if err != nil {
			return err
		}
		password = pw
	}
	p, err := opts.payload(file, password, nil)
	if err != nil {
		return err
	}
	for _, n := range p.notes {
		fmt.Fprintf(opts.IO.ErrOut, "medplum: note: %s\n", n)
	}
	if len(p.problems) > 0 {
		return invalid(p.problems) // before asking the server anything
	}
	c, err := opts.Client()
	if err != nil {
		return err
	}
	project := opts.Project // a dry run asks the server nothing it need not
	if !opts.DryRun || project == "" || len(p.policies) > 0 || upserts(&p.req) {
		if project, err = membership.Project(ctx, c, opts.Project); err != nil {
			return err
		}
	}
	if len(p.policies) > 0 {
		resolved, probs, err := opts.resolvePolicies(ctx, c, project, p.policies)
		if err != nil {
			return err
		}
		if len(probs) > 0 {
			return invalid(probs)
		}
		if p, err = opts.payload(file, password, resolved); err != nil {
			return err
		}
	}
	plan, err := opts.planSingle(ctx, c, project, p, password)
	if err != nil {
		return err
	}
	if opts.DryRun {
		return plan.dryRun(opts, c)
	}
	return plan.run(ctx, opts, c)
}

// singlePlan is what one invite will send.
type singlePlan struct {
	project string
	p       *payload
	who     string
	// member is the user's membership when --upsert found one; changes
	// are what the invite changes on it (none: nothing is sent).
	member  *client.Doc
	changes []string
	body    []byte // the invite to send, nil when nothing is to be sent
	// setPassword sends the password through admin/projects/setpassword
	// after the invite (the invite itself ignores it for a user who exists).
	setPassword string
	note        string // said of the password when it cannot be known to take
}

func (o *Options) planSingle(ctx context.Context, c *client.Client, project string, p *payload, password string) (*singlePlan, error) {
	pl := &singlePlan{project: project, p: p, body: p.body, who: p.req.Email}
	if pl.who == "" {
		pl.who = p.req.ExternalID
	}
	if upserts(&p.req) {
		m, err := membership.FindInvited(ctx, c, project, &p.req)
		if err != nil {
			return nil, fmt.Errorf("looking up %s's membership: %w", pl.who, err)
		}
		if m != nil {
			pl.member = m
			pols := o.policies
			if pols == nil {
				pols = membership.NewPolicies(c, project)
			}
			label := func(ref string) string { return pols.Label(ctx, ref) }
			if pl.body, pl.changes, err = membership.UpsertBody(p.body, m.Resource, label); err != nil {
				return nil, err
			}
			if len(pl.changes) == 0 {
				pl.body = nil
			}
		} else {
			// Not a member: a plain invite, which refuses (rather than
			// overwrites) a membership made in the meantime.
			body, err := client.DecodeResource(p.body)
			if err != nil {
				return nil, err
			}
			delete(body, "upsert")
			if pl.body, err = client.EncodeBody(body); err != nil {
				return nil, err
			}
		}
	}
	if password == "" {
		return pl, nil
	}
	switch {
	case pl.member != nil:
		// The invite ignores the password of a user who exists; only
		// admin/projects/setpassword sets it, and only for the project's
		// own (project-scoped) users (captures 207, 208).
		if err := passwordSettable(ctx, c, project, pl); err != nil {
			return nil, err
		}
		pl.setPassword = password
	case !projectScoped(&p.req):
		pl.note = fmt.Sprintf("the password is set only if %s is new to this Medplum server: the server keeps the password of an existing account, "+
			"and a project admin can set the passwords of project-scoped users only", pl.who)
	case p.req.Email != "":
		// A project-scoped user who exists (a former member) keeps the
		// old password through the invite: set it.
		pl.setPassword = password
	}
	return pl, nil
}

// upserts reports whether the invite may update a membership: with
// forceNewMembership the server makes a new one whatever upsert says.
func upserts(req *client.InviteRequest) bool { return req.Upsert && !req.ForceNewMembership }

// projectScoped reports whether the invite makes (or finds) a user of the
// project rather than of the server: Patients, users with an external id
// and scope project (admin/invite.ts makeUserResource).
func projectScoped(req *client.InviteRequest) bool {
	return req.ResourceType == "Patient" || req.ExternalID != "" || req.Scope == "project"
}

// passwordSettable refuses, before anything is sent, a password the server
// could not set: the member's user must be readable as a user of the
// project (a server-scoped one is not: capture 212) with an e-mail.
func passwordSettable(ctx context.Context, c *client.Client, project string, pl *singlePlan) error {
	refuse := func(why string) error {
		return &cmdutil.ExitError{Code: cmdutil.ExitUsage, Err: fmt.Errorf("%s is already a member, and %s; nothing was sent", pl.who, why),
			Tip: "leave out --password-stdin to update the membership; the user can reset the password from the sign-in page"}
	}
	if pl.p.req.Email == "" {
		return refuse("has no e-mail: Medplum sets an existing user's password by e-mail (admin/projects/setpassword)")
	}
	u, err := c.ReadResource(ctx, pl.member.Resource.Ref("user"))
	switch s := client.StatusOf(err); {
	case s == 404 || s == 403:
		return refuse("their account is server-scoped: Medplum lets a project admin set the password of the project's own (project-scoped) users only")
	case err != nil:
		return fmt.Errorf("reading %s's user: %w", pl.who, err)
	case u.Ref("project") != "Project/"+project:
		return refuse("their account is not one of the project's own users: Medplum lets a project admin set the password of project-scoped users only")
	}
	return nil
}

// dryRun prints what would be sent, and sends nothing.
func (pl *singlePlan) dryRun(o *Options, c *client.Client) error {
	errOut := o.IO.ErrOut
	if pl.member != nil {
		fmt.Fprintf(errOut, "%s is already a member (ProjectMembership/%s)", pl.who, pl.member.Resource.ID())
		if len(pl.changes) == 0 {
			fmt.Fprintln(errOut, "; nothing to change")
		} else {
			fmt.Fprintf(errOut, "; --upsert would change: %s\n", strings.Join(pl.changes, "; "))
		}
	}
	if pl.note != "" {
		fmt.Fprintf(errOut, "medplum: note: %s\n", pl.note)
	}
	first := true
	show := func(path string, body []byte) error {
		u, err := c.ResolveURL(path)
		if err != nil {
			return err
		}
		if !first {
			fmt.Fprintln(o.IO.Out)
		}
		first = false
		fmt.Fprintf(o.IO.Out, "POST %s\n\n", client.RedactURL(u))
		return output.WriteJSON(o.IO.Out, client.RedactBody(client.ContentTypeJSON, body))
	}
	if pl.body != nil {
		if err := show(inviteURL(pl.project), pl.body); err != nil {
			return err
		}
	}
	if pl.setPassword != "" {
		b, _ := client.EncodeBody(map[string]string{"email": pl.p.req.Email, "password": pl.setPassword})
		if err := show(setPasswordURL, b); err != nil {
			return err
		}
	}
	return nil
}

const setPasswordURL = "admin/projects/setpassword"

func inviteURL(project string) string { return "admin/projects/" + url.PathEscape(project) + "/invite" }

// run sends the invite (and the password), and prints the membership.
func (pl *singlePlan) run(ctx context.Context, o *Options, c *client.Client) error {
	errOut := o.IO.ErrOut
	doc := client.Doc{}
	if pl.member != nil {
		doc = *pl.member
	}
	if pl.body != nil {
		resp, err := c.Do(ctx, &client.Request{Method: http.MethodPost, URL: inviteURL(pl.project), Body: pl.body})
		if err != nil {
			return o.inviteFailed(ctx, c, pl.project, pl.p, err)
		}
		d, err := client.NewDoc(resp.Body)
		if err != nil || d.Resource.ResourceType() != "ProjectMembership" {
			return fmt.Errorf("the invite answered %d without a ProjectMembership: %s", resp.Status, oneLine(resp.Body))
		}
		doc = d
	}
	if err := membership.Print(o.IO, &o.Output, []client.Doc{doc}, true, membership.InviteTable); err != nil {
		return err
	}
	switch {
	case pl.member != nil && len(pl.changes) == 0:
		fmt.Fprintf(errOut, "%s is already a member (ProjectMembership/%s); nothing to change\n", pl.who, doc.Resource.ID())
	case pl.member != nil:
		fmt.Fprintf(errOut, "updated %s's membership (ProjectMembership/%s): %s\n", pl.who, doc.Resource.ID(), strings.Join(pl.changes, "; "))
	}
	if pl.body != nil && *pl.p.req.SendEmail && pl.p.req.Email != "" {
		fmt.Fprintf(errOut, "Invitation e-mail sent to %s\n", pl.p.req.Email)
	}
	if pl.note != "" {
		fmt.Fprintf(errOut, "medplum: note: %s\n", pl.note)
	}
	if pl.setPassword == "" {
		return nil
	}
	b, _ := client.EncodeBody(map[string]string{"email": pl.p.req.Email, "password": pl.setPassword})
	if _, err := c.Do(ctx, &client.Request{Method: http.MethodPost, URL: setPasswordURL, Body: b, SecretBody: true}); err != nil {
		what := "the membership is as shown"
		if pl.body == nil {
			what = "nothing else was changed"
		}
		return fmt.Errorf("setting %s's password failed (%s): %w", pl.who, what, err)
	}
	fmt.Fprintf(errOut, "password set for %s\n", pl.who)
	return nil
}

// resolvePolicies looks up each distinct access policy the invite names
// (by name, id or AccessPolicy/<id>) in the project.
func (o *Options) resolvePolicies(ctx context.Context, c *client.Client, project string, uses []policyUse) (map[string]string, []membership.Problem, error) {
	pol := membership.NewPolicies(c, project)
	o.policies = pol // their names show in --upsert's changes
	resolved := map[string]string{}
	var probs []membership.Problem
	for _, u := range uses {
		ref, problem, err := pol.Resolve(ctx, u.value)
		if err != nil {
			return nil, nil, fmt.Errorf("looking up the access policy %q: %w", u.value, err)
		}
		if problem != "" {
			probs = append(probs, membership.Problem{Field: u.field, Reason: problem})
			continue
		}
		resolved[u.value] = ref
	}
	return resolved, probs, nil
}

// checkSources refuses ambiguous ways of naming the user.
func (o *Options) checkSources() error {
	if len(o.Args) == 3 {
		var given []string
		for _, f := range []string{"first", "last", "email", "file"} {
			if o.changed(f) {
				given = append(given, "--"+f)
			}
		}
		if len(given) > 0 {
			return cmdutil.FlagErrorf("give the name and e-mail either as arguments or with %s, not both", strings.Join(given, ", "))
		}
	}
	if o.File == "-" && o.PasswordStdin {
		return cmdutil.FlagErrorf("-f - and --password-stdin both read stdin; put the payload in a file")
	}
	if o.changed("file") && o.File == "" {
		return cmdutil.FlagErrorf("-f needs a file name (\"-\" for stdin)")
	}
	return nil
}

func readFile(opts *Options) ([]byte, error) {
	name := opts.File
	var b []byte
	var err error
	if name == "-" {
		name = "stdin"
		b, err = io.ReadAll(opts.IO.In)
	} else {
		b, err = os.ReadFile(name)
	}
	if err != nil {
		return nil, cmdutil.InputErrorf("reading the invite payload: %v", err)
	}
	return b, nil
}

// readPassword reads the password from the first line of r (a final
// newline, as echo or a heredoc adds, is not part of it).
func readPassword(r io.Reader) (string, error) {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", cmdutil.InputErrorf("--password-stdin: %v", err)
	}
	pw := strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	if pw == "" {
		return "", cmdutil.InputErrorf("--password-stdin: stdin is empty")
	}
	return pw, nil
}

// payload is an invite ready to send: the body (the payload as given, with
// the flags applied, so fields medplum does not know are kept), its typed
// view, notes for stderr, and what makes it invalid.
type payload struct {
	body     []byte
	req      client.InviteRequest
	notes    []string
	problems []membership.Problem
	policies []policyUse // the access policies to look up on the server
}

// policyUse is an access policy the invite names, where it names it.
type policyUse struct {
	field string // --access-policy, --access, membership.accessPolicy, ...
	value string // as written: a name, an id or AccessPolicy/<id>
}

// namedPrefix stands, until it is looked up, for a policy given by name or
// bare id: a valid reference, so the local checks pass; never sent.
const namedPrefix = "AccessPolicy/named-policy."

// Known invite fields (reference 2.5) and their JSON kinds.
var (
	stringFields = []string{"resourceType", "firstName", "lastName", "email", "externalId", "scope", "password"}
	boolFields   = []string{"sendEmail", "upsert", "forceNewMembership", "mfaRequired", "admin"}
	objectFields = []string{"patient", "membership", "accessPolicy"}
	arrayFields  = []string{"access"}
	// membershipBools are the boolean fields of the membership template.
	membershipBools = []string{"admin", "active"}
)

// payload builds the invite from the file (if any), the arguments and the
// flags, then checks it. resolved maps the policies the flags name to their
// references; nil on the first pass, which lists them in p.policies.
func (o *Options) payload(file []byte, password string, resolved map[string]string) (*payload, error) {
	p := &payload{}
	m := client.Resource{}
	if file != nil {
		r, err := client.DecodeResource(file)
		if err != nil {
			// Medplum's own examples are JavaScript literals with
			// trailing commas: accept those, and only those.
			if fixed, ok := withoutTrailingCommas(file); ok {
				if r2, err2 := client.DecodeResource(fixed); err2 == nil {
					r, err = r2, nil
					p.notes = append(p.notes, "the invite payload has trailing commas (as JavaScript allows); they were ignored")
				}
			}
		}
		if err != nil {
			name := "the invite payload " + fileName(o.File)
			if cerr := cmdutil.CheckJSON(file, name); cerr != nil {
				return nil, cerr
			}
			return nil, cmdutil.InputErrorf("%s is not a JSON object", name)
		}
		m = r
	}
	bad := func(field, format string, a ...any) {
		p.problems = append(p.problems, membership.Problem{Field: field, Reason: fmt.Sprintf(format, a...)})
	}
	var flagProblems []membership.Problem // bad --access entries

	// The role: -r given, else the payload's, else -r's default.
	if o.changed("role") || m["resourceType"] == nil {
		m["resourceType"] = o.Role
	}
	if s, ok := m["resourceType"].(string); ok {
		if r, ok := membership.CanonicalRole(strings.TrimSpace(s)); ok {
			m["resourceType"] = r
		}
	}
	first, last, email := o.First, o.Last, o.Email
	if len(o.Args) == 3 {
		first, last, email = o.Args[0], o.Args[1], o.Args[2]
	}
	setString := func(key, value string, given bool) {
		if given || value != "" {
			m[key] = strings.TrimSpace(value)
		}
	}
	setString("firstName", first, o.changed("first"))
	setString("lastName", last, o.changed("last"))
	setString("email", email, o.changed("email"))
	setString("externalId", o.ExternalID, o.changed("external-id"))
	setString("scope", strings.ToLower(o.Scope), o.changed("scope"))
	if s, ok := m["email"].(string); ok {
		m["email"] = strings.ToLower(strings.TrimSpace(s))
	}
	if o.changed("patient") {
		m["patient"] = reference(o.Patient, "Patient")
	}
	if password != "" {
		m["password"] = password
	}
	for flag, key := range map[string]string{"mfa-required": "mfaRequired", "upsert": "upsert", "force-new-membership": "forceNewMembership"} {
		if o.changed(flag) {
			m[key] = flagBool(o, flag)
		}
	}

	// The membership template: the payload's, with the flags applied.
	mem, isObject := m["membership"].(map[string]any)
	if m["membership"] != nil && !isObject {
		bad("membership", "must be a JSON object")
	}
	if mem == nil {
		mem = map[string]any{}
	}
	if o.changed("admin") {
		mem["admin"] = o.Admin
	}
	if o.changed("access-policy") {
		if _, _, err := membership.SplitAccess(o.AccessPolicy); err != nil || strings.Contains(o.AccessPolicy, "?") {
			flagProblems = append(flagProblems, membership.Problem{Field: "--access-policy",
				Reason: fmt.Sprintf("not an access policy: %q (want a name, an id or AccessPolicy/<id>)", strings.TrimSpace(o.AccessPolicy))})
		} else {
			mem["accessPolicy"] = map[string]any{"reference": p.policyRef("--access-policy", o.AccessPolicy, resolved)}
		}
	}
	if len(o.Access) > 0 {
		var list []any
		for _, spec := range o.Access {
			policy, params, err := membership.SplitAccess(spec)
			if err != nil {
				flagProblems = append(flagProblems, membership.Problem{Field: "--access " + spec, Reason: err.Error()})
				continue
			}
			list = append(list, client.MembershipAccess{Policy: client.Ref(p.policyRef("--access "+spec, policy, resolved)), Parameter: params})
		}
		mem["access"] = list
	}
	if len(mem) > 0 && (isObject || m["membership"] == nil) {
		m["membership"] = mem
	}

	// sendEmail is always an explicit boolean: the server e-mails unless
	// it gets false.
	switch {
	case o.changed("send-email"):
		m["sendEmail"] = o.SendEmail
	case m["sendEmail"] == nil:
		m["sendEmail"] = false
	}

	// Booleans given as "true"/"false" strings become booleans.
	p.normaliseBools(m, "", boolFields, bad)
	if mem, ok := m["membership"].(map[string]any); ok {
		p.normaliseBools(mem, "membership.", membershipBools, bad)
	}
	checkKinds(m, bad)
	for k := range m {
		if !slices.Contains(stringFields, k) && !slices.Contains(boolFields, k) &&
			!slices.Contains(objectFields, k) && !slices.Contains(arrayFields, k) {
			p.notes = append(p.notes, fmt.Sprintf("the invite field %q is not one medplum knows; it is sent as it is", k))
		}
	}
	sort.Strings(p.notes)

	body, err := client.EncodeBody(m)
	if err != nil {
		return nil, err
	}
	p.body = body
	// Fields of the wrong kind are left out of the typed view (each one
	// reported once), so that the checks still see, and list, the rest.
	req, kindProblems := decodeInvite(body)
	p.req = req
	p.problems = addProblems(p.problems, kindProblems)
	p.problems = addProblems(p.problems, membership.CheckInvite(&p.req))
	p.problems = append(p.problems, flagProblems...)
	if resolved == nil {
		p.payloadPolicies()
	}
	return p, nil
}

// policyRef is the reference to send for a policy a flag names (checked by
// SplitAccess): the one it resolved to, an AccessPolicy/<id> as given, or
// (first pass) a stand-in for a name or bare id. The value is recorded to
// be looked up.
func (p *payload) policyRef(field, value string, resolved map[string]string) string {
	value = strings.TrimSpace(value)
	if ref, ok := resolved[value]; ok {
		return ref
	}
	p.policies = append(p.policies, policyUse{field: field, value: value})
	if strings.HasPrefix(value, "AccessPolicy/") {
		return value
	}
	return fmt.Sprintf("%s%d", namedPrefix, len(p.policies))
}

// payloadPolicies records the policy references the payload itself holds
// (-f): they must exist in the project too.
func (p *payload) payloadPolicies() {
	add := func(field string, ref *client.Reference) {
		if ref == nil || strings.HasPrefix(ref.Reference, namedPrefix) ||
			slices.ContainsFunc(p.policies, func(u policyUse) bool { return u.value == ref.Reference }) {
			return
		}
		if r, ok := membership.TypedRef(ref.Reference, "AccessPolicy"); ok && r == ref.Reference {
			p.policies = append(p.policies, policyUse{field: field, value: ref.Reference})
		} // else CheckInvite has said what is wrong with it
	}
	addList := func(field string, list []client.MembershipAccess) {
		for i, a := range list {
			add(fmt.Sprintf("%s[%d].policy", field, i), a.Policy)
		}
	}
	r := &p.req
	add("accessPolicy", r.AccessPolicy)
	addList("access", r.Access)
	if m := r.Membership; m != nil {
		add("membership.accessPolicy", m.AccessPolicy)
		addList("membership.access", m.Access)
	}
}

// decodeInvite decodes the body into the typed invite. A field of the wrong
// JSON kind at any depth is reported and left out, and the rest decoded.
func decodeInvite(body []byte) (client.InviteRequest, []membership.Problem) {
	var doc any
	if err := json.Unmarshal(body, &doc); err != nil {
		return client.InviteRequest{}, []membership.Problem{{Reason: "the payload is not JSON: " + err.Error()}}
	}
	var probs []membership.Problem
	for {
		var req client.InviteRequest
		b, err := json.Marshal(doc)
		if err == nil {
			err = json.Unmarshal(b, &req)
		}
		var te *json.UnmarshalTypeError
		if err == nil || !errors.As(err, &te) || te.Field == "" || len(probs) == 100 {
			if err != nil {
				probs = append(probs, membership.Problem{Reason: "the payload does not have the shape of an invite: " + err.Error()})
			}
			return req, probs
		}
		probs = append(probs, membership.Problem{Field: te.Field, Reason: "must be " + kindName(te.Type) + ", not " + withArticle(te.Value)})
		deletePath(doc, strings.Split(te.Field, "."))
	}
}

// kindName names the JSON kind a Go type decodes from.
func kindName(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.String:
		return "a string"
	case reflect.Slice, reflect.Array:
		return "a JSON array"
	case reflect.Struct, reflect.Map:
		return "a JSON object"
	}
	return "a number"
}

// withArticle is encoding/json's name of a JSON value ("string", "number
// -5", "object") with an article.
func withArticle(v string) string {
	switch {
	case strings.HasPrefix(v, "number"), v == "bool":
		return v
	case strings.HasPrefix(v, "a") || strings.HasPrefix(v, "o"):
		return "an " + v
	}
	return "a " + v
}

// deletePath removes the member at a dotted path (as encoding/json names
// fields: arrays have no index, so every element is visited).
func deletePath(v any, path []string) {
	switch t := v.(type) {
	case map[string]any:
		if len(path) == 1 {
			delete(t, path[0])
			return
		}
		deletePath(t[path[0]], path[1:])
	case []any:
		for _, e := range t {
			deletePath(e, path)
		}
	}
}

// addProblems appends the problems of more about fields that have none yet,
// nor a parent or child with one: a field left out for its kind is not
// also "required" (array indexes aside: "access[0].policy" is
// "access.policy").
func addProblems(have, more []membership.Problem) []membership.Problem {
	var reported []string
	for _, p := range have {
		if p.Field != "" {
			reported = append(reported, fieldPath(p.Field))
		}
	}
	related := func(f string) bool {
		for _, r := range reported {
			if f == r || strings.HasPrefix(r, f+".") || strings.HasPrefix(f, r+".") {
				return true
			}
		}
		return false
	}
	for _, p := range more {
		if p.Field == "" || !related(fieldPath(p.Field)) {
			have = append(have, p)
		}
	}
	return have
}

var indexPattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\[[0-9]+\]`) })

func fieldPath(f string) string { return indexPattern().ReplaceAllString(f, "") }

// flagBool reads a boolean flag's value.
func flagBool(o *Options, flag string) bool {
	switch flag {
	case "mfa-required":
		return o.MfaRequired
	case "upsert":
		return o.Upsert
	case "force-new-membership":
		return o.ForceNew
	}
	panic("invite: unknown boolean flag " + flag)
}

// reference turns a flag value (an id or Type/<id>) into a Reference; a
// value that is neither is sent as given so CheckInvite reports it.
func reference(v, typ string) map[string]any {
	v = strings.TrimSpace(v)
	if r, ok := membership.TypedRef(v, typ); ok {
		v = r
	}
	return map[string]any{"reference": v}
}

// normaliseBools turns "true"/"false" strings into booleans (with a note)
// and reports any other value that is not a boolean.
func (p *payload) normaliseBools(m map[string]any, prefix string, keys []string, bad func(string, string, ...any)) {
	for _, k := range keys {
		v, ok := m[k]
		if !ok || v == nil {
			continue
		}
		if _, isBool := v.(bool); isBool {
			continue
		}
		s, isString := v.(string)
		lower := strings.ToLower(strings.TrimSpace(s))
		if isString && (lower == "true" || lower == "false") {
			m[k] = lower == "true"
			p.notes = append(p.notes, fmt.Sprintf("%s%s %q is a string; sent as the boolean %s", prefix, k, s, lower))
			continue
		}
		bad(prefix+k, "must be true or false, not %s", jsonText(k, v))
	}
}

// checkKinds reports known fields of the wrong JSON kind.
func checkKinds(m map[string]any, bad func(string, string, ...any)) {
	for _, k := range stringFields {
		if v, ok := m[k]; ok && v != nil {
			if _, isString := v.(string); !isString {
				bad(k, "must be a string, not %s", jsonText(k, v))
			}
		}
	}
	for _, k := range objectFields {
		if v, ok := m[k]; ok && v != nil {
			if _, isObject := v.(map[string]any); !isObject && k != "membership" {
				bad(k, "must be a JSON object like {\"reference\": \"Type/<id>\"}, not %s", jsonText(k, v))
			}
		}
	}
	for _, k := range arrayFields {
		if v, ok := m[k]; ok && v != nil {
			if _, isArray := v.([]any); !isArray {
				bad(k, "must be a JSON array, not %s", jsonText(k, v))
			}
		}
	}
}

// jsonText shows a field's value in a problem; a secret's (the password)
// is named by its kind only, so that stderr never holds it.
func jsonText(field string, v any) string {
	if client.IsSecretName(field) {
		switch v.(type) {
		case bool:
			return "a boolean"
		case string:
			return "a string"
		case []any:
			return "a JSON array"
		case map[string]any:
			return "a JSON object"
		}
		return "a number"
	}
	b, err := cmdutil.MarshalJSON(v, "")
	if err != nil {
		return fmt.Sprint(v)
	}
	if len(b) > 60 {
		return string(b[:57]) + "..."
	}
	return string(b)
}

func fileName(f string) string {
	if f == "-" {
		return "on stdin"
	}
	return "in " + f
}

// invalid lists every problem of the invite: exit 2, nothing sent.
func invalid(probs []membership.Problem) error {
	var b strings.Builder
	b.WriteString("the invite is not valid; nothing was sent:")
	for _, p := range probs {
		b.WriteString("\n  ")
		b.WriteString(p.String())
	}
	return &cmdutil.ExitError{Code: cmdutil.ExitUsage, Err: errors.New(b.String())}
}

func oneLine(b []byte) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

// inviteFailed explains a failed invite. The e-mail case (200 with an
// error outcome) created the membership: it is looked up and printed, and
// the run still fails (exit 1).
func (o *Options) inviteFailed(ctx context.Context, c *client.Client, project string, p *payload, err error) error {
	e := client.AsError(err)
	switch {
	case e != nil && e.IsPartialSuccess():
		who := p.req.Email
		if who == "" {
			who = p.req.ExternalID
		}
		doc, lerr := membership.FindInvited(ctx, c, project, &p.req)
		if lerr == nil && doc != nil {
			if perr := membership.Print(o.IO, &o.Output, []client.Doc{*doc}, true, membership.InviteTable); perr != nil {
				return perr
			}
			return cmdutil.WithHint(fmt.Errorf("%s was invited (membership %s), but the invitation e-mail was not sent: %v", who, doc.Resource.ID(), e),
				"the membership exists; invite without --send-email to skip the e-mail")
		}
		if lerr != nil {
			return fmt.Errorf("%s was invited, but the invitation e-mail was not sent: %v; looking the membership up failed: %w", who, e, lerr)
		}
		return fmt.Errorf("%s was invited, but the invitation e-mail was not sent: %v; the membership could not be found", who, e)
	case e != nil && e.IsConflict() && strings.Contains(e.Error(), "already a member"):
		who := p.req.Email
		if who == "" {
			who = p.req.ExternalID
		}
		if strings.Contains(e.Error(), "different profile") {
			return cmdutil.WithHint(fmt.Errorf("%s is already a member of project %s with a different profile: %v", who, project, e),
				"--upsert only updates a membership with the same profile")
		}
		if upserts(&p.req) {
			// The lookup found no membership with a profile of this type.
			return cmdutil.WithHint(fmt.Errorf("%s is already a member of project %s, with a profile that is not a %s", who, project, p.req.ResourceType),
				"--upsert only updates a membership with the same profile; see medplum members get "+who)
		}
		return cmdutil.WithHint(fmt.Errorf("%s is already a member of project %s", who, project),
			"add --upsert to update the existing membership instead")
	}
	return err
}
