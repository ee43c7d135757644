package output

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/template"

	"github.com/itchyny/gojq"

	"github.com/medplumcli/medplum/commands/cmdutil"
	"github.com/medplumcli/medplum/commands/iostreams"
)

// The document formats: what -o json prints, as it is (json), as YAML
// (yaml), filtered by a jq expression (--jq) or through a Go template
// (--template). A command prints a document with o.WriteDoc or
// o.WriteDocs (server bytes) or o.WriteData (the CLI's own data), and
// chooses between a document and rows with o.Document().

// Document reports whether the output is a document (-o json or -o yaml,
// --jq, --template) rather than rows or ndjson.
func (o *Options) Document() bool { return o.Format == JSON || o.Format == YAML }

// Filtered reports whether --jq or --template or -o yaml was given: output
// that only a whole document can feed (a command that streams its JSON
// refuses them).
func (o *Options) Filtered() bool { return o.JQ != "" || o.Template != "" || o.Format == YAML }

// checkFilters compiles --jq and --template; their errors are usage errors
// (exit 2) naming the position, found before anything is sent.
func (o *Options) checkFilters() error {
	if o.JQ == "" && o.Template == "" {
		return nil
	}
	if o.JQ != "" && o.Template != "" {
		return cmdutil.FlagErrorf("--jq and --template cannot be used together")
	}
	flag := "--jq"
	if o.Template != "" {
		flag = "--template"
	}
	if o.formatSet && o.Format != JSON {
		return cmdutil.FlagErrorf("%s works on the JSON output: leave out -o %s (or use -o json)", flag, o.Format)
	}
	o.Format = JSON
	if o.JQ != "" {
		code, err := compileJQ(o.JQ)
		if err != nil {
			return err
		}
		o.jq = code
		return nil
	}
	t, err := template.New(templateName).Option("missingkey=zero").Funcs(templateFuncs(nil, nil)).Parse(o.Template)
	if err != nil {
		return cmdutil.InputErrorf("invalid --template: %s", templateError(err, o.Template))
	}
	if err := checkTemplate(t, o.Template); err != nil {
		return cmdutil.InputErrorf("invalid --template: %v", err)
	}
	o.tmpl = t
	return nil
}

// compileJQ parses and compiles a jq expression. An error names its
// position: a syntax error where the offending token starts; an undefined
// function, variable or label, or a format gojq does not know (which gojq
// would find only when it runs, after the request), where that name is
// (jqpos.go). The position is a column, or a line and a column when the
// expression has several lines.
func compileJQ(expr string) (*gojq.Code, error) {
	q, err := gojq.Parse(expr)
	if err != nil {
		var pe *gojq.ParseError
		if errors.As(err, &pe) {
			at := min(max(pe.Offset-len(pe.Token), 0), len(expr))
			if pe.Token == "" && pe.Offset >= len(expr) {
				return nil, cmdutil.InputErrorf("invalid --jq expression %q: %s at %s (the end)", expr, pe, textPosition(expr, at))
			}
			return nil, cmdutil.InputErrorf("invalid --jq expression %q: %s at %s", expr, pe, textPosition(expr, at))
		}
		return nil, cmdutil.InputErrorf("invalid --jq expression %q: %v", expr, err)
	}
	if name, at, ok := unknownFormat(expr, q); ok {
		if at < 0 {
			return nil, cmdutil.InputErrorf("invalid --jq expression %q: format not defined: %s", expr, name)
		}
		return nil, cmdutil.InputErrorf("invalid --jq expression %q: format not defined: %s at %s", expr, name, textPosition(expr, at))
	}
	code, err := gojq.Compile(q)
	if err != nil {
		if at := refOffset(expr, failingRef(expr, err.Error())); at >= 0 {
			return nil, cmdutil.InputErrorf("invalid --jq expression %q: %v at %s", expr, err, textPosition(expr, at))
		}
		return nil, cmdutil.InputErrorf("invalid --jq expression %q: %v", expr, err)
	}
	return code, nil
}

// WriteDoc prints one JSON document (a server answer, byte for byte as
// the server wrote it) in the document format: indented JSON, YAML (keys
// in the same order), or what --jq or --template make of it.
func (o *Options) WriteDoc(ios *iostreams.IOStreams, doc []byte) error {
	switch {
	case o.jq != nil:
		return o.runJQ(ios, doc)
	case o.tmpl != nil:
		return o.runTemplate(ios, doc)
	case o.Format == YAML:
		return WriteYAML(ios.Out, doc)
	}
	return WriteJSON(ios.Out, doc)
}

// WriteDocs prints documents as one JSON array, each as the server wrote it.
func (o *Options) WriteDocs(ios *iostreams.IOStreams, docs []json.RawMessage) error {
	arr := []byte{'['}
	for i, d := range docs {
		if i > 0 {
			arr = append(arr, ',')
		}
		arr = append(arr, d...)
	}
	return o.WriteDoc(ios, append(arr, ']'))
}

// WriteData prints the CLI's own data (not server JSON) as a document.
func (o *Options) WriteData(ios *iostreams.IOStreams, v any) error {
	b, err := cmdutil.MarshalJSON(v, "")
	if err != nil {
		return err
	}
	return o.WriteDoc(ios, b)
}

// decodeDoc decodes a document for jq and templates: numbers stay
// json.Number, so that decimals and big integers keep their digits.
func decodeDoc(doc []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

// runJQ prints each result of the --jq expression: a string as it is, any
// other value as JSON, indented on a terminal and compact when piped (as gh
// does). Object keys come out sorted (jq's objects have no order).
func (o *Options) runJQ(ios *iostreams.IOStreams, doc []byte) error {
	v, err := decodeDoc(doc)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	iter := o.jq.RunWithContext(context.Background(), v)
	for {
		r, ok := iter.Next()
		if !ok {
			break
		}
		if err, ok := r.(error); ok {
			var halt *gojq.HaltError
			if errors.As(err, &halt) && halt.Value() == nil {
				break
			}
			if _, err := ios.Out.Write(buf.Bytes()); err != nil {
				return err
			}
			return fmt.Errorf("--jq %q: %v", o.JQ, err)
		}
		if s, ok := r.(string); ok {
			buf.WriteString(s)
			buf.WriteByte('\n')
			continue
		}
		b, err := gojq.Marshal(r)
		if err != nil {
			return fmt.Errorf("--jq %q: %v", o.JQ, err)
		}
		if ios.IsStdoutTTY() {
			var ind bytes.Buffer
			if json.Indent(&ind, b, "", "  ") == nil {
				b = ind.Bytes()
			}
		}
		buf.Write(b)
		buf.WriteByte('\n')
	}
	_, err = ios.Out.Write(buf.Bytes())
	return err
}

// runTemplate executes --template on the document, then prints the rows
// tablerow collected (aligned on a terminal, tab-separated when piped).
func (o *Options) runTemplate(ios *iostreams.IOStreams, doc []byte) error {
	v, err := decodeDoc(doc)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	tab := &templateTable{tty: ios.IsStdoutTTY()}
	t, err := o.tmpl.Clone()
	if err != nil {
		return err
	}
	t.Funcs(templateFuncs(tab, &buf))
	if err := t.Execute(&buf, v); err != nil {
		_, _ = ios.Out.Write(buf.Bytes())
		return fmt.Errorf("--template: %s", templateError(err, o.Template))
	}
	tab.flush(&buf)
	_, err = ios.Out.Write(buf.Bytes())
	return err
}

// writeTo is what a function of the template writes into: the template's
// output so far.
type writeTo interface {
	io.Writer
	WriteString(string) (int, error)
}

const templateName = "t"

// templateError turns text/template's "template: t:1:5: msg" into "line
// 1, column 6: msg": text/template counts the column in bytes from 0,
// --template's (and --jq's) count characters from 1.
func templateError(err error, text string) string {
	msg, ok := strings.CutPrefix(err.Error(), "template: "+templateName+":")
	if !ok {
		return strings.TrimPrefix(err.Error(), "template: ")
	}
	pos, rest, ok := strings.Cut(msg, ": ")
	if !ok {
		return msg
	}
	line, col, hasCol := strings.Cut(pos, ":")
	if !hasCol {
		return "line " + line + ": " + rest
	}
	l, err1 := strconv.Atoi(line)
	b, err2 := strconv.Atoi(col)
	lines := strings.Split(text, "\n")
	if err1 != nil || err2 != nil || l < 1 || l > len(lines) || b < 0 {
		return "line " + line + ", column " + col + ": " + rest
	}
	at := len(strings.Join(lines[:l-1], "\n")) + min(b, len(lines[l-1]))
	if l > 1 {
		at++
	}
	return templatePosition(text, at) + ": " + rest
}
