package review

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// Report is what a review found, apart from the member rows (which are
// printed as they come): the header of the JSON document and what follows
// the members.
type Report struct {
	Project    ReportProject `json:"project"`
	ReviewedAt string        `json:"reviewedAt"`
	Reviewer   Reviewer      `json:"reviewer"`
	Settings   Settings      `json:"settings"`

	counts   Counts
	rules    map[string]*RuleResult
	findings *spool[Finding]
	changes  *spool[Change]
	ignores  *Ignores
	baseline *Baseline
	now      time.Time
	// unchecked are the rules not checked by member ("rule member"), with
	// why, kept only to compare with a baseline.
	unchecked map[string]string
}

// ReportProject names the project reviewed.
type ReportProject struct {
	ID          string `json:"id"`
	Name        string `json:"name,omitempty"`
	MFARequired any    `json:"mfaRequired"` // bool, or null when unknown
	Policies    int    `json:"accessPolicies"`
}

// Reviewer is who ran the review: what they could see depends on it.
type Reviewer struct {
	Profile    string `json:"profile,omitempty"`
	SuperAdmin bool   `json:"superAdmin"`
	Server     string `json:"server"`
}

// Settings are the review's thresholds and files.
type Settings struct {
	// The thresholds as given: 14d, 36h, 5m.
	StaleInvite    string `json:"staleInvite"`
	SecretMaxAge   string `json:"secretMaxAge"`
	FailOn         string `json:"failOn,omitempty"`
	AllowUnchecked bool   `json:"allowUnchecked,omitempty"`
	Ignore         string `json:"ignore,omitempty"`
	Baseline       string `json:"baseline,omitempty"`
}

// Counts sum up the project and the findings.
type Counts struct {
	Members        int `json:"members"`
	People         int `json:"people"`
	Clients        int `json:"clients"`
	Bots           int `json:"bots"`
	Admins         int `json:"admins"`
	Inactive       int `json:"inactive"`
	PendingInvites int `json:"pendingInvites"`
	// PendingUnknown are the people whose invites these credentials cannot
	// read (server-scoped users, to a project admin).
	PendingUnknown int            `json:"pendingInvitesUnknown"`
	WithUnknowns   int            `json:"membersWithUnknowns"`
	Findings       map[string]int `json:"findings"` // by severity, accepted ones left out
	Accepted       int            `json:"accepted"`
	NotChecked     int            `json:"notChecked"`
}

// RuleResult is how one rule came out.
type RuleResult struct {
	ID       string   `json:"id"`
	Severity Severity `json:"severity"`
	// Result is pass (nothing found, everything checked), fail (a finding
	// not accepted), accepted (findings, all accepted), or incomplete
	// (nothing found among what could be checked, but some members could
	// not be).
	Result     string             `json:"result"`
	Findings   int                `json:"findings"`
	Accepted   int                `json:"accepted"`
	NotChecked int                `json:"notChecked"`
	Reasons    []NotCheckedReason `json:"notCheckedReasons,omitempty"`
}

// NotCheckedReason groups the members a rule could not check by why.
type NotCheckedReason struct {
	Reason  string   `json:"reason"`
	Count   int      `json:"count"`
	Members []string `json:"members"` // names, at most maxExamples
}

const maxExamples = 20

// maxReasons bounds the reasons a rule lists.
const maxReasons = 10

func newReport(now time.Time) *Report {
	r := &Report{
		rules: map[string]*RuleResult{}, findings: newSpool[Finding](), changes: newSpool[Change](), now: now,
		counts: Counts{Findings: map[string]int{"high": 0, "medium": 0, "low": 0}},
	}
	r.ReviewedAt = now.UTC().Format(time.RFC3339)
	for _, rule := range Rules {
		r.rules[rule.ID] = &RuleResult{ID: rule.ID, Severity: rule.Severity}
	}
	return r
}

func (r *Report) close() {
	r.findings.close()
	r.changes.close()
}

// count adds a member to the counts and compares it with the baseline.
func (r *Report) count(m *Member) error {
	c := &r.counts
	c.Members++
	switch m.Kind {
	case "person":
		c.People++
	case "client":
		c.Clients++
	case "bot":
		c.Bots++
	}
	if m.Admin {
		c.Admins++
	}
	if !m.Active {
		c.Inactive++
	}
	if p, _ := m.InvitePending.val.(bool); p {
		c.PendingInvites++
	} else if m.Kind == "person" && m.InvitePending.state == unknown {
		c.PendingUnknown++
	}
	for _, col := range Columns {
		if m.cell(col).state == unknown {
			c.WithUnknowns++
			break
		}
	}
	if r.baseline != nil {
		for _, ch := range r.baseline.compare(m) {
			if err := r.changes.add(ch); err != nil {
				return err
			}
		}
	}
	return nil
}

func (r *Report) finding(f Finding) error {
	rr := r.rules[f.Rule]
	if f.Accepted != nil {
		rr.Accepted++
		r.counts.Accepted++
	} else {
		rr.Findings++
		r.counts.Findings[f.Severity.String()]++
	}
	if r.baseline != nil {
		if ch, isNew := r.baseline.finding(f); isNew {
			if err := r.changes.add(ch); err != nil {
				return err
			}
		}
	}
	return r.findings.add(f)
}

func (r *Report) notChecked(rule string, m *Member, reason string) {
	if r.baseline != nil {
		id := ""
		if m != nil {
			id = m.ID
		}
		if r.unchecked == nil {
			r.unchecked = map[string]string{}
		}
		r.unchecked[findingKey(rule, id)] = reason
	}
	rr := r.rules[rule]
	rr.NotChecked++
	r.counts.NotChecked++
	var g *NotCheckedReason
	for i := range rr.Reasons {
		if rr.Reasons[i].Reason == reason {
			g = &rr.Reasons[i]
		}
	}
	if g == nil && len(rr.Reasons) == maxReasons {
		g = &rr.Reasons[maxReasons-1] // (reasons are few; this only bounds a surprise)
		g.Reason = "other reasons"
	}
	if g == nil {
		rr.Reasons = append(rr.Reasons, NotCheckedReason{Reason: reason, Members: []string{}})
		g = &rr.Reasons[len(rr.Reasons)-1]
	}
	g.Count++
	if m != nil && len(g.Members) < maxExamples {
		g.Members = append(g.Members, m.Name)
	}
}

// finish closes the counts once every member was read: removed members,
// rule results.
func (r *Report) finish() error {
	if r.baseline != nil {
		uncheckedNow := func(rule, member string) (string, bool) {
			why, ok := r.unchecked[findingKey(rule, member)]
			return why, ok
		}
		for _, ch := range append(r.baseline.removed(), r.baseline.resolved(uncheckedNow)...) {
			if err := r.changes.add(ch); err != nil {
				return err
			}
		}
	}
	for _, rr := range r.rules {
		switch {
		case rr.Findings > 0:
			rr.Result = "fail"
		case rr.NotChecked > 0:
			rr.Result = "incomplete"
		case rr.Accepted > 0:
			rr.Result = "accepted"
		default:
			rr.Result = "pass"
		}
	}
	return nil
}

// eachFinding calls fn with the findings in the order every format gives
// them: those not accepted by severity, high first, then the accepted
// ones; in the order found within each group. The spool is read once per
// group.
func (r *Report) eachFinding(fn func(Finding) error) error {
	for _, group := range []Severity{High, Medium, Low, 0} {
		err := r.findings.each(func(f Finding) error {
			if (group == 0) == (f.Accepted != nil) && (group == 0 || f.Severity == group) {
				return fn(f)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// ruleResults are the rule results in rule order.
func (r *Report) ruleResults() []*RuleResult {
	out := make([]*RuleResult, len(Rules))
	for i, rule := range Rules {
		out[i] = r.rules[rule.ID]
	}
	return out
}

// Failing counts the findings not accepted at or above a severity.
func (r *Report) Failing(at Severity) int {
	n := 0
	for _, s := range []Severity{High, Medium, Low} {
		if s >= at {
			n += r.counts.Findings[s.String()]
		}
	}
	return n
}

// Unchecked counts the checks that rules at or above a severity could not
// make, and says which: "rule for N members (reason; reason)", by rule.
func (r *Report) Unchecked(at Severity) (int, string) {
	n := 0
	var parts []string
	for _, rr := range r.ruleResults() {
		if rr.Severity < at || rr.NotChecked == 0 {
			continue
		}
		n += rr.NotChecked
		why := make([]string, len(rr.Reasons))
		for i, g := range rr.Reasons {
			why[i] = g.Reason
		}
		what := rr.ID
		if rule, _ := ruleByID(rr.ID); !rule.Project {
			what += " for " + plural(rr.NotChecked, "member")
		}
		parts = append(parts, what+" ("+strings.Join(why, "; ")+")")
	}
	return n, strings.Join(parts, "; ")
}

// IgnoreNote is what the report says about an ignore entry that did not
// apply as written.
type IgnoreNote struct {
	Where  string `json:"where"`
	Rule   string `json:"rule"`
	Member string `json:"member,omitempty"`
	Note   string `json:"note"`
}

// ignoreNotes lists expired entries and entries that matched no finding.
func (r *Report) ignoreNotes() []IgnoreNote {
	out := []IgnoreNote{}
	if r.ignores == nil {
		return out
	}
	for _, e := range r.ignores.Entries {
		switch {
		case e.Expired(r.now):
			out = append(out, IgnoreNote{Where: e.Where, Rule: e.Rule, Member: e.Member,
				Note: "expired on " + e.ExpiresText() + ": no longer applies"})
		case e.matched == 0:
			out = append(out, IgnoreNote{Where: e.Where, Rule: e.Rule, Member: e.Member, Note: "matches no finding"})
		}
	}
	return out
}

// jsonDoc writes the review as one JSON document, the members streamed:
// begin writes the header and opens the members, member adds one, end
// closes the list and writes the rest. The bytes are those json.Indent
// gives the whole document.
type jsonDoc struct {
	w   *bufio.Writer
	n   int // items of the open list
	buf bytes.Buffer
}

func newJSONDoc(w io.Writer) *jsonDoc { return &jsonDoc{w: bufio.NewWriterSize(w, 64<<10)} }

// indent puts v, indented at prefix, in d.buf.
func (d *jsonDoc) indent(v any, prefix string) error {
	b, err := marshal(v)
	if err != nil {
		return err
	}
	d.buf.Reset()
	return json.Indent(&d.buf, b, prefix, "  ")
}

// key writes a member of the document: `"k": v`, after a comma unless first.
func (d *jsonDoc) key(k string, v any, first bool) error {
	if err := d.indent(v, "  "); err != nil {
		return err
	}
	if !first {
		d.w.WriteString(",")
	}
	d.open(k)
	_, err := d.w.Write(d.buf.Bytes())
	return err
}

func (d *jsonDoc) open(k string) {
	kb, _ := marshal(k)
	d.w.WriteString("\n  ")
	d.w.Write(kb)
	d.w.WriteString(": ")
}

// list opens a list member; item adds to it, close ends it.
func (d *jsonDoc) list(k string) {
	d.w.WriteString(",")
	d.open(k)
	d.w.WriteString("[")
	d.n = 0
}

func (d *jsonDoc) item(v any) error {
	if err := d.indent(v, "    "); err != nil {
		return err
	}
	if d.n > 0 {
		d.w.WriteByte(',')
	}
	d.n++
	d.w.WriteString("\n    ")
	_, err := d.w.Write(d.buf.Bytes())
	return err
}

func (d *jsonDoc) close() {
	if d.n > 0 {
		d.w.WriteString("\n  ")
	}
	d.w.WriteString("]")
}

func (d *jsonDoc) begin(r *Report) error {
	d.w.WriteString("{")
	for i, kv := range []struct {
		k string
		v any
	}{{"project", r.Project}, {"reviewedAt", r.ReviewedAt}, {"reviewer", r.Reviewer}, {"settings", r.Settings}} {
		if err := d.key(kv.k, kv.v, i == 0); err != nil {
			return err
		}
	}
	d.list("members")
	return nil
}

func (d *jsonDoc) member(m *Member) error { return d.item(m) }

func (d *jsonDoc) end(r *Report) error {
	d.close()
	d.list("findings")
	if err := r.eachFinding(func(f Finding) error { return d.item(f) }); err != nil {
		return err
	}
	d.close()
	if err := d.key("rules", r.ruleResults(), false); err != nil {
		return err
	}
	if r.baseline != nil {
		if err := d.key("baseline", map[string]string{"file": r.baseline.File, "reviewedAt": r.baseline.ReviewedAt}, false); err != nil {
			return err
		}
		d.list("changes")
		if err := r.changes.each(func(c Change) error { return d.item(c) }); err != nil {
			return err
		}
		d.close()
	}
	if r.ignores != nil {
		if err := d.key("ignoreNotes", r.ignoreNotes(), false); err != nil {
			return err
		}
	}
	if err := d.key("counts", r.counts, false); err != nil {
		return err
	}
	d.w.WriteString("\n}\n")
	return d.w.Flush()
}

// summary writes the findings, what could not be checked, the changes and
// the counts as text, for a terminal or a log.
func (r *Report) summary(w io.Writer) error {
	bw := bufio.NewWriter(w)
	c := r.counts
	fmt.Fprintf(bw, "Findings: %d high, %d medium, %d low", c.Findings["high"], c.Findings["medium"], c.Findings["low"])
	if c.Accepted > 0 {
		fmt.Fprintf(bw, " (and %d accepted)", c.Accepted)
	}
	bw.WriteString("\n")
	// The findings by severity, then the accepted ones, aligned: the spool
	// is read once for the column widths and once per group.
	row := func(f Finding) []string {
		who := f.Name
		if f.Member == "" {
			who = "(project)"
		}
		if f.Accepted != nil {
			why := f.Accepted.Reason
			if f.Accepted.Expires != "" {
				why += " (until " + f.Accepted.Expires + ")"
			}
			return []string{"accepted", f.Rule, who, why + " [" + f.Accepted.Where + "]"}
		}
		return []string{f.Severity.String(), f.Rule, who, f.Detail}
	}
	var widths []int
	if err := r.findings.each(func(f Finding) error { widths = widen(widths, row(f)); return nil }); err != nil {
		return err
	}
	if err := r.eachFinding(func(f Finding) error { writeRow(bw, "  ", widths, row(f)); return nil }); err != nil {
		return err
	}

	var nc [][]string
	for _, rr := range r.ruleResults() {
		for _, g := range rr.Reasons {
			who := strings.Join(g.Members, ", ")
			if g.Count > len(g.Members) {
				who += fmt.Sprintf(", and %d more", g.Count-len(g.Members))
			}
			if who == "" {
				who = "(project)"
			}
			nc = append(nc, []string{rr.ID, plural(g.Count, "member"), g.Reason + ": " + who})
		}
	}
	if len(nc) > 0 {
		bw.WriteString("Not checked (the data is not visible to these credentials):\n")
		writeAligned(bw, "  ", nc)
	}
	if r.baseline != nil {
		fmt.Fprintf(bw, "Changes since %s (%s): %s\n", r.baseline.ReviewedAt, r.baseline.File, plural(r.changes.len(), "change"))
		var ch [][]string
		if err := r.changes.each(func(c Change) error {
			what := ""
			switch {
			case c.From != "" && c.To != "":
				what = c.From + " -> " + c.To
			default:
				what = c.From + c.To
			}
			ch = append(ch, []string{c.Change, c.Name, what})
			return nil
		}); err != nil {
			return err
		}
		writeAligned(bw, "  ", ch)
	}
	if notes := r.ignoreNotes(); len(notes) > 0 {
		fmt.Fprintf(bw, "Ignore file %s:\n", r.ignores.File)
		var rows [][]string
		for _, n := range notes {
			rows = append(rows, []string{n.Where, n.Rule, n.Member, n.Note})
		}
		writeAligned(bw, "  ", rows)
	}
	fmt.Fprintf(bw, "%s (%s, %s, %s): %s, %d deactivated, %s pending",
		plural(c.Members, "member"), plural(c.People, "person"), plural(c.Clients, "client"), plural(c.Bots, "bot"),
		plural(c.Admins, "admin"), c.Inactive, plural(c.PendingInvites, "invite"))
	if c.PendingUnknown > 0 {
		fmt.Fprintf(bw, ", %d unknown", c.PendingUnknown)
	}
	if c.WithUnknowns > 0 {
		fmt.Fprintf(bw, "; %d with values these credentials cannot read", c.WithUnknowns)
	}
	bw.WriteString("\n")
	return bw.Flush()
}

func plural(n int, unit string) string {
	switch {
	case n == 1:
		return "1 " + unit
	case unit == "person":
		return fmt.Sprintf("%d people", n)
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

// writeAligned writes rows with their columns aligned (the last one as it
// is), each line indented.
func writeAligned(w *bufio.Writer, indent string, rows [][]string) {
	var widths []int
	for _, r := range rows {
		widths = widen(widths, r)
	}
	for _, r := range rows {
		writeRow(w, indent, widths, r)
	}
}

// widen grows the column widths (all columns but the last) to fit a row.
func widen(widths []int, r []string) []int {
	for i, c := range r[:len(r)-1] {
		if i >= len(widths) {
			widths = append(widths, 0)
		}
		widths[i] = max(widths[i], len([]rune(c)))
	}
	return widths
}

func writeRow(w *bufio.Writer, indent string, widths []int, r []string) {
	var b strings.Builder
	b.WriteString(indent)
	for i, c := range r {
		b.WriteString(c)
		if i < len(r)-1 {
			b.WriteString(strings.Repeat(" ", widths[i]-len([]rune(c))+2))
		}
	}
	w.WriteString(strings.TrimRight(b.String(), " "))
	w.WriteString("\n")
}
