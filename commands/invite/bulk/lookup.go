package bulk

import (
	"context"
	"time"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/commands/membership"
)

// lookup finds the membership an invite of req made or found in the
// project, or nil when there is none. It never guesses: nil means the
// server answered that there is no such membership (see
// membership.FindInvited, shared with the single invite).
func (r *runner) lookup(ctx context.Context, req client.InviteRequest) (client.Resource, error) {
	t0 := time.Now()
	d, err := membership.FindInvited(ctx, r.cfg.Client, r.cfg.Project, &req)
	r.observe(t0, err)
	if d == nil || err != nil {
		return nil, err
	}
	return d.Resource, nil
}
