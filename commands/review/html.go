package review

import (
	"html/template"
	"io"
	"strconv"
	"strings"
	"sync"

	"github.com/medplumcli/medplum/commands/config"
)

// The HTML report: one self-contained page (styles inline, no scripts, no
// external assets: it opens without a network), for an auditor who never
// opens a terminal. Findings come first, then the counts, the rules, the
// changes since the baseline, and every member.

var htmlTemplates = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("report").Funcs(template.FuncMap{
		"cellClass": cellClass,
		"header":    headerOf,
		"fix":       func(id string) string { r, _ := ruleByID(id); return r.Fix },
		"what":      func(id string) string { r, _ := ruleByID(id); return r.What },
		"threshold": threshold,
	}).Parse(htmlReport))
})

// htmlData is what the parts of the page show.
type htmlData struct {
	R           *Report
	Title       string
	Counts      Counts
	Findings    int // not accepted
	Accepted    int
	Rules       []*RuleResult
	IgnoreNotes []IgnoreNote
	Columns     []string
	Version     string
	Gate        GateOutcome
}

// writeHTML writes the page to path through a temporary file in the same
// directory, renamed when complete: a failed review leaves no half page.
// rows calls its argument with every member's cells, in Columns order.
func (r *Report) writeHTML(path, version string, gate GateOutcome, rows func(func([]string) error) error) error {
	// 0600: the page names every member with their e-mail, as the other
	// files medplum writes about people (bulk export, journals).
	return config.WriteFileAtomicFunc(path, 0o600, func(w io.Writer) error { return r.html(w, version, gate, rows) })
}

// html writes the page part by part, the findings, changes and members
// streamed from where the review keeps them.
func (r *Report) html(w io.Writer, version string, gate GateOutcome, rows func(func([]string) error) error) error {
	d := htmlData{R: r, Counts: r.counts, Rules: r.ruleResults(), IgnoreNotes: r.ignoreNotes(), Columns: Columns, Version: version,
		Accepted: r.counts.Accepted, Gate: gate}
	for _, n := range r.counts.Findings {
		d.Findings += n
	}
	d.Title = "Access review of " + r.Project.ID
	if r.Project.Name != "" {
		d.Title = "Access review of " + r.Project.Name
	}
	t := htmlTemplates()
	part := func(name string, data any) error { return t.ExecuteTemplate(w, name, data) }
	if err := part("head", d); err != nil {
		return err
	}
	// The findings not accepted, then the table of the accepted ones.
	opened := false
	err := r.eachFinding(func(f Finding) error {
		if f.Accepted == nil {
			return part("finding", f)
		}
		if !opened {
			opened = true
			if err := part("accepted", d); err != nil {
				return err
			}
		}
		return part("acceptedFinding", f)
	})
	if err != nil {
		return err
	}
	if !opened {
		if err := part("accepted", d); err != nil {
			return err
		}
	}
	if err := part("middle", d); err != nil {
		return err
	}
	if r.baseline != nil {
		if err := r.changes.each(func(c Change) error { return part("change", c) }); err != nil {
			return err
		}
	}
	if err := part("members", d); err != nil {
		return err
	}
	err = rows(func(cells []string) error {
		return part("row", struct {
			Columns []string
			Cells   []string
		}{Columns, cells})
	})
	if err != nil {
		return err
	}
	return part("foot", d)
}

// threshold is a --stale-invite or --secret-max-age as the page says it:
// "14 days" for 14d, a duration (36h) as it was given.
func threshold(given string) string {
	if n, err := strconv.Atoi(strings.TrimSuffix(given, "d")); err == nil {
		return plural(n, "day")
	}
	return given
}

// cellClass is the CSS class of a member cell: unknown, n/a, none or "".
func cellClass(text string) string {
	switch {
	case strings.HasPrefix(text, "unknown: "):
		return "unknown"
	case text == "n/a":
		return "na"
	case text == "none":
		return "none"
	}
	return ""
}

// headers name the columns whose words alone would mislead an auditor:
// lastUpdated and lastUpdatedBy are the membership's, not the person's.
var headers = map[string]string{
	"id": "ID", "mfaEnrolled": "MFA enrolled",
	"lastUpdated": "Membership changed", "lastUpdatedBy": "Membership changed by",
}

// headerOf is a column's header: invitedAt -> Invited at.
func headerOf(col string) string {
	if h, ok := headers[col]; ok {
		return h
	}
	var b strings.Builder
	for i, r := range col {
		switch {
		case i == 0:
			b.WriteString(strings.ToUpper(string(r)))
		case r >= 'A' && r <= 'Z':
			b.WriteByte(' ')
			b.WriteString(strings.ToLower(string(r)))
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

const htmlReport = `{{define "head"}}<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}} ({{.R.ReviewedAt}})</title>
<style>
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1d2330; margin: 0; background: #f6f7f9; }
header, section, footer { max-width: 1400px; margin: 0 auto; padding: 16px 28px; }
header { background: #fff; border-bottom: 1px solid #dde1e7; max-width: none; }
h1 { font-size: 22px; margin: 4px 0 6px; }
h2 { font-size: 17px; margin: 18px 0 8px; }
.meta { color: #555e6e; margin: 0; }
.meta code { font-size: 12px; }
.cards { display: flex; flex-wrap: wrap; gap: 10px; }
.card { background: #fff; border: 1px solid #dde1e7; border-radius: 6px; padding: 10px 14px; min-width: 110px; }
.card b { display: block; font-size: 22px; }
.card.high b { color: #b3261e; } .card.medium b { color: #b26a00; } .card.low b { color: #55627a; }
table { border-collapse: collapse; width: 100%; background: #fff; border: 1px solid #dde1e7; }
th, td { text-align: left; vertical-align: top; padding: 6px 8px; border-bottom: 1px solid #eceff3; }
th { background: #eef1f5; font-weight: 600; position: sticky; top: 0; }
table.members td { font-size: 12.5px; }
.sev { font-weight: 700; text-transform: uppercase; font-size: 12px; }
.sev.high { color: #b3261e; } .sev.medium { color: #b26a00; } .sev.low { color: #55627a; }
tr.accepted td { color: #6b7280; }
td.unknown { color: #8a4b00; background: #fff7e6; font-style: italic; }
td.na, td.none { color: #9aa3b2; }
.result.fail { color: #b3261e; font-weight: 600; } .result.pass { color: #1e7b34; } .result.incomplete { color: #8a4b00; font-weight: 600; }
.empty { background: #fff; border: 1px solid #dde1e7; padding: 10px 14px; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12px; }
footer { color: #6b7280; font-size: 12px; }
</style>
</head>
<body>
<header>
<h1>{{.Title}}</h1>
<p class="meta">Project <code>{{.R.Project.ID}}</code> on {{.R.Reviewer.Server}}, reviewed {{.R.ReviewedAt}} as <code>{{.R.Reviewer.Profile}}</code>
({{if .R.Reviewer.SuperAdmin}}a super admin: every user is visible{{else}}a project admin: server-scoped users' MFA and invites are not visible, and are marked unknown{{end}}).</p>
<p class="meta">Thresholds: invites pending over {{threshold .R.Settings.StaleInvite}}, client secrets over {{threshold .R.Settings.SecretMaxAge}}.{{if .R.Settings.Ignore}} Accepted risks: {{.R.Settings.Ignore}}.{{end}}{{if .R.Settings.Baseline}} Compared with {{.R.Settings.Baseline}}.{{end}}</p>
<p class="meta" id="gate" data-result="{{with .Gate.FailOn}}{{$.Gate.Result}}{{else}}none{{end}}" data-exit="{{.Gate.Exit}}">{{if .Gate.FailOn}}Gate <code>--fail-on {{.Gate.FailOn}}</code>{{if .Gate.AllowUnchecked}} <code>--allow-unchecked</code>{{end}}: <span class="result {{.Gate.Result}}">{{if eq .Gate.Result "pass"}}passed{{else if eq .Gate.Result "fail"}}failed{{else}}failed on what it could not see{{end}}</span> (exit {{.Gate.Exit}}): {{.Gate.Text}}.{{else}}No gate: the review ran without <code>--fail-on</code>.{{end}}</p>
</header>
<section id="findings">
<h2>Findings</h2>
{{if .Findings}}<table class="findings">
<thead><tr><th>Severity</th><th>Rule</th><th>Member</th><th>Detail</th><th>How to fix</th></tr></thead>
<tbody>
{{else}}<p class="empty" id="no-findings">No findings{{if .Accepted}} that are not accepted{{end}}.</p>
{{end}}{{end}}{{define "finding"}}<tr class="finding" data-rule="{{.Rule}}" data-severity="{{.Severity}}" data-member="{{.Member}}"><td class="sev {{.Severity}}">{{.Severity}}</td><td><code>{{.Rule}}</code></td><td>{{if .Member}}{{.Name}}<br><code>{{.Member}}</code>{{else}}(the project){{end}}</td><td>{{.Detail}}</td><td>{{fix .Rule}}</td></tr>
{{end}}{{define "accepted"}}{{if .Findings}}</tbody>
</table>
{{end}}{{if .Accepted}}<h2>Accepted risks</h2>
<table class="accepted">
<thead><tr><th>Severity</th><th>Rule</th><th>Member</th><th>Detail</th><th>Accepted because</th></tr></thead>
<tbody>
{{end}}{{end}}{{define "acceptedFinding"}}<tr class="finding accepted" data-rule="{{.Rule}}" data-severity="{{.Severity}}" data-member="{{.Member}}"><td class="sev {{.Severity}}">{{.Severity}}</td><td><code>{{.Rule}}</code></td><td>{{if .Member}}{{.Name}}<br><code>{{.Member}}</code>{{else}}(the project){{end}}</td><td>{{.Detail}}</td><td>{{.Accepted.Reason}}{{if .Accepted.Expires}} (until {{.Accepted.Expires}}){{end}} <code>{{.Accepted.Where}}</code></td></tr>
{{end}}{{define "middle"}}{{if .Accepted}}</tbody>
</table>
{{end}}{{if .IgnoreNotes}}<p class="meta" id="ignore-notes">Ignore file entries that did not apply: {{range $i, $n := .IgnoreNotes}}{{if $i}}; {{end}}<code>{{$n.Where}}</code> ({{$n.Rule}}{{if $n.Member}}, {{$n.Member}}{{end}}): {{$n.Note}}{{end}}.</p>
{{end}}</section>
<section id="counts">
<h2>Counts</h2>
<div class="cards">
<div class="card high"><b>{{index .Counts.Findings "high"}}</b> high</div>
<div class="card medium"><b>{{index .Counts.Findings "medium"}}</b> medium</div>
<div class="card low"><b>{{index .Counts.Findings "low"}}</b> low</div>
<div class="card"><b>{{.Counts.Accepted}}</b> accepted</div>
<div class="card"><b>{{.Counts.NotChecked}}</b> checks not possible</div>
<div class="card"><b>{{.Counts.Members}}</b> members</div>
<div class="card"><b>{{.Counts.People}}</b> people</div>
<div class="card"><b>{{.Counts.Clients}}</b> clients</div>
<div class="card"><b>{{.Counts.Bots}}</b> bots</div>
<div class="card"><b>{{.Counts.Admins}}</b> admins</div>
<div class="card"><b>{{.Counts.Inactive}}</b> deactivated</div>
<div class="card"><b>{{.Counts.PendingInvites}}</b> invites pending</div>
<div class="card"><b>{{.Counts.PendingUnknown}}</b> invites unknown</div>
<div class="card"><b>{{.Counts.WithUnknowns}}</b> members with unknowns</div>
</div>
</section>
<section id="rules">
<h2>Rules</h2>
<table class="rules">
<thead><tr><th>Rule</th><th>Severity</th><th>Result</th><th>Findings</th><th>Accepted</th><th>Not checked</th><th>What it checks</th></tr></thead>
<tbody>
{{range .Rules}}<tr data-rule="{{.ID}}" data-result="{{.Result}}"><td><code>{{.ID}}</code></td><td class="sev {{.Severity}}">{{.Severity}}</td><td class="result {{.Result}}">{{.Result}}</td><td>{{.Findings}}</td><td>{{.Accepted}}</td><td>{{.NotChecked}}{{range .Reasons}}<br><small>{{.Count}}: {{.Reason}}{{if .Members}} ({{range $i, $m := .Members}}{{if $i}}, {{end}}{{$m}}{{end}}{{if gt .Count (len .Members)}}, …{{end}}){{end}}</small>{{end}}</td><td>{{what .ID}}</td></tr>
{{end}}</tbody>
</table>
</section>
{{if .R.Settings.Baseline}}<section id="changes">
<h2>Changes since {{.R.Settings.Baseline}}</h2>
<table class="changes">
<thead><tr><th>Change</th><th>Member</th><th>From</th><th>To</th></tr></thead>
<tbody>
{{end}}{{end}}{{define "change"}}<tr data-change="{{.Change}}" data-member="{{.Member}}"><td>{{.Change}}</td><td>{{.Name}}<br><code>{{.Member}}</code></td><td>{{.From}}</td><td>{{.To}}</td></tr>
{{end}}{{define "members"}}{{if .R.Settings.Baseline}}</tbody>
</table>
</section>
{{end}}<section id="members">
<h2>Members ({{.Counts.Members}})</h2>
<table class="members">
<thead><tr>{{range .Columns}}<th>{{header .}}</th>{{end}}</tr></thead>
<tbody>
{{end}}{{define "row"}}<tr data-member="{{index .Cells 0}}">{{range $i, $c := .Cells}}<td data-col="{{index $.Columns $i}}"{{with cellClass $c}} class="{{.}}"{{end}}>{{$c}}</td>{{end}}</tr>
{{end}}{{define "foot"}}</tbody>
</table>
</section>
<footer>medplum {{.Version}} members review. Rules: medplum help review-rules.</footer>
</body>
</html>
{{end}}`
