package rest

import (
	"context"
	"encoding/json"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/commands/output"
)

// getAll reads every page of a search. ndjson is streamed page by page;
// json prints one searchset Bundle: the first page's fields in the server's
// order, every page's entries, and only the self link; table and csv print
// a row per resource of every page.
func getAll(ctx context.Context, opts *Options, c *client.Client, u string) error {
	var first *node
	var entries []*node
	var resources []json.RawMessage
	for page, err := range c.Pages(ctx, u) {
		if err != nil {
			return err
		}
		if opts.Output.Format == output.NDJSON && !opts.AsTransaction {
			if err := output.WriteNDJSON(opts.IO.Out, output.Entries(page.Raw)); err != nil {
				return err
			}
			continue
		}
		doc, err := parseNode(page.Raw)
		if err != nil {
			return err
		}
		if first == nil {
			first = doc
		}
		if e := doc.get("entry"); e != nil {
			entries = append(entries, e.elems...)
			for _, en := range e.elems {
				if r := en.get("resource"); r != nil {
					resources = append(resources, r.bytes())
				}
			}
		}
	}
	if first == nil {
		return nil // ndjson: already printed
	}
	merged := first
	if len(entries) > 0 || first.get("entry") != nil {
		merged.set("entry", &node{kind: '[', elems: entries})
	}
	if links := merged.get("link"); links != nil && links.kind == '[' {
		var keep []*node
		for _, l := range links.elems {
			if rel, _ := l.get("relation").str(); rel == "self" {
				keep = append(keep, l)
			}
		}
		links.elems = keep
	}
	if opts.AsTransaction {
		return printTransaction(opts, merged.bytes())
	}
	if opts.Output.Tabular() {
		rows, err := output.ResourceRows(resources)
		if err != nil {
			return err
		}
		return opts.Output.WriteRows(opts.IO, rows)
	}
	return opts.Output.WriteBody(opts.IO, merged.bytes())
}
