package membership

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/commands/cmdutil"
)

// PolicyHelp says, for help texts, how a command takes an access policy.
const PolicyHelp = `an access policy of the project: its name, its id, or AccessPolicy/<id>`

// ResolvePolicyFlag turns --access-policy (a name, an id or
// AccessPolicy/<id>) into the reference of one of the project's policies,
// for a command that creates something with it (bot create, clients
// create): a value that names none is exit 2, before anything is written.
func ResolvePolicyFlag(ctx context.Context, c *client.Client, project, value string) (string, error) {
	ref, problem, err := NewPolicies(c, project).Resolve(ctx, value)
	switch {
	case err != nil:
		return "", err
	case problem != "":
		return "", cmdutil.InputErrorf("--access-policy %s: %s; nothing was created", value, problem)
	}
	return ref, nil
}

// Policies finds the access policies a user names (invite's --access-policy
// and --access, an invite CSV's accessPolicy column, members set-access,
// the policies an apply file names by id) among the project's, before
// anything is written: Medplum 5.0.10 does not check membership.accessPolicy
// (capture 204) nor a membership posted back (213), so a policy that does
// not exist would be written and leave the member pointing at nothing.
// Each distinct value is looked up once.
type Policies struct {
	c       *client.Client
	project string
	mu      sync.Mutex // Resolve and Label may be called from several goroutines
	known   map[string]policyResult
	names   map[string]string // AccessPolicy/<id> -> name, of the policies seen
}

type policyResult struct {
	ref, problem string
	missing      bool // the server has no such policy (for the caller)
	err          error
}

// NewPolicies looks policies up in project.
func NewPolicies(c *client.Client, project string) *Policies {
	return &Policies{c: c, project: project, known: map[string]policyResult{}, names: map[string]string{}}
}

// Add records a policy already read (a search of the project's policies),
// so that a reference to it is not read again.
func (p *Policies) Add(policy client.Resource) {
	p.mu.Lock()
	defer p.mu.Unlock()
	ref := "AccessPolicy/" + policy.ID()
	p.known[ref] = p.check(ref, policy)
}

// Label shows a policy as apply's plans do: its name, quoted, read once
// when it was not seen yet; its reference when it cannot be read.
func (p *Policies) Label(ctx context.Context, ref string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n, ok := p.names[ref]; ok {
		return n
	}
	label := ref
	if pol, err := p.c.ReadResource(ctx, ref); err == nil && pol.String("name") != "" {
		label = strconv.Quote(pol.String("name"))
	}
	p.names[ref] = label
	return label
}

// Missing reports whether value, once resolved, named a policy the server
// does not have (rather than an ambiguous name or another project's).
func (p *Policies) Missing(value string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.known[strings.TrimSpace(value)].missing
}

// Resolve turns what the user wrote into the reference of a policy of the
// project: AccessPolicy/<id> must exist there; a bare value is a policy's
// name (name:exact), else its id. problem says why value names no policy
// of the project (exit 2 for the caller: nothing was sent); err is a
// failure to ask the server.
func (p *Policies) Resolve(ctx context.Context, value string) (ref, problem string, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	value = strings.TrimSpace(value)
	if r, ok := p.known[value]; ok {
		return r.ref, r.problem, r.err
	}
	r := p.resolve(ctx, value)
	if r.err == nil || ctx.Err() == nil {
		p.known[value] = r
	}
	return r.ref, r.problem, r.err
}

func (p *Policies) resolve(ctx context.Context, value string) policyResult {
	switch {
	case value == "":
		return policyResult{problem: "no access policy given"}
	case strings.HasPrefix(value, "AccessPolicy/"):
		ref, ok := TypedRef(value, "AccessPolicy")
		if !ok {
			return policyResult{problem: fmt.Sprintf("not an access policy: %q (want a name, an id or AccessPolicy/<id>)", value)}
		}
		return p.read(ctx, ref)
	}
	found, err := p.named(ctx, value)
	if err != nil {
		return policyResult{err: err}
	}
	switch len(found) {
	case 1:
		ref := "AccessPolicy/" + found[0].ID()
		p.names[ref] = strconv.Quote(found[0].String("name"))
		return policyResult{ref: ref}
	case 0:
	default:
		refs := make([]string, len(found))
		for i, f := range found {
			refs[i] = "AccessPolicy/" + f.ID()
		}
		return policyResult{problem: fmt.Sprintf("%d access policies of the project are named %q (%s); give the id of one",
			len(found), value, strings.Join(refs, ", "))}
	}
	ref, ok := TypedRef(value, "AccessPolicy")
	if !ok {
		return policyResult{problem: fmt.Sprintf("no access policy named %q in the project", value), missing: true}
	}
	if r := p.read(ctx, ref); !r.missing {
		return r
	}
	return policyResult{problem: fmt.Sprintf("no access policy named %q, nor with that id, in the project", value), missing: true}
}

// read checks that the policy ref exists and belongs to the project.
func (p *Policies) read(ctx context.Context, ref string) policyResult {
	if r, ok := p.known[ref]; ok {
		return r
	}
	pol, err := p.c.ReadResource(ctx, ref)
	switch s := client.StatusOf(err); {
	case s == 404 || s == 410:
		// A project admin does not see other projects' policies: 404 too
		// (capture 214).
		return policyResult{problem: fmt.Sprintf("no access policy %s in the project", ref), missing: true}
	case err != nil:
		return policyResult{err: err}
	}
	r := p.check(ref, pol)
	p.known[ref] = r
	return r
}

func (p *Policies) check(ref string, pol client.Resource) policyResult {
	if n := pol.String("name"); n != "" {
		p.names[ref] = strconv.Quote(n)
	}
	if mp := MetaProject(pol); mp != "" && mp != p.project {
		return policyResult{problem: fmt.Sprintf("%s belongs to another project (%s)", ref, mp)}
	}
	return policyResult{ref: ref}
}

// named finds the project's policies with this exact name (capture 200).
// A super admin's search covers every project: others are left out.
func (p *Policies) named(ctx context.Context, name string) ([]client.Resource, error) {
	q := url.Values{"name:exact": {name}, "_count": {"20"}}
	var out []client.Resource
	for d, err := range Search(ctx, p.c, "AccessPolicy", q, maxCandidates) {
		if err != nil {
			return nil, err
		}
		if mp := MetaProject(d.Resource); mp == "" || mp == p.project {
			out = append(out, d.Resource)
		}
	}
	return out, nil
}

// MetaProject is meta.project: the project a resource belongs to ("" when
// the server does not say).
func MetaProject(r client.Resource) string {
	meta, _ := r["meta"].(map[string]any)
	s, _ := meta["project"].(string)
	return s
}
