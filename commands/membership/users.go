package membership

import (
	"context"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/medplumcli/medplum/client"
)

// What a caller can know of a member's User and its UserSecurityRequests
// (captures 140-146, 164-168): a project admin reads the User of a
// project-scoped member (e-mail, mfaEnrolled; never passwordHash or
// mfaSecret) and its security requests; a server-scoped member's User and
// requests are a 404 and an empty search to them, and only a super admin
// reads them. Nothing here guesses: what cannot be read says why.

// UserHidden is why a project admin knows nothing of a member's User:
// 5.0.10 answers 404 to them both for a server-scoped User and for a
// deleted one (captures 212, 523b; 410 only for a deleted project-scoped
// User, 523e, which a search leaves out like the others), so it says both.
const UserHidden = "server-scoped user (only a super admin can read it) or a deleted User"

// UserBatch is how many Users (or their security requests) one search asks
// for: POST <type>/_search keeps the ids out of the URL.
const UserBatch = 1000

// ReadUsers reads the Users of refs ("User/<id>"; others are ignored) the
// caller can see, by id, in searches of at most UserBatch ids. A User the
// answer leaves out is one the caller cannot read (a server-scoped user, to
// a project admin) or that does not exist.
func ReadUsers(ctx context.Context, c *client.Client, refs []string) (map[string]client.Resource, error) {
	out := map[string]client.Resource{}
	ids := refIDs("User", refs)
	for start := 0; start < len(ids); start += UserBatch {
		batch := ids[start:min(start+UserBatch, len(ids))]
		form := url.Values{"_id": {strings.Join(batch, ",")}, "_count": {strconv.Itoa(len(batch))}}
		for d, err := range c.SearchPost(ctx, "User", form) {
			if err != nil {
				return nil, err
			}
			if d.ResourceType() == "User" {
				out["User/"+d.ID()] = d.Resource
			}
		}
	}
	return out, nil
}

// SecurityRequests reads the UserSecurityRequests of the users refs
// ("User/<id>"), keyed by the user reference, oldest first.
func SecurityRequests(ctx context.Context, c *client.Client, refs []string) (map[string][]client.Resource, error) {
	out := map[string][]client.Resource{}
	ids := refIDs("User", refs)
	for start := 0; start < len(ids); start += UserBatch {
		batch := ids[start:min(start+UserBatch, len(ids))]
		users := make([]string, len(batch))
		for i, id := range batch {
			users[i] = "User/" + id
		}
		form := url.Values{"user": {strings.Join(users, ",")}, "_count": {strconv.Itoa(UserBatch)}}
		for d, err := range c.SearchPost(ctx, "UserSecurityRequest", form) {
			if err != nil {
				return nil, err
			}
			if u := d.Ref("user"); d.ResourceType() == "UserSecurityRequest" && u != "" {
				out[u] = append(out[u], d.Resource)
			}
		}
	}
	for _, reqs := range out {
		sort.SliceStable(reqs, func(i, j int) bool { return LastUpdated(reqs[i]).Before(LastUpdated(reqs[j])) })
	}
	return out, nil
}

// Invite is the state of a user's invitation, from their security requests.
type Invite struct {
	// Pending: an invite request the user has not used, and no request
	// (invite or password reset) used since: they have never set a
	// password through a link. (A user invited with a password, or given
	// one with admin/projects/setpassword, can sign in all the same: the
	// server does not mark the invite used then.)
	Pending bool
	// Since is when the pending invite was made.
	Since time.Time
	// Request is the pending invite (its id and secret make the link).
	Request client.Resource
}

// InviteOf reads the invite state out of a user's security requests (oldest
// first): pending when the newest invite is unused and no request was used.
func InviteOf(reqs []client.Resource) Invite {
	var inv Invite
	for _, r := range reqs {
		if used, _ := r.Bool("used"); used {
			return Invite{}
		}
		if r.String("type") == "invite" {
			inv = Invite{Pending: true, Since: LastUpdated(r), Request: r}
		}
	}
	return inv
}

// UserChanged says when user (the invited User, as read) changed after the
// invite was made. It is the only sign 5.0.10 gives of a password set
// another way: admin/projects/setpassword writes a new User version and
// leaves the invite unused (captures 232b, 232c); an invite with a password
// leaves no sign at all (149).
func (inv Invite) UserChanged(user client.Resource) (time.Time, bool) {
	at := LastUpdated(user)
	return at, inv.Pending && !inv.Since.IsZero() && at.After(inv.Since)
}

// LastUpdated is a resource's meta.lastUpdated (zero when absent or
// malformed).
func LastUpdated(r client.Resource) time.Time {
	meta, _ := r["meta"].(map[string]any)
	s, _ := meta["lastUpdated"].(string)
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t
}

// refIDs returns the distinct ids of the references to typ, in order.
func refIDs(typ string, refs []string) []string {
	seen := map[string]bool{}
	var ids []string
	for _, r := range refs {
		t, id, ok := client.SplitReference(r)
		if ok && t == typ && !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	return ids
}
