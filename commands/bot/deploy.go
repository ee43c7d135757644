package bot

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/MakeNowJust/heredoc"
	"github.com/spf13/cobra"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/commands/cmdutil"
	"github.com/medplumcli/medplum/commands/output"
)

// DeployOptions are the inputs of `bot save` and `bot deploy`.
type DeployOptions struct {
	common
	Patterns    []string
	Deploy      bool // deploy: save, then $deploy; save: upload the source only
	Force       bool
	DryRun      bool
	Concurrency int
	MaxJSONSize Size
	Output      output.Options
}

// Text is the default output of save and deploy: one line per bot.
const Text = output.Text

// DefaultConcurrency is how many bots save and deploy work on at once.
const DefaultConcurrency = 4

// NewCmdDeploy is `medplum bot deploy`.
func NewCmdDeploy(f *cmdutil.Factory, runF func(*DeployOptions) error) *cobra.Command {
	return newCmdSaveDeploy(f, runF, true)
}

// NewCmdSave is `medplum bot save`.
func NewCmdSave(f *cmdutil.Factory, runF func(*DeployOptions) error) *cobra.Command {
	return newCmdSaveDeploy(f, runF, false)
}

func newCmdSaveDeploy(f *cmdutil.Factory, runF func(*DeployOptions) error, deploy bool) *cobra.Command {
	opts := &DeployOptions{common: newCommon(f), Deploy: deploy}
	cmd := &cobra.Command{
		Use:   "save <name>...",
		Short: "Upload bots' source code, as listed in medplum.config.json",
		Long: heredoc.Doc(`
			Upload the source file of each bot named (see medplum.config.json in the
			current directory) as a Binary and point the Bot's sourceCode at it.
			"*" in a name matches any text: 'medplum bot save "*"' saves every bot.
			A bot whose source the server already has is left alone (--force saves
			it anyway).

			One line per bot on stdout, a summary on stderr. Exit 0 when every bot
			was saved or unchanged, 3 when some failed (the others are saved), 1
			when all failed; 2 when a name matches nothing, the file has a bad
			entry, a source file is missing or a bot is not on the server: then
			nothing is sent.
		`),
		Example: `  $ medplum bot save hello-world
  $ medplum bot save 'patient-*' --dry-run`,
	}
	if deploy {
		cmd.Use = "deploy <name>..."
		cmd.Short = "Save and deploy bots listed in medplum.config.json: by name or pattern, only what changed"
		cmd.Long = heredoc.Doc(`
			Deploy each bot named in medplum.config.json (in the current directory):
			upload its source as "bot save" does, then deploy its built file ("dist",
			or the source when there is none) with $deploy. "*" in a name matches any
			text: 'medplum bot deploy "*"' deploys every bot of the file.

			Only what changed is sent: a bot whose deployed code and saved source
			equal the local files is reported unchanged (--force deploys it anyway).
			--dry-run compares and lists what would be saved and deployed, and sends
			nothing. Bots are deployed --concurrency at a time (default 4).

			One line per bot on stdout (deployed, saved, unchanged or failed, with the
			server's message), a summary on stderr. Exit codes: 0 when every bot was
			deployed or unchanged; 3 when some failed (the others are deployed); 1
			when all failed; 2 when a name matches nothing, the file has a bad entry,
			a file is missing or a bot is not on the server (nothing is sent then);
			6 with --dry-run when something would change.

			Deploying needs "bots" in the project's features: when it is missing, deploy
			says so before it sends anything. Only a super admin can add it.
		`)
		cmd.Example = `  $ medplum bot deploy hello-world
  $ medplum bot deploy '*'
  $ medplum bot deploy 'patient-*' 'lab-*' --dry-run
  $ medplum bot deploy '*' -o json --jq '.[] | select(.result == "failed") | .name'`
	}
	cmd.Args = func(c *cobra.Command, args []string) error {
		if len(args) == 0 {
			return cmdutil.FlagErrorf("%s needs the name of a bot in %s (or a pattern such as '*')", c.CommandPath(), ConfigFile)
		}
		return nil
	}
	cmd.ValidArgsFunction = CompleteNames
	cmd.RunE = func(c *cobra.Command, args []string) error {
		opts.Ctx = c.Context()
		opts.Patterns = args
		if err := opts.Output.Check(); err != nil {
			return err
		}
		if opts.Concurrency < 1 || opts.Concurrency > 32 {
			return cmdutil.FlagErrorf("--concurrency %d: want 1 to 32", opts.Concurrency)
		}
		if runF != nil {
			return runF(opts)
		}
		return deployRun(opts)
	}
	fl := cmd.Flags()
	fl.BoolVar(&opts.Force, "force", false, "send every bot named, even when the server has the same code")
	fl.BoolVar(&opts.DryRun, "dry-run", false, "compare with the server and list what would change; send nothing (exit 6 when something would)")
	fl.IntVar(&opts.Concurrency, "concurrency", DefaultConcurrency, "how many bots to work on at once")
	if deploy {
		MaxJSONSizeFlag(fl, &opts.MaxJSONSize)
	}
	output.AddFlags(cmd, &opts.Output, Text, Text, output.JSON, output.YAML, output.NDJSON)
	output.SetExamples(cmd, "", `.[] | select(.result == "failed") | .name`)
	return cmd
}

// Result is what happened to one bot (the items of -o json).
type Result struct {
	Name    string   `json:"name"`
	ID      string   `json:"id"`
	Result  string   `json:"result"`            // deployed, saved, unchanged, failed; with --dry-run: would-deploy, would-save
	Changed []string `json:"changed,omitempty"` // what differed: source, code
	Forced  []string `json:"forced,omitempty"`  // what --force sent though it equalled the server's
	// Warnings say why Medplum may fail to run the code deployed (Files.Warnings).
	Warnings []string `json:"warnings,omitempty"`
	Error    string   `json:"error,omitempty"`
	Source   string   `json:"source"`
	Dist     string   `json:"dist,omitempty"`
}

// The results.
const (
	Deployed    = "deployed"
	Saved       = "saved"
	Unchanged   = "unchanged"
	Failed      = "failed"
	WouldDeploy = "would-deploy"
	WouldSave   = "would-save"
)

// Files are a bot's code as read from disk, before anything is sent.
type Files struct {
	Source     []byte
	SourceName string // the source's file name: the attachment's title
	SourceType string
	Code       []byte // what $deploy sends: the dist file, else the source
	CodeName   string
}

// local is a config entry's files.
type local struct {
	*Files
	entry *Entry
}

// codeContentType is the content type the official CLI gives a code file
// (utils.ts getCodeContentType).
func codeContentType(name string) string {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".js", ".cjs", ".mjs":
		return "text/javascript"
	case ".ts", ".cts", ".mts":
		return "text/typescript"
	}
	return "text/plain"
}

// readLocal reads an entry's files; problems say what is wrong with them.
func readLocal(e *Entry, deploy bool) (*local, []FileProblem) {
	dist := ""
	if deploy {
		dist = e.Dist
	}
	f, problems := ReadFiles(e.Source, dist)
	return &local{Files: f, entry: e}, problems
}

// FileProblem is what is wrong with a bot's source or dist file: Key is
// "source" or "dist", for the caller to point at the right place.
type FileProblem struct {
	Key string
	Msg string // "source file src/a.ts does not exist"
}

func (p FileProblem) String() string { return p.Msg }

// ReadFiles reads a bot's source and, when given, its dist (the built file
// $deploy sends instead of the source). problems says what is missing,
// unreadable or empty.
func ReadFiles(source, dist string) (*Files, []FileProblem) {
	var problems []FileProblem
	read := func(key, name string) []byte {
		b, err := os.ReadFile(name)
		var msg string
		switch {
		case errors.Is(err, os.ErrNotExist):
			msg = fmt.Sprintf("%s file %s does not exist", key, name)
		case err != nil:
			msg = fmt.Sprintf("%s file %s: %v", key, name, unwrapPath(err))
		case len(bytes.TrimSpace(b)) == 0:
			msg = fmt.Sprintf("%s file %s is empty", key, name)
		default:
			return b
		}
		problems = append(problems, FileProblem{Key: key, Msg: msg})
		return nil
	}
	f := &Files{SourceName: filepath.Base(source), SourceType: codeContentType(source)}
	f.Source = read("source", source)
	f.Code, f.CodeName = f.Source, f.SourceName
	if dist != "" {
		f.Code, f.CodeName = read("dist", dist), filepath.Base(dist)
	}
	return f, problems
}

// unwrapPath drops the path an *os.PathError repeats.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func deployRun(o *DeployOptions) error {
	cfg, err := LoadConfig(ConfigFile)
	if err != nil {
		return err
	}
	// A name the file does not have is looked up in the project, to say
	// which entry (or which bot to add) it means.
	var c *client.Client
	lookup := func(arg string) ([]client.Doc, error) {
		var who *cmdutil.SignedIn
		var err error
		if c, who, err = o.connect(); err != nil {
			return nil, err
		}
		return lookupBot(o.Ctx, c, who, arg)
	}
	entries, err := cfg.Select(o.Patterns, lookup)
	if err != nil {
		return err
	}
	if c == nil {
		if c, err = o.Client(); err != nil {
			return err
		}
	}
	limit := Size(0)
	if o.Deploy {
		limit = o.MaxJSONSize
	}
	files, bots, err := prepare(o.Ctx, c, cfg.Path, entries, limit, o.Deploy, o.Concurrency)
	if err != nil {
		return err
	}
	if o.Deploy && len(bots) > 0 {
		if err := checkBotsEnabled(o.Ctx, c, membershipProject(bots[0].Resource)); err != nil {
			return err
		}
	}
	out := newResultPrinter(o)
	each(o.Ctx, len(files), o.Concurrency, func(i int) {
		r := o.work(c, files[i], bots[i])
		if o.Ctx.Err() != nil && r.Result == Failed {
			return // cut short by Ctrl-C: the next run compares again
		}
		out.done(i, r)
	})
	if err := o.Ctx.Err(); err != nil {
		out.flush() // what finished, past the ones Ctrl-C cut short
		return err
	}
	return out.finish()
}

// prepare reads each entry's files (the source; to deploy, the dist too)
// and its Bot from the server. Every problem (a file missing, unreadable or
// empty, a bot not on the server) is reported with its entry, in the
// file's order, before anything is sent (exit 2).
func prepare(ctx context.Context, c *client.Client, path string, entries []*Entry, limit Size, deploy bool, conc int) ([]*local, []client.Doc, error) {
	files := make([]*local, len(entries))
	problems := make([][]FileProblem, len(entries))
	var hints []string
	for i, e := range entries {
		files[i], problems[i] = readLocal(e, deploy)
		if len(problems[i]) == 0 && deploy {
			if p := files[i].SizeProblem(limit, e.Source, e.Dist); p != nil {
				problems[i] = append(problems[i], *p)
				hints = append(hints, SizeHint)
			}
		}
	}
	bots := make([]client.Doc, len(entries))
	errs := make([]error, len(entries))
	each(ctx, len(entries), conc, func(i int) {
		bots[i], errs[i] = readBot(ctx, c, entries[i].ID)
	})
	var all []string
	for i, e := range entries {
		switch err := errs[i]; client.StatusOf(err) {
		case 0:
			if err != nil {
				return nil, nil, err
			}
		case 404, 410:
			all = append(all, e.Where(path)+": "+missingBot(e.ID, err))
			hints = append(hints, goneHint(e.Name, client.StatusOf(err)))
		default:
			return nil, nil, err
		}
		for _, p := range problems[i] {
			all = append(all, e.Where(path)+": "+p.Msg)
		}
	}
	if len(all) > 0 {
		return nil, nil, configError(path, all, hints...)
	}
	return files, bots, nil
}

// checkBotsEnabled reads the project and refuses, before anything is
// sent, when "bots" is not among its features: every $deploy would answer
// 400 "Bots not enabled". A caller who may not read the Project is left to
// the server's answer.
func checkBotsEnabled(ctx context.Context, c *client.Client, pid string) error {
	if pid == "" {
		return nil
	}
	p, err := c.ReadResource(ctx, client.ResourceURL("Project", pid))
	if err != nil {
		if s := client.StatusOf(err); s == 403 || s == 404 {
			return nil
		}
		return err
	}
	features, _ := p["features"].([]any)
	if slices.Contains(features, any("bots")) {
		return nil
	}
	return notEnabled(pid, p.String("name"), features != nil)
}

// notEnabled is the error of a project without "bots" in its features.
func notEnabled(pid, name string, hasFeatures bool) error {
	patch := `[{"op":"add","path":"/features","value":["bots"]}]`
	if hasFeatures {
		patch = `[{"op":"add","path":"/features/-","value":"bots"}]`
	}
	what := pid
	if name != "" {
		what = fmt.Sprintf("%q (%s)", name, pid)
	}
	return &cmdutil.ExitError{Code: cmdutil.ExitFailure,
		Err: fmt.Errorf("bots are not enabled in project %s: Medplum answers \"Bots not enabled\" to every deploy; nothing was sent", what),
		Tip: fmt.Sprintf("a super admin must add \"bots\" to the project's features, e.g. signed in as a super admin:\n  medplum patch Project/%s '%s'", pid, patch)}
}

// membershipProject is a resource's meta.project.
func membershipProject(r client.Resource) string {
	meta, _ := r["meta"].(map[string]any)
	s, _ := meta["project"].(string)
	return s
}

// work compares one bot with its files and sends what differs.
func (o *DeployOptions) work(c *client.Client, l *local, bot client.Doc) Result {
	ctx := o.Ctx
	r := Result{Name: l.entry.Name, ID: l.entry.ID, Source: l.entry.Source, Dist: l.entry.Dist}
	fail := func(err error) Result {
		r.Result, r.Error = Failed, explain(err).Error()
		return r
	}
	srcDiffers, codeDiffers := l.Differ(ctx, c, bot.Resource, o.Deploy)
	saveSrc := o.Force || srcDiffers
	sendCode := o.Deploy && (o.Force || codeDiffers)
	if sendCode {
		r.Warnings = l.Warnings(bot.String("runtimeVersion"))
	}
	for _, part := range []struct {
		name           string
		send, differed bool
	}{{"source", saveSrc, srcDiffers}, {"code", sendCode, codeDiffers}} {
		switch {
		case part.send && part.differed:
			r.Changed = append(r.Changed, part.name)
		case part.send:
			r.Forced = append(r.Forced, part.name)
		}
	}
	switch {
	case ctx.Err() != nil:
		return fail(ctx.Err())
	case !saveSrc && !sendCode:
		r.Result = Unchanged
		return r
	case o.DryRun && sendCode:
		r.Result = WouldDeploy
		return r
	case o.DryRun:
		r.Result = WouldSave
		return r
	}
	if err := l.Send(ctx, c, l.entry.ID, saveSrc, sendCode, l.entry.Source, codeFile(l.entry.Source, l.entry.Dist)); err != nil {
		return fail(err)
	}
	r.Result = Saved
	if sendCode {
		r.Result = Deployed
	}
	return r
}

// Send deploys the code, then saves the source (each if asked), so that a
// deploy the server refuses never leaves the bot with a new source and the
// old code. The error says what state the bot is in.
func (f *Files) Send(ctx context.Context, c *client.Client, botID string, saveSrc, sendCode bool, source, code string) error {
	if sendCode {
		if err := f.Deploy(ctx, c, botID); err != nil {
			if saveSrc {
				return fmt.Errorf("%w; its source was not saved either", err)
			}
			return err
		}
	}
	if saveSrc {
		if err := f.Save(ctx, c, botID); err != nil {
			if sendCode {
				return fmt.Errorf("%s was deployed, but uploading %s failed: %w (the bot runs the new code; its saved source is the old one until a new run saves it)", code, source, err)
			}
			return fmt.Errorf("uploading %s: %w", source, err)
		}
	}
	return nil
}

// Differ compares the files with what the Bot holds: its saved source,
// and (withCode) the code it runs, each with its file name. A copy the
// server cannot show counts as different: sending it again does no harm.
func (f *Files) Differ(ctx context.Context, c *client.Client, bot client.Resource, withCode bool) (source, code bool) {
	source = !sameAttachment(ctx, c, bot, "sourceCode", f.Source, f.SourceName)
	if withCode {
		code = !sameAttachment(ctx, c, bot, "executableCode", f.Code, f.CodeName)
	}
	return source, code
}

func sameAttachment(ctx context.Context, c *client.Client, bot client.Resource, field string, want []byte, title string) bool {
	u, t := attachmentURL(bot, field)
	if u == "" || t != title {
		return false
	}
	have, err := c.ReadAttachment(ctx, u)
	return err == nil && bytes.Equal(have, want)
}

// Save uploads the source as a Binary and points the Bot's sourceCode at
// it (a JSON Patch: nothing else of the Bot is written back).
func (f *Files) Save(ctx context.Context, c *client.Client, botID string) error {
	bin, err := c.CreateBinary(ctx, f.Source, f.SourceType, f.SourceName)
	if err != nil {
		return err
	}
	patch, err := json.Marshal([]map[string]any{{"op": "add", "path": "/sourceCode", "value": map[string]string{
		"contentType": f.SourceType, "url": "Binary/" + bin.ID(), "title": f.SourceName,
	}}})
	if err != nil {
		return err
	}
	// The same patch twice sets the same value: safe to retry.
	_, err = c.Do(ctx, &client.Request{Method: http.MethodPatch, URL: client.ResourceURL("Bot", botID),
		Body: patch, ContentType: client.ContentTypeJSONPatch, Idempotent: true})
	return err
}

// Deploy sends the code to the Bot's $deploy; a failure says how to fix it
// where Medplum does not.
func (f *Files) Deploy(ctx context.Context, c *client.Client, botID string) error {
	err := c.DeployBot(ctx, botID, f.Code, f.CodeName)
	if e := client.AsError(err); e != nil && e.Status == 400 && strings.Contains(e.Error(), "File too large") {
		body, _ := client.DeployBody(f.Code, f.CodeName)
		return fmt.Errorf("%w (the $deploy request was %s, over the server's maxJsonSize)", err, cmdutil.Count(len(body), "byte"))
	}
	return explain(err)
}

// explain adds the fix to a failure where Medplum's message does not
// give it.
func explain(err error) error {
	e := client.AsError(err)
	switch {
	case e == nil:
	case e.Status == 400 && strings.Contains(e.Error(), "Bots not enabled"):
		return fmt.Errorf(`%w (a super admin must add "bots" to the project's features)`, err)
	case e.Status == 429:
		return &rateLimitedError{err: err, msg: strings.Replace(err.Error(), e.Error(), cmdutil.RateLimited(e), 1)}
	}
	return err
}

// rateLimitedError is a 429 said in words, as Main says it for a whole
// command (Medplum's message is the limiter's JSON).
type rateLimitedError struct {
	err error
	msg string
}

func (e *rateLimitedError) Error() string { return e.msg }
func (e *rateLimitedError) Unwrap() error { return e.err }

// each runs fn(0..n-1), conc at a time, until ctx is done.
func each(ctx context.Context, n, conc int, fn func(i int)) {
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(conc, n) {
		wg.Go(func() {
			for i := range next {
				fn(i)
			}
		})
	}
	for i := range n {
		if ctx.Err() != nil {
			break
		}
		select {
		case next <- i:
		case <-ctx.Done():
		}
	}
	close(next)
	wg.Wait()
}

// resultPrinter prints one line per bot in the file's order as soon as it
// and the bots before it are done (text), or everything at the end.
type resultPrinter struct {
	o       *DeployOptions
	mu      sync.Mutex
	results []*Result
	next    int
}

func newResultPrinter(o *DeployOptions) *resultPrinter {
	return &resultPrinter{o: o}
}

func (p *resultPrinter) done(i int, r Result) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.results) <= i {
		p.results = append(p.results, nil)
	}
	p.results[i] = &r
	if p.o.Output.Format != Text {
		return
	}
	for p.next < len(p.results) && p.results[p.next] != nil {
		p.write(p.results[p.next])
		p.next++
	}
}

// write prints a result's line, after its warnings (on stderr).
func (p *resultPrinter) write(r *Result) {
	writeWarnings(p.o.IO.ErrOut, r)
	writeLine(p.o.IO.Out, r)
}

func writeWarnings(w io.Writer, r *Result) {
	for _, msg := range r.Warnings {
		fmt.Fprintf(w, "medplum: warning: %s (Bot/%s): %s\n", r.Name, r.ID, msg)
	}
}

// flush prints the finished bots not printed yet, skipping those that did
// not finish.
func (p *resultPrinter) flush() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.o.Output.Format != Text {
		return
	}
	for ; p.next < len(p.results); p.next++ {
		if r := p.results[p.next]; r != nil {
			p.write(r)
		}
	}
}

func writeLine(w io.Writer, r *Result) {
	what := strings.ReplaceAll(r.Result, "-", " ")
	line := fmt.Sprintf("%-13s%s (Bot/%s)", what, r.Name, r.ID)
	switch {
	case r.Error != "":
		line += ": " + r.Error
	case r.Result != Unchanged && len(r.Changed)+len(r.Forced) > 0:
		var parts []string
		if len(r.Changed) > 0 {
			parts = append(parts, strings.Join(r.Changed, " and ")+" changed")
		}
		switch {
		case len(r.Forced) > 0 && len(r.Changed) == 0:
			parts = append(parts, "forced (unchanged)")
		case len(r.Forced) > 0:
			parts = append(parts, strings.Join(r.Forced, " and ")+" forced (unchanged)")
		}
		line += ": " + strings.Join(parts, "; ")
	}
	fmt.Fprintln(w, line)
}

// finish prints the summary and returns the exit status: 3 when some bots
// failed, 1 when all did, 6 for a dry run with changes.
func (p *resultPrinter) finish() error {
	o := p.o
	var list []Result
	counts := map[string]int{}
	var failed []string
	for _, r := range p.results {
		if r == nil {
			continue
		}
		list = append(list, *r)
		counts[r.Result]++
		if r.Result == Failed {
			failed = append(failed, r.Name)
		}
	}
	if o.Output.Format != Text {
		for i := range list {
			writeWarnings(o.IO.ErrOut, &list[i])
		}
		if _, err := output.WriteItems(o.IO, &o.Output, list); err != nil {
			return err
		}
	}
	var parts []string
	for _, k := range []string{Deployed, Saved, WouldDeploy, WouldSave, Unchanged, Failed} {
		if counts[k] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[k], strings.ReplaceAll(k, "-", " ")))
		}
	}
	fmt.Fprintf(o.IO.ErrOut, "%s: %s.\n", cmdutil.Count(len(list), "bot"), strings.Join(parts, ", "))
	n := len(list)
	switch {
	case len(failed) == n && n > 0:
		if n == 1 {
			return &cmdutil.ExitError{Code: cmdutil.ExitFailure, Err: fmt.Errorf("bot %s failed", failed[0])}
		}
		return &cmdutil.ExitError{Code: cmdutil.ExitFailure, Err: fmt.Errorf("all %d bots failed", n)}
	case len(failed) > 0:
		return &cmdutil.ExitError{Code: cmdutil.ExitPartial, Err: fmt.Errorf("%d of %d bots failed: %s", len(failed), n, strings.Join(failed, ", "))}
	case o.DryRun && counts[WouldDeploy]+counts[WouldSave] > 0:
		return &cmdutil.ExitError{Code: cmdutil.ExitPending, Err: errors.New("dry run: changes are pending; nothing was sent")}
	}
	return nil
}
