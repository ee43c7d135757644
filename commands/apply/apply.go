// Package apply is `medplum apply -f project.yaml`: a declarative
// description of a project (its settings, access policies, client
// applications and members) compared with what the server holds, shown as
// a plan, and carried out on confirmation. Running the same file again
// changes nothing.
package apply

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/MakeNowJust/heredoc"
	"github.com/spf13/cobra"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/commands/bot"
	"github.com/medplumcli/medplum/commands/cmdutil"
	"github.com/medplumcli/medplum/commands/iostreams"
	"github.com/medplumcli/medplum/commands/output"
)

// Options are the inputs of `apply`.
type Options struct {
	IO     *iostreams.IOStreams
	Client func() (*client.Client, error)
	Ctx    context.Context

	File   string
	Prune  bool
	DryRun bool
	Yes    bool
	Output output.Options // the plan: -o text (the default), json, yaml, --jq, --template

	MaxJSONSize bot.Size // the server's maxJsonSize: bots' code over it is refused
}

// NewCmdApply is `medplum apply`.
func NewCmdApply(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Client: f.Client}
	cmd := &cobra.Command{
		Use:   "apply -f <file>",
		Short: "Make a project match a file: settings, access policies, clients, members, bots",
		Long: heredoc.Doc(`
			Make the project you are signed in to match a file (YAML or JSON): its
			settings, access policies (matched by name), client applications
			(matched by name), members (matched by e-mail or external id; listed
			inline or in a CSV in the format of "medplum invite --csv") and bots
			(matched by name; their code is uploaded and deployed when it differs
			from what the bot runs, and refused first when it is over the server's
			--max-json-size). When the working directory has a medplum.config.json,
			apply adds the bots it creates with code to it and removes the entries of
			the bots it deletes, so that "medplum bot deploy '*'" keeps working there.

			apply reads the project, prints a plan (create, update, unchanged, and
			what the file does not list), and carries it out with --yes or when you
			confirm at a terminal. Running the same file again changes nothing and
			says so. A section the file leaves out is not managed at all.

			Objects the file does not list are only removed with --prune, never
			without it (a bot goes with its membership); even then apply keeps the
			client, bot or member it is signed in as, the project's owner, the project's default access policies and
			policies that memberships still use.

			--dry-run prints the plan and changes nothing. Its exit code is for CI
			drift checks: 0 when the project matches the file, 6 when changes are
			pending, 2 when the file is invalid (every problem is listed with its
			place, and nothing is sent) or asks for what apply cannot do to this
			project (another project's name, a member's role change, removing
			its own admin rights).

			If apply stops half-way (an error, Ctrl-C), run it again: the next plan
			starts from what the server holds and finishes the job. apply never
			prints a client secret; see "medplum help apply-file" for the format.

			"medplum apply export" writes the project as such a file, to take a
			project made by hand under management.
		`),
		Example: `  $ medplum apply -f project.yaml --dry-run
  $ medplum apply -f project.yaml --yes
  $ medplum apply -f project.yaml --prune --yes
  $ medplum apply export > project.yaml`,
		Args: cmdutil.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			opts.Ctx = c.Context()
			if opts.File == "" {
				return cmdutil.FlagErrorf("apply needs -f <file> (a YAML or JSON project file, - for stdin)")
			}
			if err := opts.Output.Check(); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return applyRun(opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&opts.File, "file", "f", "", `the project file (YAML or JSON; "-" for stdin)`)
	fl.BoolVar(&opts.Prune, "prune", false, "remove members, clients, bots, policies and settings the file does not list")
	fl.BoolVar(&opts.DryRun, "dry-run", false, "print the plan only (exit 0: no change needed, 6: changes pending)")
	fl.BoolVarP(&opts.Yes, "yes", "y", false, "apply without asking")
	output.AddFlags(cmd, &opts.Output, output.Text, output.Text, output.JSON, output.YAML)
	output.SetExamples(cmd, "", ".pending")
	bot.MaxJSONSizeFlag(fl, &opts.MaxJSONSize)
	cmd.AddCommand(NewCmdExport(f, nil))
	return cmd
}

func applyRun(o *Options) error {
	spec, err := o.load()
	if err != nil {
		return err
	}
	c, err := o.Client()
	if err != nil {
		return err
	}
	st, err := readState(o.Ctx, c, spec)
	if err != nil {
		return err
	}
	plan, err := makePlan(spec, st, o.Prune)
	if err != nil {
		return err
	}
	if err := plan.checkBotSizes(spec, o.MaxJSONSize); err != nil {
		return err
	}
	if o.Output.Document() {
		err = writePlanJSON(o.IO, &o.Output, plan)
	} else {
		err = writePlan(o.IO.Out, plan)
	}
	if err != nil {
		return err
	}
	for _, w := range plan.botWarnings(spec) {
		fmt.Fprintf(o.IO.ErrOut, "medplum: warning: %s\n", w)
	}
	if st.BotConfigErr != nil && plan.changesBots() {
		fmt.Fprintf(o.IO.ErrOut, "medplum: warning: %v: apply does not add the bots it creates to it, nor remove those it deletes\n", st.BotConfigErr)
	}
	pending := plan.Pending()
	switch {
	case o.DryRun && pending:
		return &cmdutil.ExitError{Code: cmdutil.ExitPending, Err: fmt.Errorf("dry run: changes are pending; nothing was changed")}
	case !pending:
		return nil
	case !o.Yes && !o.IO.CanPrompt():
		return cmdutil.InputErrorf("changes are pending: pass --yes to apply them (nothing was changed)")
	case !o.Yes:
		ok, err := cmdutil.Confirm(o.Ctx, o.IO, fmt.Sprintf("Apply these changes to project %q?", plan.ProjectName))
		if err != nil {
			return err
		}
		if !ok {
			fmt.Fprintln(o.IO.ErrOut, "Apply cancelled: nothing was changed.")
			return nil
		}
	}
	x := newExecutor(c, plan, o.IO.ErrOut)
	done, err := x.run(o.Ctx, plan)
	if err != nil {
		return err
	}
	if !o.Output.Document() {
		fmt.Fprintf(o.IO.Out, "Applied %s to project %q.\n", cmdutil.Count(done, "change"), plan.ProjectName)
	}
	return nil
}

// load reads the file (or stdin for "-"); a CSV it names is relative to it
// (to the working directory for stdin).
func (o *Options) load() (*Spec, error) {
	if o.File != "-" {
		return Load(o.File)
	}
	data, err := io.ReadAll(o.IO.In)
	if err != nil {
		return nil, fmt.Errorf("reading the project file from stdin: %w", err)
	}
	wd, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	return Parse("(stdin)", wd, data)
}
