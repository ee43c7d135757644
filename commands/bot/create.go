package bot

import (
	"fmt"
	"strings"

	"github.com/MakeNowJust/heredoc"
	"github.com/spf13/cobra"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/commands/cmdutil"
	"github.com/medplumcli/medplum/commands/completion"
	"github.com/medplumcli/medplum/commands/membership"
	"github.com/medplumcli/medplum/commands/output"
)

// CreateOptions are the inputs of `bot create`.
type CreateOptions struct {
	common
	Name         string
	Project      string // the official CLI's <projectId> argument
	Source       string
	Dist         string
	Description  string
	AccessPolicy string
	Runtime      string
	NoWrite      bool
	IfNotExists  bool
	MaxJSONSize  Size
	Output       output.Options

	policyRef string // --access-policy, resolved
}

// Runtimes are the values of --runtime.
var Runtimes = []string{"vmcontext", "awslambda"}

// NewCmdCreate is `medplum bot create`.
func NewCmdCreate(f *cmdutil.Factory, runF func(*CreateOptions) error) *cobra.Command {
	opts := &CreateOptions{common: newCommon(f)}
	cmd := &cobra.Command{
		Use:   "create <name> [<project-id> <source> <dist>]",
		Short: "Create a bot, deploy its code and add it to medplum.config.json",
		Long: heredoc.Doc(`
			Create a Bot in the project you are signed in to, with its project
			membership (--access-policy: a policy's name, its id or
			AccessPolicy/<id>). With --source (and --dist, the built file), upload the
			source and deploy the code, then add {name, id, source, dist} to
			medplum.config.json in the current directory, as the official CLI does
			(--no-write-config leaves the file alone; its other keys, entries and
			indentation are kept). A bot without --source is not added: an entry needs
			a source file.

			When medplum.config.json has an entry of that name without an id, or whose
			bot was deleted, the new bot's id is filled in, and the entry's files are
			used unless --source and --dist are given.

			--if-not-exists uses the project's bot of that name (or the bot of the
			name's entry) when there is one: it is added to medplum.config.json (or its
			entry's id filled in), and its source and code are sent where they differ
			from the files. Its description, runtime and access policy are left as they
			are. This is how a bot made elsewhere (the web app, apply) gets into
			medplum.config.json.

			The official CLI's form "bot create <name> <project-id> <source> <dist>"
			works too; the project id must be the one you are signed in to.

			Without --if-not-exists, nothing is created when the name is taken (by a
			bot of the project or an entry of medplum.config.json whose bot exists).
			Nothing is created either when a file is missing, the access policy is not
			the project's, or code is given to a project without "bots" in its
			features. Prints the bot's id (-o json: the Bot).
		`),
		Example: `  $ medplum bot create hello-world --source src/hello-world.ts --dist dist/hello-world.js
  $ medplum bot create intake --description "Patient intake" --access-policy "Intake bots"
  $ medplum bot create intake --if-not-exists --source src/intake.ts --dist dist/intake.js`,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) != 1 && len(args) != 4 {
				return cmdutil.FlagErrorf("%s takes a name (and, as the official CLI, <project-id> <source> <dist>), got %s", c.CommandPath(), cmdutil.Count(len(args), "argument"))
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			opts.Ctx = c.Context()
			opts.Name = args[0]
			if len(args) == 4 {
				if c.Flags().Changed("source") || c.Flags().Changed("dist") {
					return cmdutil.FlagErrorf("give the source and dist files as arguments or as --source/--dist, not both")
				}
				opts.Project, opts.Source, opts.Dist = args[1], args[2], args[3]
			}
			if err := opts.check(); err != nil {
				return err
			}
			if err := opts.Output.Check(); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return createRun(opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Source, "source", "", "the bot's source file: uploaded, and deployed when there is no --dist")
	fl.StringVar(&opts.Dist, "dist", "", "the built file to deploy (needs --source)")
	fl.StringVar(&opts.Description, "description", "", "the bot's description")
	fl.StringVar(&opts.AccessPolicy, "access-policy", "", "the access policy of the bot's membership: "+membership.PolicyHelp)
	fl.StringVar(&opts.Runtime, "runtime", "", "where the bot runs: vmcontext or awslambda (default: the server's)")
	fl.StringVar(&opts.Runtime, "runtime-version", "", "the official CLI's name for --runtime")
	_ = fl.MarkHidden("runtime-version")
	fl.BoolVar(&opts.NoWrite, "no-write-config", false, "do not add the bot to medplum.config.json")
	MaxJSONSizeFlag(fl, &opts.MaxJSONSize)
	fl.BoolVar(&opts.IfNotExists, "if-not-exists", false, "use the project's bot of this name if there is one: add it to medplum.config.json and deploy what differs")
	// The official form's <project-id> is the signed-in project; its
	// <source> and <dist> are files.
	project := completion.SignedInProject(f)
	cmd.ValidArgsFunction = func(c *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		switch len(args) {
		case 1:
			return project(c, args, toComplete)
		case 2, 3:
			return nil, cobra.ShellCompDirectiveDefault
		}
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	_ = cmd.RegisterFlagCompletionFunc("access-policy", completion.Named(f, "AccessPolicy"))
	_ = cmd.RegisterFlagCompletionFunc("runtime", completion.Values(Runtimes...))
	_ = cmd.RegisterFlagCompletionFunc("runtime-version", completion.Values(Runtimes...))
	output.AddFlags(cmd, &opts.Output, Text, Text, output.JSON, output.YAML)
	output.SetExamples(cmd, "", ".id")
	return cmd
}

func (o *CreateOptions) check() error {
	switch {
	case o.Name == "":
		return cmdutil.FlagErrorf("the bot's name is empty")
	case o.Dist != "" && o.Source == "":
		return cmdutil.FlagErrorf("--dist needs --source: medplum.config.json lists both, and bot save uploads the source")
	case o.Runtime != "" && o.Runtime != Runtimes[0] && o.Runtime != Runtimes[1]:
		return cmdutil.FlagErrorf("--runtime %q: want vmcontext or awslambda", o.Runtime)
	case o.Project != "" && !membership.ValidID(o.Project):
		return cmdutil.FlagErrorf("%q is not a project id", o.Project)
	}
	return nil
}

func createRun(o *CreateOptions) error {
	// What can be checked without the server first: the config and the files.
	var cfg *Config
	var entry *Entry // the config's entry of this name
	if !o.NoWrite {
		var err error
		if cfg, err = LoadConfig(ConfigFile); err != nil {
			return cmdutil.WithHint(err, "to create the bot without adding it to "+ConfigFile+": --no-write-config")
		}
		switch same := cfg.ByName(o.Name); len(same) {
		case 0:
		case 1:
			entry = same[0]
		default:
			_, err := cfg.Select([]string{o.Name}, nil)
			return err
		}
	}
	// The files: the flags', else those of the name's entry.
	source, dist := o.Source, o.Dist
	if source == "" && entry != nil && entry.Source != "" {
		source, dist = entry.Source, entry.Dist
	}
	var files *Files
	if source != "" {
		f, problems := ReadFiles(source, dist)
		if len(problems) > 0 {
			msgs := make([]string, len(problems))
			for i, p := range problems {
				msgs[i] = p.Msg
			}
			return configError("the bot's files", msgs)
		}
		if p := f.SizeProblem(o.MaxJSONSize, source, dist); p != nil {
			return configError("the bot's files", []string{p.Msg}, SizeHint)
		}
		files = f
	}
	c, who, err := o.connect()
	if err != nil {
		return err
	}
	if o.Project != "" && o.Project != who.ProjectID {
		return cmdutil.InputErrorf("project %s: you are signed in to project %s, and Medplum creates a bot in the project of the credentials (a super admin's too); nothing was created", o.Project, who.Describe())
	}
	existing, err := o.existing(c, who, entry)
	if err != nil {
		return err
	}
	if existing == nil && o.AccessPolicy != "" {
		if o.policyRef, err = membership.ResolvePolicyFlag(o.Ctx, c, who.ProjectID, o.AccessPolicy); err != nil {
			return err
		}
	}
	var send struct{ source, code bool }
	if files != nil {
		send.source, send.code = true, true
		if existing != nil {
			send.source, send.code = files.Differ(o.Ctx, c, existing.Resource, true)
		}
		if send.code {
			if err := checkBotsEnabled(o.Ctx, c, who.ProjectID); err != nil {
				return err
			}
		}
	}

	bot := existing
	if bot == nil {
		created, err := c.CreateBot(o.Ctx, who.ProjectID, o.body())
		if err != nil {
			return err
		}
		bot = &created
		fmt.Fprintf(o.IO.ErrOut, "Created bot %s in project %s.\n", label(o.Name, bot.ID()), who.Describe())
	} else {
		fmt.Fprintf(o.IO.ErrOut, "Bot %s already exists in project %s.\n", label(bot.String("name"), bot.ID()), who.Describe())
		if left := o.notApplied(); left != "" {
			fmt.Fprintf(o.IO.ErrOut, "Left its %s as it is (medplum apply manages them: medplum help apply-file).\n", left)
		}
	}
	name := label(o.Name, bot.ID())
	written := false
	switch {
	case o.NoWrite:
	case source == "":
		fmt.Fprintf(o.IO.ErrOut, "Not added to %s (no --source); to add it and deploy its code: %s\n", ConfigFile, addHint(o.Name))
	case entry == nil:
		if err := AppendEntry(ConfigFile, Entry{Name: o.Name, ID: bot.ID(), Source: source, Dist: dist}); err != nil {
			return fmt.Errorf("bot %s is there, but adding it to %s failed: %w", name, ConfigFile, err)
		}
		fmt.Fprintf(o.IO.ErrOut, "Added it to %s.\n", ConfigFile)
		written = true
	default:
		changed, err := SetEntry(ConfigFile, entry.Index, bot.ID(), o.Source, o.Dist)
		if err != nil {
			return fmt.Errorf("bot %s is there, but setting its entry in %s failed: %w", name, ConfigFile, err)
		}
		if len(changed) > 0 {
			fmt.Fprintf(o.IO.ErrOut, "Set its %s in %s.\n", strings.Join(changed, " and "), ConfigFile)
		}
		written = true
	}
	if files != nil {
		if err := o.sendCode(c, *bot, files, source, dist, send.source, send.code, written); err != nil {
			return err
		}
	}
	if o.Output.Document() {
		d, err := readBot(o.Ctx, c, bot.ID())
		if err != nil {
			return err
		}
		return o.Output.WriteDoc(o.IO, d.Raw)
	}
	fmt.Fprintln(o.IO.Out, bot.ID())
	return nil
}

// existing is the bot create must not make again: with --if-not-exists,
// the bot of the name's config entry or the project's bot of that name;
// without, either is refused. An entry without an id, or whose bot was
// deleted, is filled in with the new bot's.
func (o *CreateOptions) existing(c *client.Client, who *cmdutil.SignedIn, entry *Entry) (*client.Doc, error) {
	if entry != nil && entry.HasID() {
		d, err := readBot(o.Ctx, c, entry.ID)
		switch s := client.StatusOf(err); {
		case err == nil && membershipProject(d.Resource) != "" && membershipProject(d.Resource) != who.ProjectID:
			return nil, cmdutil.InputErrorf("%s: Bot/%s is a bot of another project than %s; nothing was created", entry.Where(ConfigFile), entry.ID, who.Describe())
		case err == nil && o.IfNotExists:
			return &d, nil
		case err == nil:
			return nil, cmdutil.WithHint(cmdutil.InputErrorf("%s already lists a bot named %q (line %d, Bot/%s); nothing was created", ConfigFile, o.Name, entry.Line, entry.ID),
				"to deploy it: medplum bot deploy "+cmdutil.ShellQuote(entry.Name))
		case s == 404:
			// Maybe a bot of another project: never re-pointed silently.
			return nil, cmdutil.WithHint(cmdutil.InputErrorf("%s: %s; nothing was created", entry.Where(ConfigFile), missingBot(entry.ID, err)), goneHint(entry.Name, s))
		case s != 410:
			return nil, err
		}
	}
	same, err := botsNamed(o.Ctx, c, who.ProjectID, o.Name)
	switch {
	case err != nil:
		return nil, err
	case len(same) == 0:
		return nil, nil
	case len(same) > 1 && o.IfNotExists:
		ids := make([]string, len(same))
		for i, b := range same {
			ids[i] = "Bot/" + b.ID()
		}
		return nil, cmdutil.InputErrorf("%d bots in project %s are named %q (%s); --if-not-exists needs the name to be unique", len(same), who.Describe(), o.Name, strings.Join(ids, ", "))
	case o.IfNotExists:
		return &same[0], nil
	}
	return nil, cmdutil.WithHint(cmdutil.InputErrorf("project %s already has a bot named %q (Bot/%s); nothing was created", who.Describe(), o.Name, same[0].ID()),
		"to add that bot to "+ConfigFile+" and deploy its code, add --if-not-exists")
}

// body is the new Bot.
func (o *CreateOptions) body() map[string]any {
	body := map[string]any{"name": o.Name}
	if o.Description != "" {
		body["description"] = o.Description
	}
	if o.Runtime != "" {
		body["runtimeVersion"] = o.Runtime
	}
	if o.policyRef != "" {
		body["accessPolicy"] = map[string]any{"reference": o.policyRef}
	}
	return body
}

// notApplied names the flags an existing bot does not get.
func (o *CreateOptions) notApplied() string {
	var left []string
	if o.Description != "" {
		left = append(left, "description")
	}
	if o.Runtime != "" {
		left = append(left, "runtime")
	}
	if o.AccessPolicy != "" {
		left = append(left, "access policy")
	}
	return strings.Join(left, ", ")
}

// sendCode saves the source and deploys the code, as far as they differ
// from the bot's, and says what it did.
func (o *CreateOptions) sendCode(c *client.Client, bot client.Doc, files *Files, source, dist string, saveSrc, sendCode, written bool) error {
	id := bot.ID()
	name := label(o.Name, id)
	if sendCode {
		for _, w := range files.Warnings(bot.String("runtimeVersion")) {
			fmt.Fprintf(o.IO.ErrOut, "medplum: warning: %s\n", w)
		}
	}
	if err := files.Send(o.Ctx, c, id, saveSrc, sendCode, source, codeFile(source, dist)); err != nil {
		return o.unfinished(name, written, err)
	}
	switch {
	case saveSrc && sendCode:
		fmt.Fprintf(o.IO.ErrOut, "Saved %s and deployed %s.\n", source, codeFile(source, dist))
	case sendCode:
		fmt.Fprintf(o.IO.ErrOut, "Deployed %s (its source was unchanged).\n", codeFile(source, dist))
	case saveSrc:
		fmt.Fprintf(o.IO.ErrOut, "Saved %s (its code was unchanged).\n", source)
	default:
		fmt.Fprintln(o.IO.ErrOut, "Its source and code are unchanged.")
	}
	return nil
}

// unfinished is a failure after the bot was there: say what exists and
// how to finish.
func (o *CreateOptions) unfinished(name string, written bool, err error) error {
	hint := "once the cause is fixed: medplum bot deploy " + cmdutil.ShellQuote(o.Name)
	if !written {
		hint = "once the cause is fixed: " + addHint(o.Name)
	}
	return cmdutil.WithHint(fmt.Errorf("bot %s is there, but %w", name, err), hint)
}

// codeFile is the file $deploy sends: the dist, else the source.
func codeFile(source, dist string) string {
	if dist != "" {
		return dist
	}
	return source
}
