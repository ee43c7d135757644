package bot

import (
	"fmt"

	"github.com/MakeNowJust/heredoc"
	"github.com/spf13/cobra"

	"github.com/medplumcli/medplum/commands/cmdutil"
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
	Output       output.Options
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
			(--no-write-config leaves the file alone; its other keys and entries are
			kept as they are).

			The official CLI's form "bot create <name> <project-id> <source> <dist>"
			works too; the project id must be the one you are signed in to.

			Nothing is created when the name is taken (by a bot of the project or an
			entry of medplum.config.json), a file is missing, the access policy is not
			the project's, or --source is given to a project without "bots" in its
			features. Prints the new bot's id (-o json: the Bot).
		`),
		Example: `  $ medplum bot create hello-world --source src/hello-world.ts --dist dist/hello-world.js
  $ medplum bot create intake --description "Patient intake" --access-policy "Intake bots"`,
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
	output.AddFlags(cmd, &opts.Output, Text, Text, output.JSON, output.YAML)
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
	write := !o.NoWrite && o.Source != ""
	if write {
		cfg, err := LoadConfig(ConfigFile)
		if err != nil {
			return err
		}
		if taken := cfg.ByName(o.Name); len(taken) > 0 {
			return cmdutil.InputErrorf("%s already lists a bot named %q (line %d, Bot/%s); nothing was created", ConfigFile, o.Name, taken[0].Line, taken[0].ID)
		}
	}
	var files *Files
	if o.Source != "" {
		f, problems := ReadFiles(o.Source, o.Dist)
		if len(problems) > 0 {
			msgs := make([]string, len(problems))
			for i, p := range problems {
				msgs[i] = p.Msg
			}
			return configError("the bot's files", msgs)
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
	if same, err := botsNamed(o.Ctx, c, who.ProjectID, o.Name); err != nil {
		return err
	} else if len(same) > 0 {
		return cmdutil.InputErrorf("project %s already has a bot named %q (Bot/%s); nothing was created", who.Describe(), o.Name, same[0].ID())
	}
	body := map[string]any{"name": o.Name}
	if o.Description != "" {
		body["description"] = o.Description
	}
	if o.Runtime != "" {
		body["runtimeVersion"] = o.Runtime
	}
	if o.AccessPolicy != "" {
		ref, err := resolvePolicy(o.Ctx, c, who.ProjectID, o.AccessPolicy)
		if err != nil {
			return err
		}
		body["accessPolicy"] = map[string]any{"reference": ref}
	}
	if files != nil {
		if err := checkBotsEnabled(o.Ctx, c, who.ProjectID); err != nil {
			return err
		}
	}

	bot, err := c.CreateBot(o.Ctx, who.ProjectID, body)
	if err != nil {
		return err
	}
	name := label(o.Name, bot.ID())
	fmt.Fprintf(o.IO.ErrOut, "Created bot %s in project %s.\n", name, who.Describe())
	if write {
		e := Entry{Name: o.Name, ID: bot.ID(), Source: o.Source, Dist: o.Dist}
		if err := AppendEntry(ConfigFile, e); err != nil {
			return fmt.Errorf("bot %s was created, but adding it to %s failed: %w", name, ConfigFile, err)
		}
		fmt.Fprintf(o.IO.ErrOut, "Added it to %s.\n", ConfigFile)
	}
	if files != nil {
		if err := files.Save(o.Ctx, c, bot.ID()); err != nil {
			return o.unfinished(name, write, fmt.Errorf("uploading %s failed: %w", o.Source, err))
		}
		if err := files.Deploy(o.Ctx, c, bot.ID()); err != nil {
			return o.unfinished(name, write, fmt.Errorf("the source was saved, but deploying %s failed: %w", codeFile(o.Source, o.Dist), err))
		}
		fmt.Fprintf(o.IO.ErrOut, "Saved %s and deployed %s.\n", o.Source, codeFile(o.Source, o.Dist))
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

// unfinished is a failure after the bot was created: say what exists and
// how to finish.
func (o *CreateOptions) unfinished(name string, written bool, err error) error {
	hint := "run: medplum bot deploy " + cmdutil.ShellQuote(o.Name)
	if !written {
		hint = fmt.Sprintf("add it to %s (or run bot create again without --no-write-config), then: medplum bot deploy %s", ConfigFile, cmdutil.ShellQuote(o.Name))
	}
	return cmdutil.WithHint(fmt.Errorf("bot %s was created, but %w", name, err), hint)
}

// codeFile is the file $deploy sends: the dist, else the source.
func codeFile(source, dist string) string {
	if dist != "" {
		return dist
	}
	return source
}
