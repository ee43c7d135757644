package apply

import (
	"context"
	"fmt"
	"io"
	"reflect"
	"strings"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/commands/cmdutil"
	"github.com/medplumcli/medplum/commands/membership"
)

// Execution order: settings, then the writes in plan order (policies before
// the clients and members that use them), then removals, members and
// clients before the policies they may still use.
const (
	phaseNone = iota
	phaseWrite
	phaseRemoveMembers
	phaseRemoveClients
	phaseRemoveBots
	phaseRemovePolicies
)

// step carries out one change and returns what to report.
type step func(ctx context.Context, x *executor, c *Change) (string, error)

// executor carries out a plan. refs maps the file's policy placeholders to
// server references, for the policies that exist and those just created.
type executor struct {
	c        *client.Client
	pid      string
	refs     map[string]string
	log      io.Writer
	botDiffs map[string]botDiff
}

func newExecutor(c *client.Client, p *Plan, log io.Writer) *executor {
	x := &executor{c: c, pid: p.ProjectID, refs: map[string]string{}, log: log, botDiffs: p.botDiffs}
	for _, ch := range p.Changes {
		if ps, ok := ch.spec.(*PolicySpec); ok && ch.res != nil {
			x.refs[ps.Ref] = "AccessPolicy/" + ch.res.ID()
		}
	}
	return x
}

// ref resolves a file reference to the server's.
func (x *executor) ref(r string) string {
	if s, ok := x.refs[r]; ok {
		return s
	}
	return r
}

// run applies the plan. It stops at the first failure, saying what was
// done; running apply again picks up from there, since the next plan starts
// from what the server then holds.
func (x *executor) run(ctx context.Context, p *Plan) (done int, err error) {
	if p.Settings != nil {
		if err := x.writeSettings(ctx, p); err != nil {
			return 0, x.stopped(0, "writing the project's settings", err)
		}
		n := 0
		for _, ch := range p.Changes {
			if ch.Kind == KindSetting && ch.Pending() {
				n++
			}
		}
		done += n
		fmt.Fprintf(x.log, "wrote the project's settings (%s)\n", cmdutil.Count(n, "change"))
	}
	for _, ch := range sortChanges(p.Changes) {
		if ch.do == nil {
			continue
		}
		msg, err := ch.do(ctx, x, ch)
		if err != nil {
			return done, x.stopped(done, fmt.Sprintf("%s %s %s", verb(ch.Action), ch.Kind, display(ch)), err)
		}
		done++
		fmt.Fprintln(x.log, msg)
	}
	return done, nil
}

func (x *executor) stopped(done int, what string, err error) error {
	return cmdutil.WithHint(fmt.Errorf("apply stopped while %s: %w", what, err),
		fmt.Sprintf("%s made before that; once the cause is fixed, run apply again: it starts from what the server holds now", cmdutil.Count(done, "change")))
}

// writeSettings writes the plan's Project.setting over the version of the
// Project the plan was made from (a JSON Patch that tests it: Medplum 5.0.10
// has no settings route, capture 180). When the Project changed since, the
// write is refused and made again over the newer version if that one's
// settings are still the ones the plan saw (something else changed); if
// the settings changed, apply stops rather than undo someone's change
// without having shown it in the plan.
func (x *executor) writeSettings(ctx context.Context, p *Plan) error {
	version := p.SettingsOf
	for range 5 {
		_, err := x.c.PatchProjectList(ctx, x.pid, version, "setting", p.Settings)
		if !client.IsVersionConflict(err) {
			return err
		}
		now, err := x.c.ReadProject(ctx, x.pid)
		if err != nil {
			return err
		}
		if !sameSettings(client.SettingsList(now.Resource, "setting"), p.SettingsWere) {
			return fmt.Errorf("the project's settings changed since the plan was made, so none were written")
		}
		version = client.VersionID(now.Resource)
	}
	return fmt.Errorf("the project kept changing while its settings were being written, so none were written")
}

// sameSettings compares two Project.setting lists entry by entry.
func sameSettings(a, b []client.Resource) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !reflect.DeepEqual(map[string]any(a[i]), map[string]any(b[i])) {
			return false
		}
	}
	return true
}

func verb(a Action) string {
	switch a {
	case Create:
		return "creating"
	case Update:
		return "updating"
	}
	return "removing"
}

// ---- access policies

func policyBody(ps *PolicySpec) client.Resource {
	r := client.Resource{"resourceType": "AccessPolicy", "name": ps.Name}
	for k, v := range ps.Body {
		r[k] = v
	}
	return r
}

func createPolicy(ctx context.Context, x *executor, c *Change) (string, error) {
	ps := c.spec.(*PolicySpec)
	r, err := x.c.CreateResource(ctx, policyBody(ps))
	if err != nil {
		return "", err
	}
	x.refs[ps.Ref] = "AccessPolicy/" + r.ID()
	return fmt.Sprintf("created access policy %q (AccessPolicy/%s)", ps.Name, r.ID()), nil
}

func updatePolicy(ctx context.Context, x *executor, c *Change) (string, error) {
	body := policyBody(c.spec.(*PolicySpec))
	body["id"] = c.res.ID()
	if _, err := x.c.UpdateResource(ctx, body); err != nil {
		return "", err
	}
	return fmt.Sprintf("updated access policy %q (%s)", c.Name, c.ID), nil
}

func removePolicy(ctx context.Context, x *executor, c *Change) (string, error) {
	if err := ignoreGone(x.c.DeleteResource(ctx, "AccessPolicy", c.res.ID())); err != nil {
		return "", err
	}
	return fmt.Sprintf("removed access policy %q (%s)", c.Name, c.ID), nil
}

// ---- clients

func createClient(ctx context.Context, x *executor, c *Change) (string, error) {
	cs := c.spec.(*ClientSpec)
	body := map[string]any{"name": cs.Name}
	if cs.Description != nil {
		body["description"] = *cs.Description
	}
	if cs.AccessPolicy != nil && *cs.AccessPolicy != "" {
		body["accessPolicy"] = map[string]any{"reference": x.ref(*cs.AccessPolicy)}
	}
	app, err := x.c.CreateClientApplication(ctx, x.pid, body)
	if err != nil {
		return "", err
	}
	if cs.Admin {
		ms, err := x.c.SearchAll(ctx, "ProjectMembership?user=ClientApplication/"+app.ID())
		if err != nil {
			return "", err
		}
		if len(ms) == 0 {
			return "", fmt.Errorf("the server made no membership for ClientApplication/%s", app.ID())
		}
		if _, err := x.setMembership(ctx, ms[0].ID(), func(m client.Resource) { m["admin"] = true }); err != nil {
			return "", err
		}
	}
	return fmt.Sprintf("created client %q (ClientApplication/%s)", cs.Name, app.ID()), nil
}

func updateClient(ctx context.Context, x *executor, c *Change) (string, error) {
	cs := c.spec.(*ClientSpec)
	if cs.Description != nil && c.res.String("description") != *cs.Description {
		app, err := x.c.ReadResource(ctx, client.ResourceURL("ClientApplication", c.res.ID()))
		if err != nil {
			return "", err
		}
		app["description"] = *cs.Description
		if _, err := x.c.UpdateResource(ctx, app); err != nil {
			return "", err
		}
	}
	admin, _ := c.mem.Bool("admin")
	if admin == cs.Admin && (cs.AccessPolicy == nil || c.mem.Ref("accessPolicy") == x.ref(*cs.AccessPolicy)) {
		return fmt.Sprintf("updated client %q (%s)", c.Name, c.ID), nil
	}
	_, err := x.setMembership(ctx, c.mem.ID(), func(m client.Resource) {
		setBool(m, "admin", cs.Admin, false)
		if cs.AccessPolicy != nil {
			setRef(m, "accessPolicy", x.ref(*cs.AccessPolicy))
		}
	})
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("updated client %q (%s)", c.Name, c.ID), nil
}

func removeClient(ctx context.Context, x *executor, c *Change) (string, error) {
	if err := x.removeWithMemberships(ctx, "ClientApplication", c.res.ID()); err != nil {
		return "", err
	}
	return fmt.Sprintf("removed client %q (%s)", c.Name, c.ID), nil
}

// removeWithMemberships deletes a ClientApplication or Bot and its
// memberships first: deleting the resource leaves them behind (capture 117).
func (x *executor) removeWithMemberships(ctx context.Context, typ, id string) error {
	ms, err := x.c.SearchAll(ctx, "ProjectMembership?user="+typ+"/"+id)
	if err != nil {
		return err
	}
	for _, m := range ms {
		if err := ignoreGone(x.c.DeleteResource(ctx, "ProjectMembership", m.ID())); err != nil {
			return err
		}
	}
	return ignoreGone(x.c.DeleteResource(ctx, typ, id))
}

// ---- members

func inviteMember(ctx context.Context, x *executor, c *Change) (string, error) {
	ms := c.spec.(*MemberSpec)
	req := ms.Invite
	tmpl := *req.Membership
	if tmpl.AccessPolicy != nil {
		tmpl.AccessPolicy = client.Ref(x.ref(tmpl.AccessPolicy.Reference))
	}
	tmpl.Access = x.access(tmpl.Access)
	req.Membership = &tmpl
	// An upsert: if the person turned out to be a member after all (the
	// server's e-mail differs in case, say), the membership is updated
	// rather than refused.
	req.Upsert = true
	m, err := x.c.Invite(ctx, x.pid, &req)
	if client.IsPartialSuccess(err) {
		return fmt.Sprintf("invited member %s, but the invitation e-mail failed: %v", ms.Label, err), nil
	}
	if err != nil {
		return "", err
	}
	msg := fmt.Sprintf("invited member %s (ProjectMembership/%s)", ms.Label, m.ID())
	// Given no policy, the server gives a new member the project's default
	// (reference 2.5, step 6). When the file manages the member's access,
	// that is put right now, or the next run would find a change to make.
	if got := accessText(m.Ref("accessPolicy"), membership.Access(m)); ms.AccessManaged && got != accessText(x.ref(ms.AccessPolicy), x.access(ms.Access)) {
		if _, err := x.setMembership(ctx, m.ID(), x.memberChange(ms)); err != nil {
			return "", fmt.Errorf("%s, but setting its access as the file says failed: %w", msg, err)
		}
		msg += fmt.Sprintf(", then set its access as the file says (the server had given it %s)", got)
	}
	return msg, nil
}

// accessText shows a membership's policies, the one accessPolicy first.
func accessText(policy string, access []client.MembershipAccess) string {
	var parts []string
	if policy != "" {
		parts = append(parts, policy)
	}
	for _, a := range access {
		parts = append(parts, membership.FormatAccess(a))
	}
	return strings.Join(parts, ", ")
}

func updateMember(ctx context.Context, x *executor, c *Change) (string, error) {
	ms := c.spec.(*MemberSpec)
	if _, err := x.setMembership(ctx, c.mem.ID(), x.memberChange(ms)); err != nil {
		return "", err
	}
	return fmt.Sprintf("updated member %s (%s)", c.Name, c.ID), nil
}

// memberChange makes a membership what the file says of the member.
func (x *executor) memberChange(ms *MemberSpec) func(client.Resource) {
	return func(m client.Resource) {
		if !ms.AdminKept {
			setBool(m, "admin", ms.Admin, false)
		}
		if ms.AccessManaged {
			setRef(m, "accessPolicy", x.ref(ms.AccessPolicy))
			if acc := x.access(ms.Access); len(acc) > 0 {
				m["access"] = acc
			} else {
				delete(m, "access")
			}
		}
		if ms.Active != nil {
			setBool(m, "active", *ms.Active, true)
		}
	}
}

func removeMember(ctx context.Context, x *executor, c *Change) (string, error) {
	if err := ignoreGone(x.c.DeleteMembership(ctx, x.pid, c.mem.ID())); err != nil {
		return "", err
	}
	return fmt.Sprintf("removed member %s (%s)", c.Name, c.ID), nil
}

// access resolves the policies of access entries (a copy).
func (x *executor) access(list []client.MembershipAccess) []client.MembershipAccess {
	if list == nil {
		return nil
	}
	out := make([]client.MembershipAccess, len(list))
	for i, a := range list {
		out[i] = a
		if a.Policy != nil {
			out[i].Policy = client.Ref(x.ref(a.Policy.Reference))
		}
	}
	return out
}

// setMembership reads a membership through the admin route, changes it and
// writes the whole of it back.
func (x *executor) setMembership(ctx context.Context, id string, change func(client.Resource)) (client.Resource, error) {
	m, err := x.c.GetMembership(ctx, x.pid, id)
	if err != nil {
		return nil, err
	}
	change(m)
	d, err := x.c.UpdateMembership(ctx, x.pid, m)
	return d.Resource, err
}

// setBool sets a boolean field to want when it differs, counting an absent
// field as def: an unchanged value is left exactly as the server has it.
func setBool(m client.Resource, key string, want, def bool) {
	cur, ok := m.Bool(key)
	if !ok {
		cur = def
	}
	if cur != want {
		m[key] = want
	}
}

// setRef sets a Reference field, or removes it for "".
func setRef(m client.Resource, key, ref string) {
	if ref == "" {
		delete(m, key)
		return
	}
	m[key] = map[string]any{"reference": ref}
}

func ignoreGone(err error) error {
	if client.StatusOf(err) == 410 {
		return nil
	}
	return err
}
