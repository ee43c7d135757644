package commands

import (
	"fmt"
	"net/http"
	"slices"

	"github.com/spf13/cobra"

	"github.com/medplumcli/medplum/commands/apply"
	"github.com/medplumcli/medplum/commands/authcmd"
	"github.com/medplumcli/medplum/commands/bot"
	"github.com/medplumcli/medplum/commands/bulk"
	"github.com/medplumcli/medplum/commands/clients"
	"github.com/medplumcli/medplum/commands/cmdutil"
	"github.com/medplumcli/medplum/commands/completion"
	"github.com/medplumcli/medplum/commands/config"
	"github.com/medplumcli/medplum/commands/invite"
	"github.com/medplumcli/medplum/commands/members"
	"github.com/medplumcli/medplum/commands/profile"
	"github.com/medplumcli/medplum/commands/projectcmd"
	"github.com/medplumcli/medplum/commands/rest"
	"github.com/medplumcli/medplum/commands/review"
	"github.com/medplumcli/medplum/commands/version"
)

// TopCommand is a top-level command as `medplum help` and completion list
// it (Name, Aliases, Short), and how to build it (Build, a gh-style
// NewCmdX). The root holds a stub for each; the real command, with its
// flags, subcommands and help texts, is built only when the arguments name
// it (NewCmdRootFor), so that --version, help and completion build none and
// a command builds only itself. TestTopCommandsMatch checks that the
// listing is what Build makes.
type TopCommand struct {
	Name    string
	Aliases []string
	Short   string
	Hidden  bool // not listed (an old spelling), still run and completed
	Build   func(*cmdutil.Factory) *cobra.Command
}

// TopCommands are the top-level commands, in help order. A new command
// family is one entry here.
var TopCommands = []TopCommand{
	{Name: "apply", Short: "Make a project match a file: settings, access policies, clients, members, bots",
		Build: func(f *cmdutil.Factory) *cobra.Command { return apply.NewCmdApply(f, nil) }},
	{Name: "bot", Aliases: []string{"bots"}, Short: "Create, deploy, list and run the project's bots", Build: bot.NewCmdBot},
	{Name: "bulk", Short: "Export a project's data to NDJSON files and import them (FHIR Bulk Data)", Build: bulk.NewCmdBulk},
	{Name: "clients", Aliases: []string{"client"}, Short: "Create, list, rotate and delete the project's client applications",
		Build: clients.NewCmdClients},
	{Name: "delete", Short: "DELETE a URL", Build: restWrite(http.MethodDelete)},
	{Name: "get", Short: "GET a URL and print the answer", Build: func(f *cmdutil.Factory) *cobra.Command { return rest.NewCmdGet(f, nil) }},
	{Name: "invite", Short: "Invite users to the project: one, or thousands from a CSV file",
		Build: func(f *cmdutil.Factory) *cobra.Command { return invite.NewCmdInvite(f, nil) }},
	{Name: "login", Short: "Sign in and keep the credentials in the system keyring",
		Build: func(f *cmdutil.Factory) *cobra.Command { return authcmd.NewCmdLogin(f, nil) }},
	{Name: "logout", Short: "Sign out: revoke the session on the server and forget the credentials",
		Build: func(f *cmdutil.Factory) *cobra.Command { return authcmd.NewCmdLogout(f, nil) }},
	{Name: "members", Aliases: []string{"member"}, Short: "List and manage the members of a project", Build: members.NewCmdMembers},
	{Name: "patch", Short: "PATCH a URL with a JSON Patch (RFC 6902)", Build: restWrite(http.MethodPatch)},
	{Name: "post", Short: "POST a JSON body to a URL", Build: restWrite(http.MethodPost)},
	{Name: "profile", Short: "Manage named connection profiles", Build: func(f *cmdutil.Factory) *cobra.Command {
		c := profile.NewCmdProfile(f)
		c.AddCommand(authcmd.NewCmdProfileImport(f, nil))
		return c
	}},
	{Name: "project", Short: "Work with projects", Build: projectcmd.NewCmdProject},
	{Name: "put", Short: "PUT a JSON body to a URL", Build: restWrite(http.MethodPut)},
	{Name: "token", Short: "Print a valid access token",
		Build: func(f *cmdutil.Factory) *cobra.Command { return authcmd.NewCmdToken(f, nil) }},
	{Name: "create-bot", Short: "Deprecated: use medplum bot create", Hidden: true, Build: pick("create-bot", bot.NewCmdsDeprecated)},
	{Name: "deploy-bot", Short: "Deprecated: use medplum bot deploy", Hidden: true, Build: pick("deploy-bot", bot.NewCmdsDeprecated)},
	{Name: "save-bot", Short: "Deprecated: use medplum bot save", Hidden: true, Build: pick("save-bot", bot.NewCmdsDeprecated)},
	{Name: "version", Short: "Show the version, commit and build date", Build: version.NewCmdVersion},
	{Name: "whoami", Short: "Show who the credentials sign in as",
		Build: func(f *cmdutil.Factory) *cobra.Command { return authcmd.NewCmdWhoami(f, nil) }},
}

// HelpTopics are the `medplum help <topic>` pages, listed and built the
// same way as TopCommands (a topic's text is made only when it is asked for).
var HelpTopics = []TopCommand{
	{Name: "apply-file", Short: "The project file of medplum apply, as a commented example",
		Build: func(*cmdutil.Factory) *cobra.Command { return apply.NewHelpTopic() }},
	{Name: "environment", Short: "Environment variables that medplum reads", Build: pick("environment", func(*cmdutil.Factory) []*cobra.Command { return helpTopics() })},
	{Name: "exit-codes", Short: "Exit codes and what they mean", Build: pick("exit-codes", func(*cmdutil.Factory) []*cobra.Command { return helpTopics() })},
	{Name: "formatting", Short: "Output formats: -o json|yaml|ndjson|table|csv, --jq, --template", Build: pick("formatting", func(*cmdutil.Factory) []*cobra.Command { return helpTopics() })},
	{Name: "invite-csv", Short: "The CSV file of medplum invite --csv",
		Build: func(*cmdutil.Factory) *cobra.Command { return invite.NewHelpTopicCSV() }},
	{Name: "review-rules", Short: "The rules of medplum members review: what each checks, why, how to fix it",
		Build: func(*cmdutil.Factory) *cobra.Command { return review.NewHelpTopic() }},
}

// restWrite builds one of post, put, patch and delete (and not the others).
func restWrite(method string) func(*cmdutil.Factory) *cobra.Command {
	return func(f *cmdutil.Factory) *cobra.Command { return rest.NewCmdWrite(f, method, nil) }
}

// pick builds the command named name out of several that build makes
// together (the help topics, the old bot spellings).
func pick(name string, build func(*cmdutil.Factory) []*cobra.Command) func(*cmdutil.Factory) *cobra.Command {
	return func(f *cmdutil.Factory) *cobra.Command {
		for _, c := range build(f) {
			if c.Name() == name {
				return c
			}
		}
		panic("commands: no command " + name)
	}
}

// NewCmdRoot builds the whole command tree on f (docs, tests).
func NewCmdRoot(f *cmdutil.Factory) *cobra.Command {
	root := newRoot(f)
	for _, tc := range append(slices.Clone(TopCommands), HelpTopics...) {
		root.AddCommand(tc.Build(f))
	}
	finish(f, root)
	return root
}

// NewCmdRootFor builds the root for one run with these arguments: every
// top-level command is a stub that help and completion list, except the
// one the arguments name (also after help, or in a completion request),
// which is built whole.
func NewCmdRootFor(f *cmdutil.Factory, args []string) *cobra.Command {
	root := newRoot(f)
	for _, tc := range TopCommands {
		root.AddCommand(stub(tc))
	}
	for _, tc := range HelpTopics {
		root.AddCommand(&cobra.Command{Use: tc.Name, Short: tc.Short}) // not runnable: a help topic
	}
	// cobra's completion command (four subcommands and their long help) is
	// built only when the arguments name it; help and completion list the
	// stub, and cobra adds no other when one has the name.
	compStub := stub(TopCommand{Name: completionName, Short: completionShort})
	root.AddCommand(compStub)
	name := target(root, args)
	if name == completionName {
		root.RemoveCommand(compStub)
	}
	if name != "" {
		for _, tc := range append(slices.Clone(TopCommands), HelpTopics...) {
			if tc.Name == name {
				for _, c := range root.Commands() {
					if c.Name() == name {
						root.RemoveCommand(c)
					}
				}
				root.AddCommand(tc.Build(f))
			}
		}
	}
	finish(f, root)
	return root
}

// cobra's completion command: its name and its Short, as cobra's
// InitDefaultCompletionCmd makes it (TestCompletionStubMatches).
const (
	completionName  = "completion"
	completionShort = "Generate the autocompletion script for the specified shell"
)

// stub is a top-level command that is never run: it names the command for
// help and completion until the arguments name it.
func stub(tc TopCommand) *cobra.Command {
	return &cobra.Command{
		Use: tc.Name, Aliases: tc.Aliases, Short: tc.Short, Hidden: tc.Hidden,
		DisableFlagParsing: true,
		RunE: func(*cobra.Command, []string) error {
			return fmt.Errorf("internal error: command %q was not built", tc.Name)
		},
	}
}

// target is the name of the top-level command args name, or "".
func target(root *cobra.Command, args []string) string {
	if len(args) > 0 && (args[0] == cobra.ShellCompRequestCmd || args[0] == cobra.ShellCompNoDescRequestCmd) {
		args = args[1:]
	}
	if len(args) > 0 && args[0] == "help" {
		args = args[1:]
	}
	c, _, err := root.Find(args)
	if err != nil || c == nil || c == root {
		return ""
	}
	for c.Parent() != nil && c.Parent() != root {
		c = c.Parent()
	}
	return c.Name()
}

// newRoot is the root command with its global flags and hooks, without
// subcommands.
func newRoot(f *cmdutil.Factory) *cobra.Command {
	// Every PersistentPreRunE on the path runs, not only the nearest one.
	cobra.EnableTraverseRunHooks = true

	root := &cobra.Command{
		Use:   "medplum <command>",
		Short: "Administer Medplum projects and users from a terminal",
		Long: "Administer Medplum projects and users from a terminal or a CI job.\n\n" +
			"The REST commands (get, post, put, patch, delete) mirror the official\n" +
			"Medplum CLI, so its scripts and habits carry over.\n",
		Example: `  $ medplum get 'ProjectMembership?profile-type=Practitioner' -o table
  $ medplum post Project '{"resourceType":"Project","name":"ProjectName"}'
  $ medplum -p staging get Patient/123`,
		Version:       version.String(),
		SilenceErrors: true,
		SilenceUsage:  true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			f.Flags = cmd.Flags()
			for _, k := range config.Keys {
				if k.Secret && k.Flag != "" && cmd.Flags().Changed(k.Flag) {
					fmt.Fprintf(f.IOStreams.ErrOut, "medplum: warning: --%s is visible to other users in the process list; prefer %s\n", k.Flag, k.Env)
				}
			}
			return nil
		},
	}
	root.SetVersionTemplate("{{.Version}}\n")
	root.SetOut(f.IOStreams.Out)
	root.SetErr(f.IOStreams.ErrOut)
	root.SetIn(f.IOStreams.In)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return &cmdutil.FlagError{Err: err}
	})

	pf := root.PersistentFlags()
	config.AddGlobalFlags(pf)
	pf.BoolP("verbose", "v", false, "trace requests and responses on stderr (secrets redacted)")
	root.SetGlobalNormalizationFunc(config.NormalizeFlag)
	return root
}

// finish adds what every root has after its commands: help and completion.
func finish(f *cmdutil.Factory, root *cobra.Command) {
	root.SetHelpCommand(newCmdHelp())

	_ = root.RegisterFlagCompletionFunc("profile", completion.Profiles(f))
	completion.NoFilesByDefault(root)
	strictBuiltins(root)
}

// strictBuiltins makes cobra's own `completion` command treat an unknown
// shell as a usage error (exit 2); cobra prints help and exits 0. (`help`
// is newCmdHelp.) Execute keeps the commands made here.
func strictBuiltins(root *cobra.Command) {
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd() // nothing when the stub is there
	for _, c := range root.Commands() {
		if c.Name() == completionName && c.HasSubCommands() { // cobra's, not the stub
			c.Use = "completion <command>"
			c.Args = cobra.ArbitraryArgs
			c.RunE = cmdutil.GroupRunE
		}
	}
}
