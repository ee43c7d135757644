package commands

import (
	"fmt"

	"github.com/MakeNowJust/heredoc"
	"github.com/spf13/cobra"

	"github.com/medplumcli/medplum/commands/apply"
	"github.com/medplumcli/medplum/commands/authcmd"
	"github.com/medplumcli/medplum/commands/bot"
	"github.com/medplumcli/medplum/commands/clients"
	"github.com/medplumcli/medplum/commands/cmdutil"
	"github.com/medplumcli/medplum/commands/completion"
	"github.com/medplumcli/medplum/commands/config"
	"github.com/medplumcli/medplum/commands/invite"
	"github.com/medplumcli/medplum/commands/members"
	"github.com/medplumcli/medplum/commands/profile"
	"github.com/medplumcli/medplum/commands/projectcmd"
	"github.com/medplumcli/medplum/commands/rest"
	"github.com/medplumcli/medplum/commands/version"
)

// NewCmdRoot builds the whole command tree on f.
func NewCmdRoot(f *cmdutil.Factory) *cobra.Command {
	// Every PersistentPreRunE on the path runs, not only the nearest one.
	cobra.EnableTraverseRunHooks = true

	root := &cobra.Command{
		Use:   "medplum <command>",
		Short: "Administer Medplum projects and users from a terminal",
		Long: heredoc.Doc(`
			Administer Medplum projects and users from a terminal or a CI job.

			The REST commands (get, post, put, patch, delete) mirror the official
			Medplum CLI, so its scripts and habits carry over.
		`),
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

	for _, c := range rest.NewCmds(f) {
		root.AddCommand(c)
	}
	root.AddCommand(version.NewCmdVersion(f))
	profileCmd := profile.NewCmdProfile(f)
	profileCmd.AddCommand(authcmd.NewCmdProfileImport(f, nil))
	root.AddCommand(profileCmd)
	root.AddCommand(invite.NewCmdInvite(f, nil))
	root.AddCommand(projectcmd.NewCmdProject(f))
	root.AddCommand(members.NewCmdMembers(f))
	root.AddCommand(clients.NewCmdClients(f))
	root.AddCommand(authcmd.NewCmdLogin(f, nil), authcmd.NewCmdLogout(f, nil), authcmd.NewCmdWhoami(f, nil), authcmd.NewCmdToken(f, nil))
	root.AddCommand(apply.NewCmdApply(f, nil))
	root.AddCommand(bot.NewCmdBot(f))
	root.AddCommand(bot.NewCmdsDeprecated(f)...)
	root.SetHelpCommand(newCmdHelp())
	for _, t := range helpTopics() {
		root.AddCommand(t)
	}
	root.AddCommand(invite.NewHelpTopicCSV())
	root.AddCommand(apply.NewHelpTopic())

	_ = root.RegisterFlagCompletionFunc("profile", completion.Profiles(f))
	completion.NoFilesByDefault(root)
	strictBuiltins(root)
	return root
}

// strictBuiltins makes cobra's own `completion` command treat an unknown
// shell as a usage error (exit 2); cobra prints help and exits 0. (`help`
// is newCmdHelp.) Execute keeps the commands made here.
func strictBuiltins(root *cobra.Command) {
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		if c.Name() == "completion" {
			c.Use = "completion <command>"
			c.Args = cobra.ArbitraryArgs
			c.RunE = cmdutil.GroupRunE
		}
	}
}
