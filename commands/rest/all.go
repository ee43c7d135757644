package rest

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/commands/cmdutil"
	"github.com/medplumcli/medplum/commands/ojson"
	"github.com/medplumcli/medplum/commands/output"
)

// getAll reads every page of a search. ndjson is streamed page by page; json
// prints one searchset Bundle: the first page's fields in the server's
// order, every page's entries, and only the self link; table and csv print
// a row per resource of every page.
func getAll(ctx context.Context, opts *Options, c *client.Client, u string) error {
	u, err := pagedURL(ctx, c, u)
	if err != nil {
		return err
	}
	var first *ojson.Node
	var entries []*ojson.Node
	var resources []json.RawMessage
	var lines []byte // ndjson, one page at a time
	for page, err := range c.Pages(ctx, u) {
		if err != nil {
			return offsetLimitHint(err)
		}
		if opts.Output.Format == output.NDJSON && !opts.AsTransaction {
			lines = output.AppendNDJSON(lines[:0], pageEntries(page))
			if _, err := opts.IO.Out.Write(lines); err != nil {
				return err
			}
			continue
		}
		doc, err := ojson.Parse(page.Raw)
		if err != nil {
			return err
		}
		if first == nil {
			first = doc
		}
		if e := doc.Get("entry"); e != nil {
			entries = append(entries, e.Elems...)
			for _, en := range e.Elems {
				if r := en.Get("resource"); r != nil {
					resources = append(resources, r.Bytes())
				}
			}
		}
	}
	if first == nil {
		return nil // ndjson: already printed
	}
	merged := first
	if len(entries) > 0 || first.Get("entry") != nil {
		merged.Set("entry", ojson.NewArray(entries))
	}
	if links := merged.Get("link"); links != nil && links.Kind == ojson.Array {
		var keep []*ojson.Node
		for _, l := range links.Elems {
			if rel, _ := l.Get("relation").Str(); rel == "self" {
				keep = append(keep, l)
			}
		}
		links.Elems = keep
	}
	if opts.AsTransaction {
		return printTransaction(opts, merged.Bytes())
	}
	if opts.Output.Tabular() {
		rows, err := output.ResourceRows(resources)
		if err != nil {
			return err
		}
		return opts.Output.WriteRows(opts.IO, rows)
	}
	return opts.Output.WriteBody(opts.IO, merged.Bytes())
}

// pageEntries is output.Entries of a page, from the entries client.Pages
// has already decoded: parsing the page again cost a third of get --all's
// CPU (BenchmarkGetAll).
func pageEntries(page *client.Page) []json.RawMessage {
	b := page.Bundle
	if b.Type != "searchset" && b.Type != "history" {
		return []json.RawMessage{page.Raw}
	}
	out := make([]json.RawMessage, 0, len(b.Entry))
	for _, e := range b.Entry {
		if len(e.Resource) > 0 {
			out = append(out, e.Resource)
		}
	}
	return out
}

// offsetLimitHint says how to read past Medplum's _offset limit (10,000 by
// default) when get --all meets it anyway (a search of no single type):
// with _sort=_lastUpdated the server's next links use a cursor.
func offsetLimitHint(err error) error {
	if e := client.AsError(err); e != nil && e.Status == http.StatusBadRequest &&
		strings.Contains(e.Error(), "Search offset exceeds maximum") {
		return cmdutil.WithHint(err, "past 10,000 results Medplum pages with a cursor: add _sort=_lastUpdated to the search")
	}
	return err
}
