package bulk

import (
	"fmt"
	"slices"
	"strings"
)

// accessType reports the types that grant access to a project or hold
// secrets: a whole-project export has them (its Project, memberships,
// users, clients with their secrets, password-reset requests), and
// importing them into another project is either refused by Medplum or
// unsafe. On 5.0.10 a project
// admin's POST of a Project is 403 and of a ProjectMembership 400 (the
// server drops the project and user it was given: captures 419, 420); a
// User without a membership cannot sign in, and a UserSecurityRequest is a
// one-time secret of a user of the old project; Login, JsonWebKey,
// DomainConfiguration and SmartAppLaunch are the super admin's. A
// ClientApplication is accepted with the secret it holds (418): imported
// only with --include-clients. (A switch, not a map: nothing to build at
// every start.)
func accessType(typ string) bool {
	switch typ {
	case "Project", "ProjectMembership", "User", "ClientApplication", "UserSecurityRequest",
		"Login", "JsonWebKey", "DomainConfiguration", "SmartAppLaunch":
		return true
	}
	return false
}

// skipped reports whether the import leaves a type out.
func (o *ImportOptions) skipped(typ string) bool {
	return accessType(typ) && !(o.IncludeClients && typ == "ClientApplication")
}

// reportSkipped says on stderr what was left out and why, and how to move
// people and clients instead; with --include-clients, that the clients
// come with their secrets.
func (o *ImportOptions) reportSkipped(in *checked) {
	w := o.IO.ErrOut
	if len(in.Skipped) > 0 {
		types := make([]string, 0, len(in.Skipped))
		total := 0
		for t, n := range in.Skipped {
			types = append(types, t)
			total += n
		}
		slices.Sort(types)
		for i, t := range types {
			types[i] = fmt.Sprintf("%d %s", in.Skipped[t], t)
		}
		noun := "resources that grant access or hold secrets were"
		if total == 1 {
			noun = "resource that grants access or holds secrets was"
		}
		fmt.Fprintf(w, "medplum: %d %s not imported: %s\n", total, noun, strings.Join(types, ", "))
		how := `medplum: move people with "medplum invite" and clients with "medplum clients create" (or both: "medplum apply export" in the old project, "medplum apply -f" in this one)`
		if in.Skipped["ClientApplication"] > 0 {
			how += "; --include-clients imports ClientApplications as they are, secrets included"
		}
		fmt.Fprintln(w, how)
	}
	if n := in.Types["ClientApplication"]; o.IncludeClients && n > 0 {
		what := "ClientApplications keep the secrets they had in the old project: give them new ones"
		if n == 1 {
			what = "ClientApplication keeps the secret it had in the old project: give it a new one"
		}
		fmt.Fprintf(w, "medplum: warning: %d imported %s with \"medplum clients rotate-secret\"\n", n, what)
	}
}
