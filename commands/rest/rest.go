// Package rest is the official CLI's REST commands: get, post, put, patch
// and delete on any URL of the server, with the same URL rules, plus --all,
// --as-transaction, --dry-run and output formats.
package rest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/MakeNowJust/heredoc"
	"github.com/spf13/cobra"

	"github.com/medplumcli/medplum/auth"
	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/commands/cmdutil"
	"github.com/medplumcli/medplum/commands/completion"
	"github.com/medplumcli/medplum/commands/iostreams"
	"github.com/medplumcli/medplum/commands/ojson"
	"github.com/medplumcli/medplum/commands/output"
)

// Options are the inputs of one REST command.
type Options struct {
	IO         *iostreams.IOStreams
	Client     func() (*client.Client, error)
	BareClient func() (*client.Client, error)

	Method string
	URL    string
	Body   bodySource

	// Ctx is the command's context: Ctrl-C cancels it.
	Ctx context.Context

	DryRun        bool
	PreferAsync   bool
	All           bool
	AsTransaction bool
	Output        output.Options
}

const urlHelp = `URL rules (as in the official CLI): a path that starts with admin/, auth/,
oauth2/ or the FHIR path (fhir/R4) is relative to the base URL; anything
else is relative to the FHIR base; an absolute URL is used as it is (a
Bundle next link can be pasted; credentials are only ever sent to the base
URL's host). A leading "/" does not change the meaning; an empty URL ("")
is the FHIR base itself, where batch and transaction Bundles are posted.`

// NewCmdGet is `medplum get <url>`.
func NewCmdGet(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := newOptions(f, http.MethodGet)
	cmd := &cobra.Command{
		Use:   "get <url>",
		Short: "GET a URL and print the answer",
		Long: heredoc.Doc(`
			GET a URL and print the answer: the server's JSON, pretty-printed, by default.

			With --all, a search follows Bundle.link[relation=next] to the last page
			and prints one searchset Bundle (-o json) or one resource per line
			(-o ndjson). A search of one type without _sort is read sorted by
			_lastUpdated (oldest first), at least 20 per page, which Medplum pages
			with a cursor past the 10,000 results it pages with _offset; a search
			whose own _sort or _offset rules that out is refused before anything is
			printed when its end lies past the server's limit. With
			--as-transaction, the Bundle is turned into a transaction that recreates
			its resources (as the official CLI does).
		`) + "\n" + urlHelp,
		Example: `  $ medplum get 'ProjectMembership?profile-type:not=ClientApplication,Bot'
  $ medplum get Patient/123
  $ medplum get 'Patient?_count=1000' --all -o ndjson > patients.ndjson
  $ medplum get 'ProjectMembership?profile-type=Practitioner' -o table`,
		Args:              cmdutil.ExactArgs(1, "a URL"),
		ValidArgsFunction: completion.URL,
		RunE: func(c *cobra.Command, args []string) error {
			opts.Ctx = c.Context()
			opts.URL = args[0]
			if err := opts.Output.Check(); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return getRun(opts)
		},
	}
	cmd.Flags().BoolVar(&opts.All, "all", false, "follow next links to the last page")
	cmd.Flags().BoolVar(&opts.AsTransaction, "as-transaction", false, "print the Bundle as a transaction that recreates its resources")
	output.AddFlags(cmd, &opts.Output, output.JSON)
	cmdutil.MarkOneAtATime(cmd)
	return cmd
}

// NewCmdWrite is `medplum post|put|patch|delete`.
func NewCmdWrite(f *cmdutil.Factory, method string, runF func(*Options) error) *cobra.Command {
	opts := newOptions(f, method)
	var cmd *cobra.Command
	switch method {
	case http.MethodPost:
		cmd = &cobra.Command{
			Use:   "post <url> [body]",
			Short: "POST a JSON body to a URL",
			Example: `  $ medplum post Project '{"resourceType":"Project","name":"ProjectName","strictMode":true}'
  $ medplum post admin/projects/<project>/invite -f invite.json
  $ medplum post Patient - < patient.json`,
		}
	case http.MethodPut:
		cmd = &cobra.Command{
			Use:     "put <url> [body]",
			Short:   "PUT a JSON body to a URL",
			Example: `  $ medplum put Patient/123 -f patient.json`,
		}
	case http.MethodPatch:
		cmd = &cobra.Command{
			Use:   "patch <url> [body]",
			Short: "PATCH a URL with a JSON Patch (RFC 6902)",
			Long: heredoc.Doc(`
				PATCH a URL with a JSON Patch (RFC 6902), checked before anything is sent.

				A Medplum server has no PATCH route for memberships under admin/; for
				admin/projects/<project>/members/<membership> this command reads the
				membership, applies the patch locally and POSTs the whole result back
				(the route's documented update). Patches that touch id, resourceType,
				project or user are refused there.
			`) + "\n" + urlHelp,
			Example: `  $ medplum patch 'admin/projects/<project>/members/<membership>' '[{"op":"replace","path":"/admin","value":true}]'
  $ medplum patch ProjectMembership/<id> '[{"op":"add","path":"/active","value":false}]'`,
		}
	case http.MethodDelete:
		cmd = &cobra.Command{
			Use:   "delete <url>",
			Short: "DELETE a URL",
			Long: heredoc.Doc(`
				DELETE a URL.

				Medplum 5.0.10 deletes a project, or anything of a deleted project,
				and then answers 410 Gone: such an answer is checked by reading the
				resource back, and when it is gone the command says so and succeeds.
			`) + "\n" + urlHelp,
			Example: `  $ medplum delete Patient/123`,
		}
	default:
		panic("rest: unsupported method " + method)
	}
	if cmd.Long == "" {
		cmd.Long = cmd.Short + ".\n\n" + urlHelp
		if method != http.MethodDelete {
			cmd.Long = cmd.Short + `. The body is a JSON argument, -f FILE, or "-" for stdin;
invalid JSON is rejected before anything is sent.` + "\n\n" + urlHelp
		}
	}
	cmd.ValidArgsFunction = completion.URL
	hasBody := method != http.MethodDelete
	if hasBody {
		cmd.Args = cmdutil.RangeArgs(1, 2, "a URL and a body")
		cmd.Flags().StringVarP(&opts.Body.File, "file", "f", "", `read the body from a file ("-" for stdin)`)
	} else {
		cmd.Args = cmdutil.ExactArgs(1, "a URL")
	}
	cmd.RunE = func(c *cobra.Command, args []string) error {
		opts.Ctx = c.Context()
		opts.URL = args[0]
		if len(args) == 2 {
			opts.Body.Arg, opts.Body.HasArg = args[1], true
		}
		opts.Body.HasFile = hasBody && c.Flags().Changed("file")
		if err := opts.Output.Check(); err != nil {
			return err
		}
		if runF != nil {
			return runF(opts)
		}
		return writeRun(opts)
	}
	cmd.Flags().BoolVar(&opts.DryRun, "dry-run", false, "print the request instead of sending it")
	if method == http.MethodPost {
		cmd.Flags().BoolVar(&opts.PreferAsync, "prefer-async", false, "send Prefer: respond-async (the server may answer 202 Accepted)")
	}
	output.AddFlags(cmd, &opts.Output, output.JSON)
	cmdutil.MarkOneAtATime(cmd)
	return cmd
}

func (o *Options) context() context.Context {
	if o.Ctx == nil {
		return context.Background()
	}
	return o.Ctx
}

func newOptions(f *cmdutil.Factory, method string) *Options {
	return &Options{IO: f.IOStreams, Client: f.Client, BareClient: f.BareClient, Method: method,
		Output: output.Options{CompleteColumns: output.URLColumns}}
}

// resolve checks the URL before anything is sent: a bad one is exit 2. An
// empty one is the FHIR base, as in the official CLI (its cleanUrl hands ""
// to fhirUrl): an empty URL argument posts a batch Bundle there.
func resolve(c *client.Client, raw string) (string, error) {
	if strings.TrimSpace(raw) == "" {
		raw = "/"
	}
	u, err := c.ResolveURL(raw)
	if err != nil {
		return "", cmdutil.InputErrorf("%v", err)
	}
	return u, nil
}

func getRun(opts *Options) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	u, err := resolve(c, opts.URL)
	if err != nil {
		return err
	}
	ctx := opts.context()
	if opts.All {
		return getAll(ctx, opts, c, u)
	}
	resp, err := c.Do(ctx, &client.Request{Method: http.MethodGet, URL: u})
	if err != nil {
		return namedGone(c, http.MethodGet, u, err)
	}
	if opts.AsTransaction {
		return printTransaction(opts, resp.Body)
	}
	return opts.Output.WriteBody(opts.IO, resp.Body)
}

func printTransaction(opts *Options, body []byte) error {
	doc, err := ojson.Parse(body)
	if err != nil {
		return fmt.Errorf("--as-transaction: the answer is not JSON: %v", err)
	}
	if t, _ := doc.Get("resourceType").Str(); t != "Bundle" {
		return fmt.Errorf("--as-transaction needs a Bundle (a search), but the answer is %s", describe(t))
	}
	return opts.Output.WriteBody(opts.IO, toTransaction(doc, newUUID).Bytes())
}

func describe(resourceType string) string {
	if resourceType == "" {
		return "not a FHIR resource"
	}
	return "a " + resourceType
}

func writeRun(opts *Options) error {
	var body []byte
	var name string
	if opts.Method != http.MethodDelete {
		var err error
		if body, name, err = opts.Body.read(opts.IO.In); err != nil {
			return err
		}
		if err := checkJSON(body, name); err != nil {
			return err
		}
	}
	var patch jsonPatch
	if opts.Method == http.MethodPatch {
		p, err := parsePatch(body, name)
		if err != nil {
			return err
		}
		patch = p
	}
	c, err := writeClient(opts)
	if err != nil {
		return err
	}
	u, err := resolve(c, opts.URL)
	if err != nil {
		return err
	}
	ctx := opts.context()
	if opts.Method == http.MethodPatch {
		if route, ok := adminMembership(u, c.BaseURL()); ok {
			return patchMembership(ctx, opts, c, route, patch, name)
		}
	}
	req := &client.Request{Method: opts.Method, URL: u, Body: body}
	if opts.Method == http.MethodPatch {
		req.ContentType = client.ContentTypeJSONPatch
	}
	if opts.PreferAsync {
		req.Header = http.Header{"Prefer": {"respond-async"}}
	}
	return send(ctx, opts, c, req)
}

// writeClient is the signed-in client; a dry run without credentials uses a
// client that sends none (it shows the request without Authorization).
func writeClient(opts *Options) (*client.Client, error) {
	c, err := opts.Client()
	if err != nil && opts.DryRun && errors.Is(err, auth.ErrNotSignedIn) {
		return opts.BareClient()
	}
	return c, err
}

// send makes the request (or prints it with --dry-run) and prints the answer.
func send(ctx context.Context, opts *Options, c *client.Client, req *client.Request) error {
	if opts.DryRun {
		return printDryRun(ctx, opts.IO, c, req)
	}
	resp, err := c.Do(ctx, req)
	if ref, ok := deletedDespiteGone(ctx, c, req, err); ok {
		fmt.Fprintf(opts.IO.ErrOut, "Deleted %s (Medplum answered 410 Gone, as it does when it deletes a project or something of a deleted project; reading it back answers 410 too).\n", ref)
		return nil
	}
	if err != nil {
		if client.IsPartialSuccess(err) && resp != nil {
			// The server did the work and says something went wrong on the
			// side (e.g. the invite e-mail): show what it answered.
			if perr := opts.Output.WriteBody(opts.IO, resp.Body); perr != nil {
				return perr
			}
		}
		return namedGone(c, req.Method, req.URL, err)
	}
	if resp.Status == http.StatusAccepted {
		if loc := resp.Header.Get("Content-Location"); loc != "" {
			fmt.Fprintf(opts.IO.ErrOut, "Accepted: the server is processing the request; its status is at %s\n", loc)
		}
	}
	return opts.Output.WriteBody(opts.IO, resp.Body)
}

// deletedDespiteGone reports whether a DELETE of fhir/R4/<type>/<id> that
// was answered 410 deleted the resource, and names it. Medplum 5.0.10
// deletes a project, or a resource of a deleted project, and then answers
// 410 Gone (captures 520, 522b), while deleting what is already deleted is
// 200 (520c, 521, 522c); so the resource is read back, and 410 there too
// (520b) means it is gone.
func deletedDespiteGone(ctx context.Context, c *client.Client, req *client.Request, err error) (string, bool) {
	e := client.AsError(err)
	if req.Method != http.MethodDelete || e == nil || !e.IsGone() || strings.ContainsAny(req.URL, "?#") {
		return "", false
	}
	ref, ok := resourceRef(c, req.URL)
	if !ok {
		return "", false
	}
	_, rerr := c.Do(ctx, &client.Request{Method: http.MethodGet, URL: req.URL})
	re := client.AsError(rerr)
	return ref, re != nil && re.IsGone()
}

// namedGone names the resource of a 410 to a read, update or patch of
// fhir/R4/<type>/<id>: Medplum 5.0.10 answers a deleted resource's read
// and patch with an OperationOutcome that says only "Gone" (captures 534b,
// 600). Its history is still read (600b), and a put with its id puts it
// back (547). A DELETE's 410 is deletedDespiteGone's; any other error is
// returned as it is.
func namedGone(c *client.Client, method, u string, err error) error {
	e := client.AsError(err)
	if method == http.MethodDelete || e == nil || !e.IsGone() {
		return err
	}
	ref, ok := resourceRef(c, u)
	if !ok {
		return err
	}
	hint := fmt.Sprintf("Medplum keeps its history (medplum get %s/_history)", ref)
	// (A PUT answered 410 is one of a deleted project, which no put brings
	// back.)
	if !strings.HasPrefix(ref, "Project/") && method != http.MethodPut {
		hint += "; a put of the resource with this id puts it back"
	}
	return cmdutil.WithHint(&goneError{msg: fmt.Sprintf("%s %s: the resource was deleted (410 Gone)", method, ref), err: err}, hint)
}

// goneError is namedGone's message; the server's answer stays in the chain.
type goneError struct {
	msg string
	err error
}

func (e *goneError) Error() string { return e.msg }
func (e *goneError) Unwrap() error { return e.err }

// resourceRef is <type>/<id> when u is fhir/R4/<type>/<id> of the
// client's server (a query or fragment aside).
func resourceRef(c *client.Client, u string) (string, bool) {
	ref, ok := strings.CutPrefix(u, c.FHIRBaseURL())
	if i := strings.IndexAny(ref, "?#"); i >= 0 {
		ref = ref[:i]
	}
	typ, id, _ := strings.Cut(ref, "/")
	if !ok || typ == "" || typ[0] < 'A' || typ[0] > 'Z' || id == "" || id[0] == '$' || strings.Contains(id, "/") {
		return "", false
	}
	return ref, true
}

// printDryRun writes the request as it would go on the wire: method and URL,
// headers sorted (secrets redacted), a blank line and the body (secrets
// redacted, indented).
func printDryRun(ctx context.Context, ios *iostreams.IOStreams, c *client.Client, req *client.Request) error {
	hr, err := c.Prepare(ctx, req)
	if err != nil {
		return err
	}
	if c.WillAuthenticate(req) {
		hr.Header.Set("Authorization", client.Redacted)
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s\n", hr.Method, client.RedactURL(hr.URL.String()))
	h := client.RedactHeaders(hr.Header)
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, v := range h[k] {
			fmt.Fprintf(&b, "%s: %s\n", k, v)
		}
	}
	if len(req.Body) > 0 {
		b.WriteByte('\n')
		red := client.RedactBody(hr.Header.Get("Content-Type"), req.Body)
		if err := json.Indent(&b, red, "", "  "); err != nil {
			b.Write(red)
		}
		b.WriteByte('\n')
	}
	_, err = ios.Out.Write(b.Bytes())
	return err
}
