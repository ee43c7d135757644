package apply

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/commands/bot"
	"github.com/medplumcli/medplum/commands/cmdutil"
)

// The bots section: Bots matched by name, with their description, runtime,
// the access policy of their membership, and their code (source, and dist
// to deploy), which apply uploads and deploys when it differs from what the
// bot runs.

// KindBot is a Bot in the plan.
const KindBot = "bot"

// BotSpec is one Bot, matched by name.
type BotSpec struct {
	Name        string
	Description *string // nil: not managed
	Runtime     *string // nil: not managed
	// AccessPolicy is a reference (a file policy's placeholder or
	// AccessPolicy/<id>) for the bot's membership; nil: not managed, "" none.
	AccessPolicy *string
	Source, Dist string     // as the file writes them; "" Source: the code is not managed
	Files        *bot.Files // their contents, read with the file
	Path         string
	Line         int

	keyLines map[string]int // the lines of its source and dist
	// cfgSource and cfgDist are Source and Dist relative to the working
	// directory, as medplum.config.json lists them.
	cfgSource, cfgDist string
}

var botKeys = []string{"name", "description", "runtime", "accessPolicy", "source", "dist"}

func (p *parser) bots(at node) {
	p.spec.Bots = []*BotSpec{}
	if at.isNull() {
		return
	}
	list, ok := p.seq(at, "bots")
	if !ok {
		return
	}
	first := map[string]string{}
	for _, it := range list {
		m, ok := p.mapping(it, "a bot", botKeys...)
		if !ok {
			continue
		}
		nameNode, hasName := m["name"]
		if !hasName {
			p.errf(it.child("name"), "is required: bots are matched by name")
			continue
		}
		name, ok := p.str(nameNode, "the bot name")
		if !ok {
			continue
		}
		if prev, dup := first[name]; dup {
			p.errf(nameNode, "duplicate bot name %q (also %s)", name, prev)
			continue
		}
		first[name] = it.path
		b := &BotSpec{Name: name, Path: it.path, Line: it.n.Line}
		if v, ok := m["description"]; ok {
			if s, ok := p.str(v, "the description"); ok {
				b.Description = &s
			}
		}
		if v, ok := m["runtime"]; ok {
			if s, ok := p.str(v, "the runtime"); ok {
				if !slices.Contains(bot.Runtimes, s) {
					p.errf(v, "unknown runtime %q (use %s)", s, strings.Join(bot.Runtimes, " or "))
				}
				b.Runtime = &s
			}
		}
		if v, ok := m["accessPolicy"]; ok {
			b.AccessPolicy = p.optionalPolicy(v)
		}
		src, hasSrc := m["source"]
		if v, ok := m["dist"]; ok && !hasSrc {
			p.errf(v, "dist needs source: apply uploads the source and deploys the dist")
		}
		if hasSrc {
			b.Source, _ = p.str(src, "the source file")
			at := map[string]node{"source": src}
			if v, ok := m["dist"]; ok {
				b.Dist, _ = p.str(v, "the dist file")
				at["dist"] = v
			}
			b.keyLines = map[string]int{}
			for k, n := range at {
				b.keyLines[k] = n.line
				if n.n != nil {
					b.keyLines[k] = n.n.Line
				}
			}
			if b.Source != "" {
				b.cfgSource, b.cfgDist = fromWorkDir(p.rel(b.Source)), fromWorkDir(p.rel(b.Dist))
				files, problems := bot.ReadFiles(p.rel(b.Source), p.rel(b.Dist))
				for _, pr := range problems {
					p.errf(at[pr.Key], "%s", pr.Msg)
				}
				b.Files = files
			}
		}
		p.spec.Bots = append(p.spec.Bots, b)
	}
}

// rel resolves a path the file names relative to the file.
func (p *parser) rel(name string) string {
	if name == "" || filepath.IsAbs(name) {
		return name
	}
	return filepath.Join(p.dir, name)
}

// fromWorkDir is a path as medplum.config.json lists it: relative to the
// working directory, with slashes ("" stays "").
func fromWorkDir(name string) string {
	if name == "" {
		return ""
	}
	if filepath.IsAbs(name) {
		if wd, err := os.Getwd(); err == nil {
			if rel, err := filepath.Rel(wd, name); err == nil {
				name = rel
			}
		}
	}
	return filepath.ToSlash(filepath.Clean(name))
}

// codeFile is the file a bot spec deploys: the dist, else the source.
func (b *BotSpec) codeFile() string {
	if b.Dist != "" {
		return b.Dist
	}
	return b.Source
}

// botDiff is what differs between a bot's files and what it holds.
type botDiff struct{ source, code bool }

// goneBots reads the Bot of each medplum.config.json entry named like a bot
// the file would create whose id is not one of the project's bots, and
// returns those that were deleted (a 404 may be another project's bot).
func goneBots(ctx context.Context, c *client.Client, spec *Spec, st *State) (map[string]bool, error) {
	live := map[string]bool{}
	names := map[string]bool{}
	for _, b := range st.Bots {
		live[b.ID()] = true
		names[b.String("name")] = true
	}
	gone := map[string]bool{}
	for _, bs := range spec.Bots {
		if names[bs.Name] || bs.Files == nil {
			continue
		}
		for _, e := range st.BotConfig.ByName(bs.Name) {
			if !e.HasID() || live[e.ID] {
				continue
			}
			_, err := c.ReadResource(ctx, client.ResourceURL("Bot", e.ID))
			switch s := client.StatusOf(err); {
			case s == 410:
				gone[e.ID] = true
			case err != nil && s != 404 && s != 403:
				return nil, err
			}
		}
	}
	return gone, nil
}

// readBots reads the project's bots and compares the code of each the
// file names with the server's copy.
func readBots(ctx context.Context, c *client.Client, spec *Spec, st *State) error {
	var err error
	if st.Bots, err = c.SearchAll(ctx, "Bot?"+client.ProjectSearch(st.Who.ProjectID)+"&_count=1000&_sort=_lastUpdated"); err != nil {
		return err
	}
	st.BotDiffs = map[string]botDiff{}
	for _, bs := range spec.Bots {
		if bs.Files == nil {
			continue
		}
		for _, b := range st.Bots {
			if b.String("name") == bs.Name {
				src, code := bs.Files.Differ(ctx, c, b, true)
				st.BotDiffs[b.ID()] = botDiff{source: src, code: code}
			}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	return nil
}

func (p *planner) bots() {
	if !p.spec.ManagesBots {
		return
	}
	byName := map[string][]client.Resource{}
	for _, b := range p.st.Bots {
		byName[b.String("name")] = append(byName[b.String("name")], b)
	}
	var deploys []string // the bots whose code would be deployed
	matched := map[string]bool{}
	for _, bs := range p.spec.Bots {
		found := byName[bs.Name]
		if len(found) == 0 {
			ch := &Change{Action: Create, Kind: KindBot, Name: bs.Name, phase: phaseWrite, spec: bs, do: createBot}
			if bs.Runtime != nil {
				ch.Details = append(ch.Details, "runtime "+*bs.Runtime)
			}
			if bs.AccessPolicy != nil && *bs.AccessPolicy != "" {
				ch.Details = append(ch.Details, "access policy "+p.policyLabel(*bs.AccessPolicy))
			}
			if bs.Files != nil {
				ch.Details = append(ch.Details, "deploy "+bs.codeFile())
				deploys = append(deploys, bs.Name)
			}
			p.configOnCreate(ch, bs)
			p.add(ch)
			continue
		}
		if len(found) > 1 {
			p.conflict("%s: bot %q: %d bots of the project have this name (%s); rename or delete all but one", bs.Path, bs.Name, len(found), ids(found))
			continue
		}
		b := found[0]
		matched[b.ID()] = true
		ch := &Change{Kind: KindBot, Name: bs.Name, ID: "Bot/" + b.ID(), spec: bs, res: b, mem: p.membershipOf("Bot/" + b.ID())}
		if bs.Description != nil && b.String("description") != *bs.Description {
			ch.Details = append(ch.Details, fmt.Sprintf("description %q -> %q", b.String("description"), *bs.Description))
		}
		if bs.Runtime != nil && b.String("runtimeVersion") != *bs.Runtime {
			ch.Details = append(ch.Details, fmt.Sprintf("runtime %s -> %s", b.String("runtimeVersion"), *bs.Runtime))
		}
		if bs.AccessPolicy != nil {
			if ch.mem == nil {
				p.conflict("%s: bot %q (Bot/%s) has no membership in the project", bs.Path, bs.Name, b.ID())
				continue
			}
			if cur, want := ch.mem.Ref("accessPolicy"), p.resolve(*bs.AccessPolicy); cur != want {
				ch.Details = append(ch.Details, fmt.Sprintf("access policy %s -> %s", p.policyLabel(cur), p.policyLabel(*bs.AccessPolicy)))
			}
		}
		if d := p.st.BotDiffs[b.ID()]; d.source || d.code {
			if d.source {
				ch.Details = append(ch.Details, "source "+bs.Source+" changed")
			}
			if d.code {
				ch.Details = append(ch.Details, "deploy "+bs.codeFile())
				deploys = append(deploys, bs.Name)
			}
		}
		ch.Action = Unchanged
		if len(ch.Details) > 0 {
			ch.Action, ch.phase, ch.do = Update, phaseWrite, updateBot
		}
		p.add(ch)
	}
	n := len(p.plan.Changes)
	p.unlisted(p.st.Bots, matched, "Bot", KindBot, phaseRemoveBots, removeBot)
	for _, ch := range p.plan.Changes[n:] {
		if e := p.st.BotConfig.ByID(ch.res.ID()); ch.Action == Remove && e != nil {
			ch.config = &configStep{entry: e}
			ch.Details = append(ch.Details, "and its entry in "+bot.ConfigFile)
		}
	}
	if features, _ := p.st.Project["features"].([]any); len(deploys) > 0 && !slices.Contains(features, any("bots")) {
		p.conflict("bots: deploying %s needs \"bots\" in the project's features, which only a super admin can add (Medplum answers \"Bots not enabled\")",
			strings.Join(quoted(deploys), ", "))
	}
}

// configStep is what a created or removed bot changes in the working
// directory's medplum.config.json, which apply keeps in step with the
// bots it creates and removes (so that bot deploy '*' finds every bot and
// no deleted one): a new bot's entry is added, or an entry of that name
// without a usable id gets the new id; a removed bot's entry goes.
type configStep struct {
	entry *bot.Entry // the entry to fill in or remove; nil: add one
}

// configOnCreate plans the config entry of a bot apply creates with code,
// when the working directory has a medplum.config.json (an entry needs a
// source file; a bot without one is not added).
func (p *planner) configOnCreate(ch *Change, bs *BotSpec) {
	cfg := p.st.BotConfig
	if cfg == nil || bs.Files == nil {
		return
	}
	for _, e := range cfg.ByName(bs.Name) {
		if e.HasID() && !p.st.GoneBots[e.ID] {
			// The entry names another bot (of this project, or maybe of
			// another): left as it is.
			ch.Details = append(ch.Details, fmt.Sprintf("not added to %s: its entry %q is Bot/%s", bot.ConfigFile, e.Name, e.ID))
			return
		}
	}
	if same := cfg.ByName(bs.Name); len(same) > 0 {
		ch.config = &configStep{entry: same[0]}
		ch.Details = append(ch.Details, "set its id in "+bot.ConfigFile)
		return
	}
	ch.config = &configStep{}
	ch.Details = append(ch.Details, "add it to "+bot.ConfigFile)
}

func quoted(list []string) []string {
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = fmt.Sprintf("%q", s)
	}
	return out
}

func createBot(ctx context.Context, x *executor, c *Change) (string, error) {
	bs := c.spec.(*BotSpec)
	body := map[string]any{"name": bs.Name}
	if bs.Description != nil {
		body["description"] = *bs.Description
	}
	if bs.Runtime != nil {
		body["runtimeVersion"] = *bs.Runtime
	}
	if bs.AccessPolicy != nil && *bs.AccessPolicy != "" {
		body["accessPolicy"] = map[string]any{"reference": x.ref(*bs.AccessPolicy)}
	}
	b, err := x.c.CreateBot(ctx, x.pid, body)
	if err != nil {
		return "", err
	}
	msg := fmt.Sprintf("created bot %q (Bot/%s)", bs.Name, b.ID())
	if cs := c.config; cs != nil {
		// Right after the bot exists, so that a deploy that fails leaves
		// it where bot deploy finds it.
		var err error
		if e := cs.entry; e != nil {
			// The entry's own files stay; only missing ones are filled in.
			source, dist := bs.cfgSource, bs.cfgDist
			if e.Source != "" {
				source, dist = "", ""
			}
			_, err = bot.SetEntry(bot.ConfigFile, e.Index, b.ID(), source, dist)
			msg += ", set its id in " + bot.ConfigFile
		} else {
			err = bot.AppendEntry(bot.ConfigFile, bot.Entry{Name: bs.Name, ID: b.ID(), Source: bs.cfgSource, Dist: bs.cfgDist})
			msg += ", added it to " + bot.ConfigFile
		}
		if err != nil {
			return "", fmt.Errorf("created bot %q (Bot/%s), but writing %s failed: %w", bs.Name, b.ID(), bot.ConfigFile, err)
		}
	}
	if bs.Files != nil {
		if err := bs.Files.Send(ctx, x.c, b.ID(), true, true, bs.Source, bs.codeFile()); err != nil {
			return "", fmt.Errorf("%s, but %w", msg, err)
		}
		msg += ", deployed " + bs.codeFile()
	}
	return msg, nil
}

func updateBot(ctx context.Context, x *executor, c *Change) (string, error) {
	bs := c.spec.(*BotSpec)
	id := c.res.ID()
	var ops []map[string]any
	if bs.Description != nil && c.res.String("description") != *bs.Description {
		ops = append(ops, map[string]any{"op": "add", "path": "/description", "value": *bs.Description})
	}
	if bs.Runtime != nil && c.res.String("runtimeVersion") != *bs.Runtime {
		ops = append(ops, map[string]any{"op": "add", "path": "/runtimeVersion", "value": *bs.Runtime})
	}
	if len(ops) > 0 {
		patch, err := json.Marshal(ops)
		if err != nil {
			return "", err
		}
		if _, err := x.c.Do(ctx, &client.Request{Method: http.MethodPatch, URL: client.ResourceURL("Bot", id),
			Body: patch, ContentType: client.ContentTypeJSONPatch}); err != nil {
			return "", err
		}
	}
	if bs.AccessPolicy != nil && c.mem != nil && c.mem.Ref("accessPolicy") != x.ref(*bs.AccessPolicy) {
		if _, err := x.setMembership(ctx, c.mem.ID(), func(m client.Resource) { setRef(m, "accessPolicy", x.ref(*bs.AccessPolicy)) }); err != nil {
			return "", err
		}
	}
	msg := fmt.Sprintf("updated bot %q (%s)", c.Name, c.ID)
	if d := x.botDiffs[id]; bs.Files != nil && (d.source || d.code) {
		if err := bs.Files.Send(ctx, x.c, id, d.source, d.code, bs.Source, bs.codeFile()); err != nil {
			return "", err
		}
		if d.code {
			msg += ", deployed " + bs.codeFile()
		}
	}
	return msg, nil
}

// changesBots reports whether the plan creates or removes a bot.
func (p *Plan) changesBots() bool {
	for _, c := range p.Changes {
		if c.Kind == KindBot && (c.Action == Create || c.Action == Remove) {
			return true
		}
	}
	return false
}

// deploys lists the bot changes of the plan that send code.
func (p *Plan) deploys() []*Change {
	var out []*Change
	for _, c := range p.Changes {
		bs, ok := c.spec.(*BotSpec)
		if !ok || bs.Files == nil {
			continue
		}
		if c.Action == Create || (c.Action == Update && p.botDiffs[c.res.ID()].code) {
			out = append(out, c)
		}
	}
	return out
}

// checkBotSizes refuses (exit 2, before anything is sent) a plan that
// would deploy code over the server's maxJsonSize (limit): Medplum would
// answer "File too large" half-way through the apply.
func (p *Plan) checkBotSizes(spec *Spec, limit bot.Size) error {
	var problems []string
	for _, c := range p.deploys() {
		bs := c.spec.(*BotSpec)
		if pr := bs.Files.SizeProblem(limit, bs.Source, bs.Dist); pr != nil {
			line := bs.Line
			if l, ok := bs.keyLines[pr.Key]; ok {
				line = l
			}
			problems = append(problems, fmt.Sprintf("%s:%d: %s.%s: %s", spec.File, line, bs.Path, pr.Key, pr.Msg))
		}
	}
	if len(problems) == 0 {
		return nil
	}
	return cmdutil.WithHint(&ConflictError{Problems: problems}, bot.SizeHint)
}

// botWarnings says why Medplum may fail to run code the plan deploys.
func (p *Plan) botWarnings(spec *Spec) []string {
	var out []string
	for _, c := range p.deploys() {
		bs := c.spec.(*BotSpec)
		runtime := ""
		if c.res != nil {
			runtime = c.res.String("runtimeVersion")
		}
		if bs.Runtime != nil {
			runtime = *bs.Runtime
		}
		for _, w := range bs.Files.Warnings(runtime) {
			out = append(out, fmt.Sprintf("%s:%d: bot %q: %s", spec.File, bs.Line, bs.Name, w))
		}
	}
	return out
}

func removeBot(ctx context.Context, x *executor, c *Change) (string, error) {
	if err := x.removeWithMemberships(ctx, "Bot", c.res.ID()); err != nil {
		return "", err
	}
	msg := fmt.Sprintf("removed bot %q (%s) and its membership", c.Name, c.ID)
	if c.config != nil {
		if _, err := bot.RemoveEntries(bot.ConfigFile, c.res.ID()); err != nil {
			return "", fmt.Errorf("%s, but removing its entry from %s failed: %w", msg, bot.ConfigFile, err)
		}
		msg += ", and its entry in " + bot.ConfigFile
	}
	return msg, nil
}
