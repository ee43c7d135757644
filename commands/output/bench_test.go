package output

import (
	"fmt"
	"io"
	"strings"
	"testing"
	"text/template"

	"github.com/itchyny/gojq"

	"github.com/medplumcli/medplum/commands/iostreams"
)

// page is a searchset Bundle of n ProjectMemberships, like one page of
// `get 'ProjectMembership?_count=1000'`.
func page(n int) []byte {
	var b strings.Builder
	b.WriteString(`{"resourceType":"Bundle","type":"searchset","entry":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"fullUrl":"http://h/fhir/R4/ProjectMembership/m%d","resource":{"resourceType":"ProjectMembership","id":"m%d",`+
			`"meta":{"versionId":"v%d","lastUpdated":"2026-01-01T00:00:00.000Z","project":"p"},`+
			`"project":{"reference":"Project/p","display":"P"},"user":{"reference":"User/u%d","display":"member%d@example.com"},`+
			`"profile":{"reference":"Practitioner/x%d","display":"Member %d"},"admin":%v}}`, i, i, i, i, i, i, i, i%7 == 0)
	}
	b.WriteString(`],"link":[{"relation":"self","url":"http://h/fhir/R4/ProjectMembership?_count=1000"}]}`)
	return []byte(b.String())
}

func benchmarkFormat(b *testing.B, f Format) {
	body := page(1000)
	ios, _, _, _ := iostreams.Test()
	ios.Out = io.Discard
	o := &Options{Format: f}
	b.SetBytes(int64(len(body)))
	b.ResetTimer()
	for b.Loop() {
		if err := o.WriteBody(ios, body); err != nil {
			b.Fatal(err)
		}
	}
}

// go test -bench . ./commands/output/
func BenchmarkWriteBodyJSON1000(b *testing.B)   { benchmarkFormat(b, JSON) }
func BenchmarkWriteBodyNDJSON1000(b *testing.B) { benchmarkFormat(b, NDJSON) }
func BenchmarkWriteBodyTSV1000(b *testing.B)    { benchmarkFormat(b, Table) }
func BenchmarkWriteBodyCSV1000(b *testing.B)    { benchmarkFormat(b, CSV) }

func BenchmarkWriteBodyTable1000(b *testing.B) {
	body := page(1000)
	ios, _, _, _ := iostreams.Test()
	ios.Out = io.Discard
	ios.SetStdoutTTY(true)
	ios.SetTerminalWidth(120)
	o := &Options{Format: Table}
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if err := o.WriteBody(ios, body); err != nil {
			b.Fatal(err)
		}
	}
}

// What checking --jq costs before the request: parsing and compiling it,
// plus the walk for format terms (each asked of gojq) that finds an
// unknown format before anything is sent; and what finding an undefined
// function's position costs (only when there is one).
//
//	go test -run '^$' -bench CompileJQ ./commands/output/
func benchmarkCompileJQ(b *testing.B, expr string, wantErr bool) {
	for b.Loop() {
		if _, err := compileJQ(expr); (err != nil) != wantErr {
			b.Fatal(err)
		}
	}
}

const benchJQ = `.entry[].resource | select(.admin) | [.id, .profile.display, (.meta.lastUpdated | .[0:10])] | @tsv`

func BenchmarkCompileJQ(b *testing.B) { benchmarkCompileJQ(b, benchJQ, false) }

// BenchmarkCompileJQ without the format check: gojq's parse and compile.
func BenchmarkCompileJQWithoutFormatCheck(b *testing.B) {
	for b.Loop() {
		q, err := gojq.Parse(benchJQ)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := gojq.Compile(q); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCompileJQUndefinedFunction(b *testing.B) {
	benchmarkCompileJQ(b, `.entry[].resource | select(.admin) | [.id, .profile.display, (.meta.lastUpdated | lenght)] | @tsv`, true)
}

// What checking --template costs before the request: text/template's
// parse (which it did before) and the walk that checks every call
// (checkTemplate).
//
//	go test -run '^$' -bench Template ./commands/output/
const benchTemplate = `{{range .entry}}{{tablerow .resource.id (truncate 20 .resource.profile.display) (join "," (pluck "reference" .resource.meta.compartment)) (.resource.meta.lastUpdated | timefmt "2006-01-02") (printf "%v" .resource.admin)}}{{end}}`

func BenchmarkParseTemplate(b *testing.B) {
	for b.Loop() {
		if _, err := template.New(templateName).Option("missingkey=zero").Funcs(templateFuncs(nil, nil)).Parse(benchTemplate); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseAndCheckTemplate(b *testing.B) {
	for b.Loop() {
		o := &Options{Format: JSON, Template: benchTemplate}
		if err := o.Check(); err != nil {
			b.Fatal(err)
		}
	}
}
