package projectadmin

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/MakeNowJust/heredoc"
	"github.com/spf13/cobra"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/commands/cmdutil"
	"github.com/medplumcli/medplum/commands/iostreams"
	"github.com/medplumcli/medplum/commands/output"
)

// maxSecretBytes bounds a secret read from stdin.
const maxSecretBytes = 64 << 10

// NewCmdSecrets is the `project secrets` group.
func NewCmdSecrets(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "secrets <command>",
		Short: "Set and remove the project's secrets (Project.secret)",
		Long: heredoc.Doc(`
			Manage the secrets of the project you are signed in to (Project.secret:
			values bots and integrations read, such as API keys). Values are read
			from standard input, never from the command line, and never printed:
			"list" shows names only. As for settings, the server's route replaces
			the whole list, so the other secrets are read and written back unchanged.
		`),
		Args: cobra.ArbitraryArgs,
		RunE: cmdutil.GroupRunE,
	}
	cmd.AddCommand(NewCmdSecretsList(f, nil), NewCmdSecretsSet(f, nil), NewCmdSecretsUnset(f, nil))
	return cmd
}

// SecretsOptions are the inputs of `project secrets list|set|unset`.
type SecretsOptions struct {
	IO     *iostreams.IOStreams
	Client func() (*client.Client, error)
	Ctx    context.Context

	Name   string
	Output output.Options
}

// NewCmdSecretsList is `medplum project secrets list`.
func NewCmdSecretsList(f *cmdutil.Factory, runF func(*SecretsOptions) error) *cobra.Command {
	opts := &SecretsOptions{IO: f.IOStreams, Client: f.Client}
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the names of the project's secrets (never their values)",
		Args:    cmdutil.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			opts.Ctx = c.Context()
			if err := opts.Output.Check(); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return secretsListRun(opts)
		},
	}
	output.AddFlags(cmd, &opts.Output, output.Table)
	output.SetExamples(cmd, "name", ".[].name")
	return cmd
}

// NewCmdSecretsSet is `medplum project secrets set <name>`.
func NewCmdSecretsSet(f *cmdutil.Factory, runF func(*SecretsOptions) error) *cobra.Command {
	opts := &SecretsOptions{IO: f.IOStreams, Client: f.Client}
	cmd := &cobra.Command{
		Use:   "set <name>",
		Short: "Set a secret from standard input, keeping the others",
		Long: heredoc.Doc(`
			Set the secret <name> of the project to the value read from standard
			input (one trailing line break is dropped). On a terminal the value is
			asked for without echo. The value never appears in the command line,
			the output or the --verbose trace.
		`),
		Example: `  $ printf '%s' "$SMTP_PASSWORD" | medplum project secrets set SMTP_PASSWORD
  $ medplum project secrets set API_KEY < api-key.txt`,
		Args: cmdutil.ExactArgs(1, "a secret name"),
		RunE: func(c *cobra.Command, args []string) error {
			opts.Ctx = c.Context()
			opts.Name = args[0]
			if err := checkName("secret", opts.Name); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return secretsSetRun(opts)
		},
	}
	return cmd
}

// NewCmdSecretsUnset is `medplum project secrets unset <name>`.
func NewCmdSecretsUnset(f *cmdutil.Factory, runF func(*SecretsOptions) error) *cobra.Command {
	opts := &SecretsOptions{IO: f.IOStreams, Client: f.Client}
	cmd := &cobra.Command{
		Use:   "unset <name>",
		Short: "Remove a secret, keeping the others",
		Args:  cmdutil.ExactArgs(1, "a secret name"),
		RunE: func(c *cobra.Command, args []string) error {
			opts.Ctx = c.Context()
			opts.Name = args[0]
			if err := checkName("secret", opts.Name); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return secrets.unset(opts.Ctx, opts.IO, opts.Client, opts.Name)
		},
	}
	return cmd
}

func secretsListRun(o *SecretsOptions) error {
	_, st, err := secrets.read(o.Ctx, o.Client)
	if err != nil {
		return err
	}
	type secretItem struct {
		Name string `json:"name"`
	}
	items := make([]secretItem, len(st.entries))
	for i, s := range st.entries {
		items[i].Name = s.String("name")
	}
	if done, err := output.WriteItems(o.IO, &o.Output, items); done {
		return err
	}
	rows := output.Rows{Default: []string{"name"}, Known: []string{"name"}}
	for _, it := range items {
		rows.Records = append(rows.Records, output.MapRecord{"name": it.Name})
	}
	return o.Output.WriteRows(o.IO, rows)
}

func secretsSetRun(o *SecretsOptions) error {
	value, err := readSecret(o.Ctx, o.IO, "Value of secret "+o.Name+": ")
	if err != nil {
		return err
	}
	return secrets.change(o.Ctx, o.IO, o.Client, func(st *listState) (string, bool, error) {
		if !st.set(o.Name, "valueString", value) {
			return fmt.Sprintf("Secret %s of project %s already has this value.", o.Name, st.who.Describe()), false, nil
		}
		return fmt.Sprintf("Set secret %s in project %s.", o.Name, st.who.Describe()), true, nil
	})
}

// readSecret reads a secret value: without echo from a terminal (after a
// prompt on stderr), else all of stdin minus one trailing line break.
func readSecret(ctx context.Context, ios *iostreams.IOStreams, prompt string) (string, error) {
	var raw []byte
	var onTerminal bool
	var err error
	if ios.IsStdinTTY() {
		raw, onTerminal, err = cmdutil.ReadHidden(ctx, ios, prompt)
	}
	switch {
	case err != nil && ctx.Err() != nil:
		return "", err
	case err != nil:
		return "", fmt.Errorf("reading the secret: %w", err)
	case !onTerminal:
		b, err := io.ReadAll(io.LimitReader(ios.In, maxSecretBytes+1))
		if err != nil {
			return "", fmt.Errorf("reading the secret from standard input: %w", err)
		}
		if len(b) > maxSecretBytes {
			return "", cmdutil.InputErrorf("the secret on standard input is longer than %d bytes", maxSecretBytes)
		}
		raw = b
	}
	s := strings.TrimSuffix(strings.TrimSuffix(string(raw), "\n"), "\r")
	if s == "" {
		return "", cmdutil.InputErrorf("the secret value is empty: pipe it to standard input")
	}
	return s, nil
}
