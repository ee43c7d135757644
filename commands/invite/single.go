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

	"github.com/spf13/cobra"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/commands/cmdutil"
	"github.com/medplumcli/medplum/commands/membership"
	"github.com/medplumcli/medplum/commands/output"
)

// singleRun sends one invite.
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
	p, err := opts.payload(file, password)
	if err != nil {
		return err
	}
	for _, n := range p.notes {
		fmt.Fprintf(opts.IO.ErrOut, "medplum: note: %s\n", n)
	}
	if len(p.problems) > 0 {
		return invalid(p.problems)
	}

	c, err := opts.Client()
	if err != nil {
		return err
	}
	project := opts.Project // a dry run asks the server nothing it need not
	if !opts.DryRun || project == "" {
		if project, err = membership.Project(ctx, c, opts.Project); err != nil {
			return err
		}
	}
	path := "admin/projects/" + url.PathEscape(project) + "/invite"
	if opts.DryRun {
		u, err := c.ResolveURL(path)
		if err != nil {
			return err
		}
		fmt.Fprintf(opts.IO.Out, "POST %s\n\n", client.RedactURL(u))
		return output.WriteJSON(opts.IO.Out, client.RedactBody(client.ContentTypeJSON, p.body))
	}
	resp, err := c.Do(ctx, &client.Request{Method: http.MethodPost, URL: path, Body: p.body})
	if err != nil {
		return opts.inviteFailed(ctx, c, project, p, err)
	}
	doc, err := client.NewDoc(resp.Body)
	if err != nil || doc.Resource.ResourceType() != "ProjectMembership" {
		return fmt.Errorf("the invite answered %d without a ProjectMembership: %s", resp.Status, oneLine(resp.Body))
	}
	if err := membership.Print(opts.IO, &opts.Output, []client.Doc{doc}, true, membership.InviteColumns); err != nil {
		return err
	}
	if *p.req.SendEmail && p.req.Email != "" {
		fmt.Fprintf(opts.IO.ErrOut, "Invitation e-mail sent to %s\n", p.req.Email)
	}
	return nil
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
}

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
// flags, then checks it.
func (o *Options) payload(file []byte, password string) (*payload, error) {
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
		mem["accessPolicy"] = reference(o.AccessPolicy, "AccessPolicy")
	}
	if len(o.Access) > 0 {
		var list []any
		for _, spec := range o.Access {
			a, err := membership.ParseAccess(spec)
			if err != nil {
				flagProblems = append(flagProblems, membership.Problem{Field: "--access " + spec, Reason: err.Error()})
				continue
			}
			list = append(list, a)
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
	return p, nil
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

var indexPattern = regexp.MustCompile(`\[[0-9]+\]`)

func fieldPath(f string) string { return indexPattern.ReplaceAllString(f, "") }

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
	b, err := json.Marshal(v)
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
			if perr := membership.Print(o.IO, &o.Output, []client.Doc{*doc}, true, membership.InviteColumns); perr != nil {
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
		return cmdutil.WithHint(fmt.Errorf("%s is already a member of project %s", who, project),
			"add --upsert to update the existing membership instead")
	}
	return err
}
