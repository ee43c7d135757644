package profile

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/medplumcli/medplum/commands/cmdutil"
	"github.com/medplumcli/medplum/commands/config"
	"github.com/medplumcli/medplum/commands/iostreams"
	"github.com/medplumcli/medplum/commands/output"
)

// ListOptions are the inputs of `profile list`.
type ListOptions struct {
	IO     *iostreams.IOStreams
	Config func() (*config.File, error)
	Output output.Options
}

// NewCmdList is `medplum profile list`.
func NewCmdList(f *cmdutil.Factory, runF func(*ListOptions) error) *cobra.Command {
	opts := &ListOptions{IO: f.IOStreams, Config: f.Config}
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the profiles in the settings file",
		Long:    "List the profiles in the settings file. CURRENT marks the one chosen by \"medplum profile use\".",
		Args:    cmdutil.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if err := opts.Output.Check(); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return listRun(opts)
		},
	}
	output.AddFlags(cmd, &opts.Output, output.Table)
	opts.Output.CompleteColumns = output.ColumnList(listColumns...)
	output.SetExamples(cmd, "name,base_url,client_id", ".[].name")
	return cmd
}

// listItem is one profile in JSON output.
type listItem struct {
	Name         string `json:"name"`
	Current      bool   `json:"current"`
	BaseURL      string `json:"base_url,omitempty"`
	FHIRURLPath  string `json:"fhir_url_path,omitempty"`
	TokenURL     string `json:"token_url,omitempty"`
	AuthorizeURL string `json:"authorize_url,omitempty"`
	ClientID     string `json:"client_id,omitempty"`
	AuthType     string `json:"auth_type,omitempty"`
	Scope        string `json:"scope,omitempty"`
}

var listColumns = []string{"current", "name", "base_url", "fhir_url_path", "token_url", "authorize_url", "client_id", "auth_type", "scope"}

func listRun(opts *ListOptions) error {
	file, err := opts.Config()
	if err != nil {
		return err
	}
	current := file.Current
	if current == "" {
		current = config.DefaultProfile
	}
	items := []listItem{}
	rows := output.Rows{Default: []string{"current", "name", "base_url", "client_id", "auth_type"}, Known: listColumns}
	for _, name := range file.Names() {
		p, _ := file.Profile(name)
		it := listItem{Name: name, Current: name == current, BaseURL: p.BaseURL, FHIRURLPath: p.FHIRURLPath,
			TokenURL: p.TokenURL, AuthorizeURL: p.AuthorizeURL, ClientID: p.ClientID, AuthType: p.AuthType, Scope: p.Scope}
		items = append(items, it)
		rec := output.MapRecord{"name": name}
		if it.Current {
			rec["current"] = "*"
		}
		for _, k := range listColumns[2:] {
			rec[k] = p.Get(k)
		}
		rows.Records = append(rows.Records, rec)
	}
	if done, err := output.WriteItems(opts.IO, &opts.Output, items); done {
		return err
	}
	if len(items) == 0 && opts.IO.IsStdoutTTY() {
		fmt.Fprintln(opts.IO.ErrOut, "No profiles yet. Create one with: medplum profile set NAME --base-url URL")
		return nil
	}
	return opts.Output.WriteRows(opts.IO, rows)
}
