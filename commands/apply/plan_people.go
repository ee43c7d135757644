package apply

import (
	"fmt"
	"slices"
	"strings"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/commands/membership"
)

// ---- clients

func (p *planner) clients() {
	if !p.spec.ManagesClients {
		return
	}
	byName := map[string][]client.Resource{}
	for _, a := range p.st.Clients {
		byName[a.String("name")] = append(byName[a.String("name")], a)
	}
	matched := map[string]bool{}
	for _, cs := range p.spec.Clients {
		found := byName[cs.Name]
		if len(found) == 0 {
			p.add(&Change{Action: Create, Kind: KindClient, Name: cs.Name, Details: p.newClientDetails(cs),
				phase: phaseWrite, spec: cs, do: createClient})
			continue
		}
		if len(found) > 1 {
			p.conflict("%s: client %q: %d clients of the project have this name (%s); rename or delete all but one", cs.Path, cs.Name, len(found), ids(found))
			continue
		}
		app := found[0]
		matched[app.ID()] = true
		mem := p.membershipOf("ClientApplication/" + app.ID())
		ch := &Change{Kind: KindClient, Name: cs.Name, ID: "ClientApplication/" + app.ID(), spec: cs, res: app, mem: mem}
		if cs.Description != nil && app.String("description") != *cs.Description {
			ch.Details = append(ch.Details, fmt.Sprintf("description %q -> %q", app.String("description"), *cs.Description))
		}
		if mem == nil {
			p.conflict("%s: client %q (ClientApplication/%s) has no membership in the project", cs.Path, cs.Name, app.ID())
			continue
		}
		if cur := membership.IsAdmin(mem); cur != cs.Admin {
			ch.Details = append(ch.Details, fmt.Sprintf("admin %v -> %v", cur, cs.Admin))
			if mem.ID() == p.st.Who.MembershipID && !cs.Admin {
				p.conflict("%s: client %q is the client apply is signed in as: making it a non-admin would cut apply off", cs.Path, cs.Name)
			}
		}
		if cs.AccessPolicy != nil {
			if cur, want := mem.Ref("accessPolicy"), p.resolve(*cs.AccessPolicy); cur != want {
				ch.Details = append(ch.Details, fmt.Sprintf("access policy %s -> %s", p.policyLabel(cur), p.policyLabel(*cs.AccessPolicy)))
			}
		}
		ch.Action = Unchanged
		if len(ch.Details) > 0 {
			ch.Action, ch.phase, ch.do = Update, phaseWrite, updateClient
		}
		p.add(ch)
	}
	p.unlisted(p.st.Clients, matched, "ClientApplication", KindClient, phaseRemoveClients, removeClient)
}

// unlisted adds the project's clients or bots (resources of typ) the file
// does not list: kept when apply is signed in as one, or when it is a
// client the server made (madeByServer), else removed, with their
// memberships, by --prune.
func (p *planner) unlisted(all []client.Resource, matched map[string]bool, typ, kind string, phase int, do step) {
	for _, r := range all {
		if matched[r.ID()] {
			continue
		}
		ref := typ + "/" + r.ID()
		ch := &Change{Kind: kind, Name: r.String("name"), ID: ref, res: r, mem: p.membershipOf(ref)}
		switch {
		case p.st.Who.Profile == ref:
			ch.Action, ch.Note = Keep, "apply is signed in as this "+kind
		case kind == KindClient && madeByServer(r):
			ch.Action, ch.Note = Keep, "made by the server with the project (Project/$init); name it in the file to manage it"
		default:
			ch.Action = WouldRemove
			if p.prune {
				ch.Action, ch.phase, ch.do = Remove, phase, do
			}
			for _, m := range p.byUser[ref] {
				p.removed[m.ID()] = true
			}
		}
		p.add(ch)
	}
}

func (p *planner) newClientDetails(cs *ClientSpec) []string {
	var d []string
	if cs.Admin {
		d = append(d, "admin")
	}
	if cs.AccessPolicy != nil && *cs.AccessPolicy != "" {
		d = append(d, "access policy "+p.policyLabel(*cs.AccessPolicy))
	}
	return d
}

// membershipOf returns the first membership whose user is ref.
func (p *planner) membershipOf(ref string) client.Resource {
	if list := p.byUser[ref]; len(list) > 0 {
		return list[0]
	}
	return nil
}

// ---- members

func isPerson(m client.Resource) bool {
	return slices.Contains(membership.Roles, membership.ProfileType(m))
}

func (p *planner) members() {
	if !p.spec.ManagesMembers {
		return
	}
	byKey := map[string][]client.Resource{}
	for _, m := range p.st.Memberships {
		if !isPerson(m) {
			continue
		}
		for _, k := range membership.MemberKeys(m) {
			byKey[k] = append(byKey[k], m)
		}
	}
	matched := map[string]bool{}
	matchedBy := map[string]string{}
	for _, ms := range p.spec.Members {
		found := byKey[ms.Key]
		where := ms.Where.place()
		if len(found) == 0 {
			p.add(&Change{Action: Create, Kind: KindMember, Name: ms.Label, Details: p.newMemberDetails(ms),
				phase: phaseWrite, spec: ms, do: inviteMember})
			continue
		}
		if len(found) > 1 {
			p.conflict("%s: member %s: %d memberships of the project match (%s)", where, ms.Label, len(found), ids(found))
			continue
		}
		mem := found[0]
		if other, dup := matchedBy[mem.ID()]; dup {
			p.conflict("%s: member %s is the same membership (ProjectMembership/%s) as %s; list it once", where, ms.Label, mem.ID(), other)
			continue
		}
		matched[mem.ID()] = true
		matchedBy[mem.ID()] = where
		if t := membership.ProfileType(mem); t != ms.Invite.ResourceType {
			p.conflict("%s: member %s is a %s in the project but a %s in the file; apply cannot change a member's role (remove the member first)",
				where, ms.Label, t, ms.Invite.ResourceType)
			continue
		}
		ch := &Change{Kind: KindMember, Name: ms.Label, ID: "ProjectMembership/" + mem.ID(), spec: ms, mem: mem, res: mem}
		self := mem.ID() == p.st.Who.MembershipID
		if cur := membership.IsAdmin(mem); cur != ms.Admin && !ms.AdminKept {
			ch.Details = append(ch.Details, fmt.Sprintf("admin %v -> %v", cur, ms.Admin))
			if self && !ms.Admin {
				p.conflict("%s: member %s is who apply is signed in as: making them a non-admin would cut apply off", where, ms.Label)
			}
		}
		if ms.AccessManaged {
			if cur, want := mem.Ref("accessPolicy"), p.resolve(ms.AccessPolicy); cur != want {
				ch.Details = append(ch.Details, fmt.Sprintf("access policy %s -> %s", p.policyLabel(cur), p.policyLabel(ms.AccessPolicy)))
			}
			if cur := membership.Access(mem); !p.sameAccess(cur, ms.Access) {
				ch.Details = append(ch.Details, fmt.Sprintf("access %s -> %s", p.accessLabel(cur), p.accessLabel(ms.Access)))
			}
		}
		if ms.Active != nil {
			if cur := membership.IsActive(mem); cur != *ms.Active {
				ch.Details = append(ch.Details, fmt.Sprintf("active %v -> %v", cur, *ms.Active))
				if self && !*ms.Active {
					p.conflict("%s: member %s is who apply is signed in as: deactivating them would cut apply off", where, ms.Label)
				}
			}
		}
		ch.Action = Unchanged
		if len(ch.Details) > 0 {
			ch.Action, ch.phase, ch.do = Update, phaseWrite, updateMember
		}
		p.add(ch)
	}
	owner := p.st.Project.Ref("owner")
	for _, m := range p.st.Memberships {
		if !isPerson(m) || matched[m.ID()] {
			continue
		}
		ch := &Change{Kind: KindMember, Name: memberLabel(m), ID: "ProjectMembership/" + m.ID(), res: m, mem: m}
		switch {
		case m.ID() == p.st.Who.MembershipID:
			ch.Action, ch.Note = Keep, "apply is signed in as this member"
		case owner != "" && m.Ref("user") == owner:
			ch.Action, ch.Note = Keep, "the project's owner"
		default:
			ch.Action = WouldRemove
			if p.prune {
				ch.Action, ch.phase, ch.do = Remove, phaseRemoveMembers, removeMember
			}
			p.removed[m.ID()] = true
		}
		p.add(ch)
	}
}

// memberLabel names a membership the file does not list: its e-mail, else
// its external id, else its profile.
func memberLabel(m client.Resource) string {
	if u := m.Display("user"); strings.Contains(u, "@") {
		return strings.ToLower(u)
	}
	if x := m.String("externalId"); x != "" {
		return x
	}
	return membership.Describe(m)
}

func (p *planner) newMemberDetails(ms *MemberSpec) []string {
	d := []string{ms.Invite.ResourceType}
	if ms.Admin {
		d = append(d, "admin")
	}
	if ms.AccessPolicy != "" {
		d = append(d, "access policy "+p.policyLabel(ms.AccessPolicy))
	}
	if len(ms.Access) > 0 {
		d = append(d, "access "+p.accessLabel(ms.Access))
	}
	if ms.Active != nil && !*ms.Active {
		d = append(d, "inactive")
	}
	return d
}

// sameAccess compares access entries after resolving the file's policies,
// in order, parameters included.
func (p *planner) sameAccess(cur, want []client.MembershipAccess) bool {
	if len(cur) != len(want) {
		return false
	}
	for i := range cur {
		w := want[i]
		if w.Policy != nil {
			w.Policy = client.Ref(p.resolve(w.Policy.Reference))
		}
		if membership.FormatAccess(cur[i]) != membership.FormatAccess(w) {
			return false
		}
	}
	return true
}

// madeByServer reports whether no person or client made a resource: the
// server wrote it on its own account (meta.author "system", which the
// CLI's X-Medplum: extended requests see), as Project/$init writes the
// project's "<name> Default Client" (capture 193). apply --prune keeps
// such a client unless the file names it: removing it could cut off an
// integration that nobody listed because nobody created it. Once someone
// changes it, it is theirs (meta.author names them) and pruned like any
// other.
func madeByServer(r client.Resource) bool {
	meta, _ := r["meta"].(map[string]any)
	author, _ := meta["author"].(map[string]any)
	return author["reference"] == "system"
}
