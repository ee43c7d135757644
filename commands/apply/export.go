package apply

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/url"
	"slices"
	"sort"
	"strings"

	"github.com/MakeNowJust/heredoc"
	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/commands/bot"
	"github.com/medplumcli/medplum/commands/cmdutil"
	"github.com/medplumcli/medplum/commands/iostreams"
	"github.com/medplumcli/medplum/commands/membership"
)

// ExportOptions are the inputs of `apply export`.
type ExportOptions struct {
	IO     *iostreams.IOStreams
	Client func() (*client.Client, error)
	Ctx    context.Context

	MembersCSV string // write the members to this CSV; the YAML names it
	NoMembers  bool   // leave the members section out
}

// bigInline is the number of members past which an inline export suggests
// --members-csv.
const bigInline = 1000

// NewCmdExport is `medplum apply export`.
func NewCmdExport(f *cmdutil.Factory, runF func(*ExportOptions) error) *cobra.Command {
	opts := &ExportOptions{IO: f.IOStreams, Client: f.Client}
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Write the project you are signed in to as a file apply accepts",
		Long: heredoc.Doc(`
			Write the project you are signed in to on stdout as a project file for
			"medplum apply -f": its settings, access policies, clients, bots and
			members, so that a project made by hand can be taken under management.
			Applying the file to the same project plans no change (apply --dry-run
			exits 0).

			Left out, and said so in the file: client secrets, the project's
			secrets, passwords and bots' code (add source and dist to a bot to
			manage its code). What apply does not manage is not in the file
			either, and the file lists what the project has of it: a client's
			redirect URIs and other fields, the project's features and default
			policies, a bot's other fields, a member's profile beyond the name.

			Policies are named by their name; a policy apply cannot match by name
			(unnamed, or a name two policies share) is left out and named by
			AccessPolicy/<id>. A member the file cannot list (no e-mail or
			external id, a related person without a patient) is left out with a
			comment, and so is a client without a membership: apply --prune would
			remove what the file leaves out, so read the comments (and stderr)
			before you use --prune.

			The "<project> Default Client" that the server made with the project
			is listed like any client: apply then manages it (delete its lines to
			leave it to the server; apply --prune keeps it while nobody changed
			it). Members come in the order the server last changed them, and are
			written as they are read, so a project of any size streams (an export
			that fails half-way ends the file with "incomplete:", which apply
			refuses: the file would miss members that --prune removes); with
			--members-csv FILE they go to a CSV in the format of "medplum invite
			--csv", which the YAML names (as given: write both files into the same
			directory, since apply reads the CSV relative to the YAML).
		`),
		Example: `  $ medplum apply export > project.yaml
  $ medplum apply -f project.yaml --dry-run && echo "the file matches the project"
  $ medplum apply export --members-csv members.csv > project.yaml`,
		Args: cmdutil.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			opts.Ctx = c.Context()
			if opts.NoMembers && opts.MembersCSV != "" {
				return cmdutil.FlagErrorf("--no-members and --members-csv cannot be used together")
			}
			if runF != nil {
				return runF(opts)
			}
			return exportRun(opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.MembersCSV, "members-csv", "", "write the members to this CSV file (invite --csv format) and name it in the YAML")
	fl.BoolVar(&opts.NoMembers, "no-members", false, "leave the members out: apply then does not manage them")
	return cmd
}

// IncompleteKey ends a file whose export failed half-way (the members are
// written as they are read): apply refuses a file that has it, since
// --prune would remove every member the file misses.
const IncompleteKey = "incomplete"

// stopped ends the file written so far with IncompleteKey and returns err.
func (x *exporter) stopped(err error) error {
	fmt.Fprintf(x.w, "# apply export stopped here: the members after this line are missing.\n"+
		"%s: the export failed half-way; export again (apply refuses this file)\n", IncompleteKey)
	_ = x.w.Flush()
	return err
}

// exporter writes one project.
type exporter struct {
	c     *client.Client
	ctx   context.Context
	who   *cmdutil.SignedIn
	proj  client.Resource
	w     *bufio.Writer
	warns []string // what the file could not list, said again on stderr
	notes []string // comments for the section being made

	// policies: AccessPolicy/<id> -> the name the file lists it by ("" for
	// a policy of the project the file names by id).
	policies map[string]string
	// memberships of clients and bots, by user reference
	apps map[string]client.Resource
}

func exportRun(o *ExportOptions) error {
	c, err := o.Client()
	if err != nil {
		return err
	}
	var csvw *membersCSV
	if o.MembersCSV != "" {
		// Before anything is read: a path that cannot be written fails now.
		if csvw, err = newMembersCSV(o.MembersCSV); err != nil {
			return err
		}
		defer csvw.abort()
	}
	x := &exporter{c: c, ctx: o.Ctx, w: bufio.NewWriterSize(o.IO.Out, 64<<10), policies: map[string]string{}, apps: map[string]client.Resource{}}
	if x.who, err = cmdutil.WhoAmI(o.Ctx, c); err != nil {
		return err
	}
	if !x.who.Admin && !x.who.SuperAdmin {
		// A member sees only part of the project (or nothing of its
		// policies, clients and memberships): a file of that would have
		// apply --prune remove the rest.
		return &cmdutil.ExitError{Code: cmdutil.ExitForbidden, Err: fmt.Errorf(
			"apply export needs a project admin: %s is not an admin of project %s, so the file would miss what only admins see; nothing was written",
			x.who.Profile, x.who.Describe())}
	}
	if x.proj, err = c.ReadResource(o.Ctx, client.ResourceURL("Project", x.who.ProjectID)); err != nil {
		return err
	}
	policies, err := x.search("AccessPolicy?" + client.ProjectSearch(x.who.ProjectID))
	if err != nil {
		return err
	}
	clients, err := x.search("ClientApplication?" + client.ProjectSearch(x.who.ProjectID))
	if err != nil {
		return err
	}
	bots, err := x.search("Bot?" + client.ProjectSearch(x.who.ProjectID))
	if err != nil {
		return err
	}
	apps, err := x.search("ProjectMembership?project=Project/" + url.QueryEscape(x.who.ProjectID) + "&profile-type=ClientApplication,Bot")
	if err != nil {
		return err
	}
	for _, m := range apps {
		if _, dup := x.apps[m.Ref("user")]; !dup {
			x.apps[m.Ref("user")] = m
		}
	}

	x.header()
	doc := &yaml.Node{Kind: yaml.MappingNode}
	add(doc, "version", intNode("1"))
	proj := &yaml.Node{Kind: yaml.MappingNode}
	add(proj, "name", strNode(x.proj.String("name")))
	add(proj, "id", strNode(x.who.ProjectID))
	add(doc, "project", proj)
	x.section(doc, "settings", x.settings())
	x.section(doc, "accessPolicies", x.policyList(policies))
	x.section(doc, "clients", x.clientList(clients))
	x.section(doc, "bots", x.botList(bots))
	if err := encodeYAML(x.w, doc, ""); err != nil {
		return err
	}
	if !o.NoMembers {
		n, err := x.members(csvw, o.MembersCSV)
		if err != nil {
			return x.stopped(err)
		}
		if csvw == nil && n > bigInline {
			fmt.Fprintf(o.IO.ErrOut, "%s written inline: --members-csv members.csv writes them to a CSV next to the YAML instead\n",
				cmdutil.Count(n, "member"))
		}
	}
	if err := x.w.Flush(); err != nil {
		return err
	}
	if csvw != nil {
		if err := csvw.finish(); err != nil {
			return err
		}
	}
	for _, w := range x.warns {
		fmt.Fprintf(o.IO.ErrOut, "medplum: warning: %s\n", w)
	}
	return nil
}

// search reads every page of a search of the project, in a stable order.
func (x *exporter) search(u string) ([]client.Resource, error) {
	return x.c.SearchAll(x.ctx, u+"&_count=1000&_sort=_lastUpdated")
}

func (x *exporter) warn(format string, a ...any) string {
	s := fmt.Sprintf(format, a...)
	x.warns = append(x.warns, s)
	return s
}

// header is the comment at the top of the file: what it is, and what it
// leaves out.
func (x *exporter) header() {
	fmt.Fprintf(x.w, "# Project %q (Project/%s)\n", x.proj.String("name"), x.who.ProjectID)
	fmt.Fprint(x.w, heredoc.Doc(`
		# as a file for "medplum apply -f" (see "medplum help apply-file"), written
		# by "medplum apply export". Applied to the same project, it plans no change.
		#
		# Left out: client secrets, the project's secrets, passwords and bots' code
		# (no file should hold secrets; add source and dist to a bot to manage its
		# code). What apply leaves as the server has it is not here either; the
		# comments name what the project has of it. Anything the file could not
		# list is named in a comment below: apply --prune would remove it.
	`))
	var unmanaged []string
	for _, k := range []string{"description", "features", "defaultPatientAccessPolicy", "defaultAccessPolicies", "defaultProfile",
		"checkReferencesOnWrite", "site", "link", "exportedResourceType", "identifier", "systemSetting"} {
		if _, ok := x.proj[k]; ok {
			unmanaged = append(unmanaged, k)
		}
	}
	if f, ok := x.proj["features"].([]any); ok && len(f) > 0 {
		var names []string
		for _, v := range f {
			names = append(names, fmt.Sprint(v))
		}
		unmanaged[slices.Index(unmanaged, "features")] = "features (" + strings.Join(names, ", ") + ")"
	}
	var more []string
	if len(unmanaged) > 0 {
		more = append(more, fmt.Sprintf("# The project's %s: not managed by apply.", strings.Join(unmanaged, ", ")))
	}
	if n := len(client.SettingsList(x.proj, "secret")); n > 0 {
		more = append(more, fmt.Sprintf("# The project has %s, left out (medplum project secrets list).", cmdutil.Count(n, "secret")))
	}
	if len(more) > 0 {
		fmt.Fprintf(x.w, "#\n%s\n", strings.Join(more, "\n"))
	}
	fmt.Fprintln(x.w)
}

// settings: Project.setting as name: value, with the value's YAML type
// choosing value[x] as apply reads it back.
func (x *exporter) settings() *yaml.Node {
	m := &yaml.Node{Kind: yaml.MappingNode}
	seen := map[string]bool{}
	var skipped []string
	for _, s := range client.SettingsList(x.proj, "setting") {
		name := s.String("name")
		key, val, ok := client.SettingValue(s)
		var n *yaml.Node
		switch {
		case strings.TrimSpace(name) == "" || seen[name] || !ok:
		case key == "valueString":
			if v, isStr := val.(string); isStr {
				n = strNode(v)
			}
		case key == "valueBoolean":
			if v, isBool := val.(bool); isBool {
				n = boolNode(v)
			}
		case key == "valueInteger":
			n = numberNode(val, false)
		case key == "valueDecimal":
			n = numberNode(val, true)
		}
		if n == nil {
			skipped = append(skipped, fmt.Sprintf("%q", name))
			continue
		}
		seen[name] = true
		add(m, name, n)
	}
	if len(skipped) > 0 {
		x.note(x.warn("settings %s are not listed: no value, an empty or repeated name, or a value apply cannot write", strings.Join(skipped, ", ")))
	}
	if len(m.Content) == 0 {
		m.Style = yaml.FlowStyle
	}
	return m
}

// policyList lists the project's policies by name. One apply cannot match
// by name (no name, a name two share) or whose fields the file cannot hold
// is left out; the file then names it by AccessPolicy/<id>.
func (x *exporter) policyList(all []client.Resource) *yaml.Node {
	count := sortByName(all)
	seq := &yaml.Node{Kind: yaml.SequenceNode}
	for _, p := range all {
		ref := "AccessPolicy/" + p.ID()
		name := p.String("name")
		x.policies[ref] = ""
		why := unmatchable("policies", name, count)
		if why == "" && strings.HasPrefix(name, "AccessPolicy/") {
			why = "its name looks like a reference"
		}
		if odd := unmanaged(p, policyKeys...); why == "" && len(odd) > 0 {
			why = "apply cannot write its " + strings.Join(odd, ", ")
		}
		if why != "" {
			x.note(x.warn("access policy %s is not listed (%s); what uses it names it by its id", ref, why))
			continue
		}
		x.policies[ref] = name
		item := &yaml.Node{Kind: yaml.MappingNode}
		add(item, "name", strNode(name))
		for _, k := range sortedKeys(p) {
			if k == "id" || k == "meta" || k == "name" || k == "resourceType" {
				continue
			}
			add(item, k, jsonNode(p[k]))
		}
		seq.Content = append(seq.Content, item)
	}
	return x.emptyFlow(seq)
}

// policyRef is how the file names a policy reference: the name of a policy
// it lists, else AccessPolicy/<id> of another policy of the project. ok is
// false for a policy the project does not have (apply would refuse it).
func (x *exporter) policyRef(ref string) (string, bool) {
	name, ok := x.policies[ref]
	switch {
	case !ok:
		return "", false
	case name != "":
		return name, true
	}
	return ref, true
}

func (x *exporter) clientList(all []client.Resource) *yaml.Node {
	count := sortByName(all)
	seq := &yaml.Node{Kind: yaml.SequenceNode}
	for _, a := range all {
		ref := "ClientApplication/" + a.ID()
		name := a.String("name")
		mem := x.apps[ref]
		switch {
		case x.unnamed("client", ref, name, count):
			continue
		case mem == nil:
			x.note(x.warn("client %q (%s) is not listed: it has no membership in the project", name, ref))
			continue
		}
		item := &yaml.Node{Kind: yaml.MappingNode}
		add(item, "name", strNode(name))
		if d := a.String("description"); d != "" {
			add(item, "description", strNode(d))
		}
		if membership.IsAdmin(mem) {
			add(item, "admin", boolNode(true))
		}
		var notes []string
		if madeByServer(a) {
			notes = append(notes, "made by the server with the project (Project/$init); delete these lines to leave it to the server")
		}
		notes = append(notes, x.appPolicy(item, "client", name, mem)...)
		if len(membership.Access(mem)) > 0 {
			notes = append(notes, "its membership's access entries are not managed by apply")
		}
		notes = append(notes, otherFields(a, "description", "secret", "retiringSecret")...)
		item.HeadComment = strings.Join(notes, "\n")
		seq.Content = append(seq.Content, item)
	}
	return x.emptyFlow(seq)
}

func (x *exporter) botList(all []client.Resource) *yaml.Node {
	count := sortByName(all)
	seq := &yaml.Node{Kind: yaml.SequenceNode}
	for _, b := range all {
		ref := "Bot/" + b.ID()
		name := b.String("name")
		if x.unnamed("bot", ref, name, count) {
			continue
		}
		item := &yaml.Node{Kind: yaml.MappingNode}
		add(item, "name", strNode(name))
		var notes []string
		if _, ok := b["executableCode"]; ok {
			notes = append(notes, "its code is not exported: add source (and dist) to manage it")
		} else if _, ok := b["sourceCode"]; ok {
			notes = append(notes, "its code is not exported: add source (and dist) to manage it")
		}
		if d := b.String("description"); d != "" {
			add(item, "description", strNode(d))
		}
		if rt := b.String("runtimeVersion"); slices.Contains(bot.Runtimes, rt) {
			add(item, "runtime", strNode(rt))
		} else if rt != "" {
			notes = append(notes, fmt.Sprintf("runtime %q: not one apply writes, not managed", rt))
		}
		if mem := x.apps[ref]; mem != nil {
			notes = append(notes, x.appPolicy(item, "bot", name, mem)...)
			if membership.IsAdmin(mem) {
				notes = append(notes, "its membership is a project admin: not managed by apply")
			}
		}
		notes = append(notes, otherFields(b, "description", "runtimeVersion", "sourceCode", "executableCode", "code")...)
		item.HeadComment = strings.Join(notes, "\n")
		seq.Content = append(seq.Content, item)
	}
	return x.emptyFlow(seq)
}

// appPolicy adds the accessPolicy of a client's or bot's membership to its
// item, or returns the note why it is not managed.
func (x *exporter) appPolicy(item *yaml.Node, kind, name string, mem client.Resource) []string {
	p := mem.Ref("accessPolicy")
	if p == "" {
		return nil
	}
	if ref, ok := x.policyRef(p); ok {
		add(item, "accessPolicy", strNode(ref))
		return nil
	}
	return []string{x.warn("%s %q: its access policy %s is not one of the project's: not managed", kind, name, p)}
}

// sortByName sorts resources by name and counts the resources of each name.
func sortByName(all []client.Resource) map[string]int {
	sort.SliceStable(all, func(i, j int) bool { return all[i].String("name") < all[j].String("name") })
	count := map[string]int{}
	for _, r := range all {
		count[r.String("name")]++
	}
	return count
}

// unnamed reports (and notes) a client or bot apply cannot match by name.
func (x *exporter) unnamed(kind, ref, name string, count map[string]int) bool {
	why := unmatchable(kind+"s", name, count)
	if why != "" {
		x.note(x.warn("%s %s is not listed: %s", kind, ref, why))
	}
	return why != ""
}

// unmatchable is why apply cannot match a resource by its name (it has
// none, or shares it with others of its kind, plural), or "".
func unmatchable(plural, name string, count map[string]int) string {
	switch {
	case strings.TrimSpace(name) == "":
		return "it has no name"
	case count[name] > 1:
		return fmt.Sprintf("%d %s are named %q", count[name], plural, name)
	}
	return ""
}

// unmanaged lists, sorted, the fields of r apply does not manage: all but
// resourceType, id, meta, name and those listed.
func unmanaged(r client.Resource, managed ...string) []string {
	var other []string
	for _, k := range sortedKeys(r) {
		if k != "resourceType" && k != "id" && k != "meta" && k != "name" && !slices.Contains(managed, k) {
			other = append(other, k)
		}
	}
	return other
}

// otherFields is the note naming the fields of r apply does not manage.
func otherFields(r client.Resource, managed ...string) []string {
	if other := unmanaged(r, managed...); len(other) > 0 {
		return []string{"not managed by apply: " + strings.Join(other, ", ")}
	}
	return nil
}

// note adds a comment above the section being written: what the file
// could not list there.
func (x *exporter) note(text string) { x.notes = append(x.notes, text) }

// section adds a section to the document, with the notes gathered while
// it was made as the comment above it.
func (x *exporter) section(doc *yaml.Node, key string, v *yaml.Node) {
	k := strNode(key)
	k.HeadComment = strings.Join(x.notes, "\n")
	x.notes = nil
	doc.Content = append(doc.Content, k, v)
}

// emptyFlow writes an empty list as [] (a managed, empty section).
func (x *exporter) emptyFlow(seq *yaml.Node) *yaml.Node {
	if len(seq.Content) == 0 {
		seq.Style = yaml.FlowStyle
	}
	return seq
}

// ---- YAML nodes

func add(m *yaml.Node, key string, v *yaml.Node) {
	m.Content = append(m.Content, strNode(key), v)
}

func strNode(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s} }

func intNode(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: s} }

func boolNode(b bool) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: fmt.Sprint(b)}
}

// numberNode writes a JSON number so that apply reads it back with the same
// value[x]: an integer as an integer, a decimal with a point (2.0, not 2).
// nil when v is not a number.
func numberNode(v any, decimal bool) *yaml.Node {
	n, ok := numberOf(v)
	if !ok || n == nil {
		return nil
	}
	text := fmt.Sprint(v)
	if !decimal {
		if !n.IsInt() || strings.ContainsAny(text, ".eE") {
			return nil
		}
		return intNode(text)
	}
	if !strings.ContainsAny(text, ".eE") {
		text += ".0"
	}
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!float", Value: text}
}

// jsonNode writes a decoded JSON value (numbers as json.Number) as YAML
// that apply's reader turns back into the same JSON: objects with their
// keys sorted, numbers as their text.
func jsonNode(v any) *yaml.Node {
	switch x := v.(type) {
	case map[string]any:
		// resourceType first, as FHIR JSON writes it; the rest sorted.
		m := &yaml.Node{Kind: yaml.MappingNode}
		if t, ok := x["resourceType"]; ok {
			add(m, "resourceType", jsonNode(t))
		}
		for _, k := range sortedKeys(x) {
			if k != "resourceType" {
				add(m, k, jsonNode(x[k]))
			}
		}
		if len(m.Content) == 0 {
			m.Style = yaml.FlowStyle
		}
		return m
	case client.Resource:
		return jsonNode(map[string]any(x))
	case []any:
		s := &yaml.Node{Kind: yaml.SequenceNode}
		for _, e := range x {
			s.Content = append(s.Content, jsonNode(e))
		}
		if len(s.Content) == 0 {
			s.Style = yaml.FlowStyle
		}
		return s
	case string:
		return strNode(x)
	case bool:
		return boolNode(x)
	case nil:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}
	}
	text := fmt.Sprint(v)
	if strings.ContainsAny(text, ".eE") {
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!float", Value: text}
	}
	return intNode(text)
}

// encodeYAML writes a node with two-space indentation, each line after
// indent (to nest a list under a key written apart).
func encodeYAML(w io.Writer, n *yaml.Node, indent string) error {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(n); err != nil {
		return err
	}
	if err := enc.Close(); err != nil {
		return err
	}
	if indent == "" {
		_, err := w.Write(b.Bytes())
		return err
	}
	for _, line := range strings.SplitAfter(b.String(), "\n") {
		if line == "" {
			continue
		}
		if line != "\n" {
			if _, err := io.WriteString(w, indent); err != nil {
				return err
			}
		}
		if _, err := io.WriteString(w, line); err != nil {
			return err
		}
	}
	return nil
}
