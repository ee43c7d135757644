package apply

import (
	"fmt"
	"io"
	"strings"

	"github.com/medplumcli/medplum/commands/cmdutil"
	"github.com/medplumcli/medplum/commands/iostreams"
	"github.com/medplumcli/medplum/commands/output"
)

// display names an object in the plan: settings and members bare, policies
// and clients quoted (their names may hold spaces); one without a name by
// its reference.
func display(c *Change) string {
	if c.Name == "" && c.ID != "" {
		return c.ID // a policy or client without a name
	}
	switch c.Kind {
	case KindPolicy, KindClient, KindBot:
		return fmt.Sprintf("%q", c.Name)
	}
	return c.Name
}

// actionWidth aligns the objects after the action words.
const actionWidth = len("would-remove") + 2

// writePlan prints the plan as text:
//
//	Plan for project "Acme" (<id>):
//	  create        setting mfaRequired = true
//	  update        client "CI": admin false -> true
//	  would-remove  member carol@example.com (not in the file; --prune removes it)
//	Plan: 1 to create, 1 to update, 0 to remove, 0 unchanged; 1 not in the file is kept (--prune removes it).
func writePlan(w io.Writer, p *Plan) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Plan for project %q (%s):\n", p.ProjectName, p.ProjectID)
	if len(p.Changes) == 0 {
		b.WriteString("  (the file manages nothing the project has)\n")
	}
	for _, c := range p.Changes {
		fmt.Fprintf(&b, "  %-*s%s %s%s\n", actionWidth, c.Action, c.Kind, display(c), detailText(c))
	}
	b.WriteString(summary(p))
	b.WriteByte('\n')
	_, err := io.WriteString(w, b.String())
	return err
}

func detailText(c *Change) string {
	switch {
	case c.Action == WouldRemove:
		return " (not in the file; --prune removes it)"
	case c.Action == Keep:
		return " (kept: " + c.Note + ")"
	case len(c.Details) == 0:
		return ""
	case c.Kind == KindSetting && c.Action == Create:
		return " = " + c.Details[0]
	case c.Action == Create || c.Action == Remove:
		return " (" + strings.Join(c.Details, ", ") + ")"
	}
	return ": " + strings.Join(c.Details, "; ")
}

// summary is the plan's last line.
func summary(p *Plan) string {
	var s string
	if p.Pending() {
		s = fmt.Sprintf("Plan: %d to create, %d to update, %d to remove, %d unchanged.",
			p.Count(Create), p.Count(Update), p.Count(Remove), p.Count(Unchanged))
	} else {
		s = fmt.Sprintf("No changes: project %q matches the file.", p.ProjectName)
	}
	if n := p.Count(WouldRemove); n > 0 {
		s += fmt.Sprintf(" %s not in the file %s kept (--prune removes %s).", cmdutil.Count(n, "object"), cmdutil.Noun(n, "is", "are"), cmdutil.Noun(n, "it", "them"))
	}
	if n := p.Count(Keep); n > 0 {
		s += fmt.Sprintf(" %s not in the file must stay.", cmdutil.Count(n, "object"))
	}
	return s
}

// jsonPlan is the plan with -o json (yaml, --jq, --template).
type jsonPlan struct {
	Project struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"project"`
	Pending bool           `json:"pending"`
	Summary map[string]int `json:"summary"`
	Changes []*Change      `json:"changes"`
}

func writePlanJSON(ios *iostreams.IOStreams, o *output.Options, p *Plan) error {
	var j jsonPlan
	j.Project.ID, j.Project.Name = p.ProjectID, p.ProjectName
	j.Pending = p.Pending()
	j.Summary = map[string]int{}
	for _, a := range []Action{Create, Update, Remove, Unchanged, WouldRemove, Keep} {
		j.Summary[string(a)] = p.Count(a)
	}
	j.Changes = p.Changes
	if j.Changes == nil {
		j.Changes = []*Change{}
	}
	return o.WriteData(ios, j)
}
