package bot

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"path"
	"sort"
	"strings"
	"sync"

	"github.com/spf13/cobra"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/commands/cmdutil"
	"github.com/medplumcli/medplum/commands/completion"
	"github.com/medplumcli/medplum/commands/membership"
	"github.com/medplumcli/medplum/commands/output"
)

// ListOptions are the inputs of `bot list`.
type ListOptions struct {
	common
	Output output.Options
}

// NewCmdList is `medplum bot list`.
func NewCmdList(f *cmdutil.Factory, runF func(*ListOptions) error) *cobra.Command {
	opts := &ListOptions{common: newCommon(f)}
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the project's bots",
		Long: `List the project's Bots: name, id, runtime, the access policy of the bot's
membership, when its code was last deployed ("never" for a bot without
deployed code), and the name medplum.config.json in the current directory
gives it (empty when the file does not list it).`,
		Example: `  $ medplum bot list
  $ medplum bot list --columns name,deployed -o csv
  $ medplum bot list -o json --jq '.[] | select(.config == "") | .name'`,
		Args: cmdutil.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			opts.Ctx = c.Context()
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
	output.SetExamples(cmd, "name,deployed,config", ".[].name")
	opts.Output.CompleteColumns = output.ColumnList(listColumns...)
	return cmd
}

// Item is one bot in the output of list (and get's table).
type Item struct {
	Name         string `json:"name"`
	ID           string `json:"id"`
	Runtime      string `json:"runtime,omitempty"`
	AccessPolicy string `json:"accessPolicy,omitempty"`
	Deployed     string `json:"deployed,omitempty"` // when the deployed code was stored; "" never
	Config       string `json:"config,omitempty"`   // the name medplum.config.json gives it
	Description  string `json:"description,omitempty"`
	Membership   string `json:"membership,omitempty"`
}

var listColumns = []string{"name", "id", "runtime", "access_policy", "deployed", "config", "description", "membership"}

func listRun(o *ListOptions) error {
	cfg := o.localConfig(true)
	c, who, err := o.connect()
	if err != nil {
		return err
	}
	pid := url.QueryEscape("Project/" + who.ProjectID)
	bots, err := c.SearchAll(o.Ctx, "Bot?"+client.ProjectSearch(who.ProjectID)+"&_count=1000&_sort=_lastUpdated")
	if err != nil {
		return err
	}
	ms, err := c.SearchAll(o.Ctx, "ProjectMembership?project="+pid+"&profile-type=Bot&_count=1000&_sort=_lastUpdated")
	if err != nil {
		return err
	}
	sort.SliceStable(bots, func(i, j int) bool { return bots[i].String("name") < bots[j].String("name") })
	items := describe(o.Ctx, c, bots, ms, cfg)
	if done, err := output.WriteItems(o.IO, &o.Output, items); done {
		return err
	}
	return o.Output.WriteRows(o.IO, rows(items))
}

// localConfig reads medplum.config.json for the names it gives bots and
// the config column; a file that cannot be read is named on stderr and
// left out. With entries, what is wrong with an entry is said too, with
// the fix (the entry is left out of the config column).
func (o *common) localConfig(entries bool) *Config {
	cfg, err := LoadConfig(ConfigFile)
	if err != nil {
		fmt.Fprintf(o.IO.ErrOut, "medplum: warning: %v (its bot names are not used)\n", err)
		return &Config{Path: ConfigFile}
	}
	if entries {
		for _, e := range cfg.Entries {
			for _, p := range e.Problems {
				fmt.Fprintf(o.IO.ErrOut, "medplum: warning: %s: %s\n", e.Where(cfg.Path), p)
			}
			for _, h := range e.hints() {
				fmt.Fprintln(o.IO.ErrOut, h)
			}
		}
	}
	return cfg
}

// describe makes the items of bots: their memberships' access policies,
// when their code was deployed (a read of each deployed code's Binary, a
// few at a time) and their names in the config.
func describe(ctx context.Context, c *client.Client, bots, memberships []client.Resource, cfg *Config) []Item {
	byBot := map[string]client.Resource{}
	for _, m := range memberships {
		byBot[m.Ref("profile")] = m
	}
	items := make([]Item, len(bots))
	var mu sync.Mutex
	each(ctx, len(bots), 8, func(i int) {
		b := bots[i]
		it := Item{Name: b.String("name"), ID: b.ID(), Runtime: b.String("runtimeVersion"), Description: b.String("description")}
		if m := byBot["Bot/"+b.ID()]; m != nil {
			it.Membership = m.ID()
			it.AccessPolicy = membership.AccessSummary(m)
		}
		if e := cfg.ByID(b.ID()); e != nil {
			it.Config = e.Name
		}
		it.Deployed = deployedAt(ctx, c, b)
		mu.Lock()
		items[i] = it
		mu.Unlock()
	})
	return items
}

// deployedAt is when a bot's deployed code was stored: the lastUpdated of
// the Binary its executableCode names ("" when it has none or it cannot be
// read). The server answers the attachment as a presigned storage URL whose
// last two path segments are the Binary's id and version.
func deployedAt(ctx context.Context, c *client.Client, bot client.Resource) string {
	u, _ := attachmentURL(bot, "executableCode")
	id := binaryID(u)
	if id == "" {
		return ""
	}
	bin, err := c.ReadResource(ctx, client.ResourceURL("Binary", id))
	if err != nil {
		return ""
	}
	meta, _ := bin["meta"].(map[string]any)
	s, _ := meta["lastUpdated"].(string)
	return s
}

// binaryID is the Binary an attachment URL names: Binary/<id>, or a
// storage URL .../<id>/<version>?...
func binaryID(u string) string {
	if id, ok := strings.CutPrefix(u, "Binary/"); ok {
		return id
	}
	p, err := url.Parse(u)
	if err != nil || p.Path == "" {
		return ""
	}
	id := path.Base(path.Dir(p.Path))
	if !membership.ValidID(id) {
		return ""
	}
	return id
}

func rows(items []Item) output.Rows {
	r := output.Rows{Default: []string{"name", "id", "runtime", "access_policy", "deployed", "config"}, Known: listColumns}
	for _, it := range items {
		deployed := it.Deployed
		if deployed == "" {
			deployed = "never"
		}
		r.Records = append(r.Records, output.MapRecord{
			"name": it.Name, "id": it.ID, "runtime": it.Runtime, "access_policy": it.AccessPolicy,
			"deployed": deployed, "config": it.Config, "description": it.Description, "membership": it.Membership,
		})
	}
	return r
}

// GetOptions are the inputs of `bot get`.
type GetOptions struct {
	common
	Bot    string
	Output output.Options
}

// NewCmdGet is `medplum bot get <bot>`.
func NewCmdGet(f *cmdutil.Factory, runF func(*GetOptions) error) *cobra.Command {
	opts := &GetOptions{common: newCommon(f)}
	cmd := &cobra.Command{
		Use:   "get <bot>",
		Short: "Show one bot",
		Long: `Show one bot: <bot> is its name, its id or Bot/<id>. -o json prints the Bot as
the server sends it (its sourceCode and executableCode are links to the code,
valid for an hour).`,
		Example: `  $ medplum bot get hello-world
  $ medplum bot get Bot/123 -o json`,
		Args:              cmdutil.ExactArgs(1, "a bot (name, id or Bot/<id>)"),
		ValidArgsFunction: completion.FirstArg(completion.Named(f, "Bot")),
		RunE: func(c *cobra.Command, args []string) error {
			opts.Ctx = c.Context()
			opts.Bot = args[0]
			if err := opts.Output.Check(); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return getRun(opts)
		},
	}
	output.AddFlags(cmd, &opts.Output, output.Table)
	output.SetExamples(cmd, "name,deployed,config", ".id")
	opts.Output.CompleteColumns = output.ColumnList(listColumns...)
	return cmd
}

func getRun(o *GetOptions) error {
	cfg := o.localConfig(false)
	c, bot, _, err := o.find(o.Bot, cfg)
	if err != nil {
		return err
	}
	switch {
	case o.Output.Document():
		return o.Output.WriteDoc(o.IO, bot.Raw)
	case o.Output.Format == output.NDJSON:
		return output.WriteNDJSON(o.IO.Out, []json.RawMessage{bot.Raw})
	}
	ms, err := c.SearchAll(o.Ctx, "ProjectMembership?profile=Bot/"+url.QueryEscape(bot.ID()))
	if err != nil {
		return err
	}
	items := describe(o.Ctx, c, []client.Resource{bot.Resource}, ms, cfg)
	return o.Output.WriteRows(o.IO, rows(items))
}
