// Package bot is `medplum bot`: create a project's Bots, save and deploy
// their code from the official CLI's medplum.config.json (by name or "*"
// pattern, several at a time, only what changed), list them, and run them.
// The official CLI's deprecated spellings save-bot, deploy-bot and
// create-bot keep working.
package bot

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/MakeNowJust/heredoc"
	"github.com/spf13/cobra"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/commands/cmdutil"
	"github.com/medplumcli/medplum/commands/iostreams"
	"github.com/medplumcli/medplum/commands/membership"
)

// NewCmdBot is the `bot` command group.
func NewCmdBot(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "bot <command>",
		Aliases: []string{"bots"},
		Short:   "Create, deploy, list and run the project's bots",
		Long: heredoc.Doc(`
			Manage the Bots of the project you are signed in to: the code Medplum runs
			on events, on a schedule or when called ($execute).

			save and deploy read the official CLI's medplum.config.json in the
			current directory: its "bots" array names each bot, its id, its source
			file and its built file ("dist"). Give one or more names; "*" matches any
			text ('*' deploys every bot). deploy uploads only what changed, several
			bots at a time. bot create adds the new bot to medplum.config.json, and
			bot create --if-not-exists adds a bot the project already has.

			Every command finds a <bot> the same way: the name medplum.config.json
			gives it, else its id, Bot/<id> or its name in the project. An entry of
			the file with a problem only stops the commands that need that entry.

			The deployed file is JavaScript that sets exports.handler (CommonJS):
			  exports.handler = async (medplum, event) => { return event.input; };
			Medplum's default runtime (vmcontext) runs it as a script, and only then
			finds what is wrong: "export" or "import" statements fail ("Unexpected
			token 'export'", "Cannot use import statement outside a module"), and so
			does a bundle that only sets module.exports ("exports.handler is not a
			function"). Build TypeScript to CommonJS and name the built file in
			"dist"; Medplum's example bots use esbuild --format=cjs with the footer
			Object.assign(exports, module.exports).

			Deploying needs "bots" in the project's features, which only a super
			admin can set. A bot is also a member of the project (profile type Bot).
		`),
		Args: cobra.ArbitraryArgs,
		RunE: cmdutil.GroupRunE,
	}
	cmd.AddCommand(NewCmdCreate(f, nil), NewCmdSave(f, nil), NewCmdDeploy(f, nil),
		NewCmdList(f, nil), NewCmdGet(f, nil), NewCmdRun(f, nil))
	return cmd
}

// NewCmdsDeprecated are the official CLI's old top-level spellings
// save-bot, deploy-bot and create-bot: hidden, working, with a notice.
func NewCmdsDeprecated(f *cmdutil.Factory) []*cobra.Command {
	return []*cobra.Command{
		deprecated(NewCmdSave(f, nil), "save-bot", "bot save"),
		deprecated(NewCmdDeploy(f, nil), "deploy-bot", "bot deploy"),
		deprecated(NewCmdCreate(f, nil), "create-bot", "bot create"),
	}
}

// deprecated renames cmd to its old spelling, hides it, and has it say on
// stderr what to type instead.
func deprecated(cmd *cobra.Command, old, now string) *cobra.Command {
	cmd.Use = old + strings.TrimPrefix(cmd.Use, cmd.Name())
	cmd.Aliases = nil
	cmd.Hidden = true
	cmd.Short = "Deprecated: use medplum " + now
	run := cmd.RunE
	cmd.RunE = func(c *cobra.Command, args []string) error {
		fmt.Fprintf(c.ErrOrStderr(), "medplum: %s is deprecated; use: medplum %s\n", old, now)
		return run(c, args)
	}
	return cmd
}

// common are the inputs every bot command has.
type common struct {
	IO     *iostreams.IOStreams
	Client func() (*client.Client, error)
	Ctx    context.Context
}

func newCommon(f *cmdutil.Factory) common {
	return common{IO: f.IOStreams, Client: f.Client}
}

// connect signs in and reads who the credentials are: bots are made in,
// listed from and found in that project.
func (o *common) connect() (*client.Client, *cmdutil.SignedIn, error) {
	c, err := o.Client()
	if err != nil {
		return nil, nil, err
	}
	who, err := cmdutil.WhoAmI(o.Ctx, c)
	if err != nil {
		return nil, nil, err
	}
	return c, who, nil
}

// label names a bot for messages: "name" (Bot/<id>).
func label(name, id string) string {
	return fmt.Sprintf("%q (Bot/%s)", name, id)
}

// find signs in and resolves <bot> as every bot command does: a name
// medplum.config.json (cfg) gives it, else Bot/<id>, an id or its exact
// name in the project. entry is the config's entry of the bot, if any.
func (o *common) find(arg string, cfg *Config) (c *client.Client, bot client.Doc, entry *Entry, err error) {
	c, who, err := o.connect()
	if err != nil {
		return nil, client.Doc{}, nil, err
	}
	bot, entry, err = resolveBot(o.Ctx, c, who, cfg, arg)
	return c, bot, entry, err
}

// resolveBot finds <bot>: the entry of medplum.config.json with that name
// (its bot must exist), else a bot of the project (lookupBot), with the
// entry of its id.
func resolveBot(ctx context.Context, c *client.Client, who *cmdutil.SignedIn, cfg *Config, arg string) (client.Doc, *Entry, error) {
	var named []*Entry
	for _, e := range cfg.ByName(arg) {
		if e.HasID() {
			named = append(named, e)
		}
	}
	if len(named) > 1 {
		_, err := cfg.Select([]string{arg}, nil)
		return client.Doc{}, nil, err
	}
	if len(named) == 1 {
		e := named[0]
		d, err := readBot(ctx, c, e.ID)
		switch client.StatusOf(err) {
		case 0:
			return d, e, err
		case 404, 410:
			return client.Doc{}, nil, cmdutil.WithHint(cmdutil.InputErrorf("%s: %s", e.Where(cfg.Path), missingBot(e.ID, err)), goneHint(e.Name, client.StatusOf(err)))
		}
		return client.Doc{}, nil, err
	}
	list, err := lookupBot(ctx, c, who, arg)
	if err != nil {
		return client.Doc{}, nil, err
	}
	switch len(list) {
	case 0:
		return client.Doc{}, nil, cmdutil.InputErrorf("no bot %q in project %s (give an id, Bot/<id> or the exact name)", arg, who.Describe())
	case 1:
		return list[0], cfg.ByID(list[0].ID()), nil
	}
	ids := make([]string, len(list))
	for i, b := range list {
		ids[i] = "Bot/" + b.ID()
	}
	return client.Doc{}, nil, cmdutil.InputErrorf("%d bots in project %s are named %q (%s); give the id", len(list), who.Describe(), arg, strings.Join(ids, ", "))
}

// missingBot says why a config entry's Bot cannot be read (404 or 410).
func missingBot(id string, err error) string {
	if client.StatusOf(err) == 410 {
		return fmt.Sprintf("Bot/%s was deleted", id)
	}
	return fmt.Sprintf("there is no Bot/%s on the server (or you may not read it)", id)
}

// lookupBot finds the bots <bot> names in the project: Bot/<id> or an id
// (read directly), else the bots with exactly that name. A deleted bot
// named by id is an error.
func lookupBot(ctx context.Context, c *client.Client, who *cmdutil.SignedIn, arg string) ([]client.Doc, error) {
	id, isRef := strings.CutPrefix(arg, "Bot/")
	if isRef || membership.ValidID(arg) {
		d, err := readBot(ctx, c, id)
		switch {
		case err == nil:
			return []client.Doc{d}, nil
		case client.StatusOf(err) == 410:
			return nil, fmt.Errorf("bot %s was deleted", arg)
		case client.StatusOf(err) != 404 || isRef:
			return nil, err
		}
	}
	return botsNamed(ctx, c, who.ProjectID, arg)
}

// readBot reads Bot/<id>.
func readBot(ctx context.Context, c *client.Client, id string) (client.Doc, error) {
	resp, err := c.Do(ctx, &client.Request{URL: client.ResourceURL("Bot", id)})
	if err != nil {
		return client.Doc{}, err
	}
	d, err := client.NewDoc(resp.Body)
	if err != nil {
		return client.Doc{}, fmt.Errorf("GET Bot/%s: %w", id, err)
	}
	if d.ResourceType() != "Bot" {
		return client.Doc{}, fmt.Errorf("GET Bot/%s: the server answered a %s", id, d.ResourceType())
	}
	return d, nil
}

// botsNamed lists the project's bots with exactly that name.
func botsNamed(ctx context.Context, c *client.Client, project, name string) ([]client.Doc, error) {
	var out []client.Doc
	q := url.Values{"name:exact": {name}, "_count": {"20"}}
	for d, err := range c.SearchDocs(ctx, "Bot?"+client.ProjectSearch(project)+"&"+q.Encode()) {
		if err != nil {
			return nil, err
		}
		if d.String("name") == name && d.ResourceType() == "Bot" {
			out = append(out, d)
		}
	}
	return out, nil
}

// attachmentURL is the url of a Bot's sourceCode or executableCode.
func attachmentURL(bot client.Resource, field string) (url, title string) {
	a, _ := bot[field].(map[string]any)
	url, _ = a["url"].(string)
	title, _ = a["title"].(string)
	return url, title
}
